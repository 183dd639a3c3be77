"""Stories of allocations: per consumer, bulk, consumer generations and types,
capacity, usages, and the no-overcommit property under concurrent claims."""

from __future__ import annotations

import asyncio
import uuid

from tests.api.placement.conftest import PROJECT, USER, error_code


async def test_claim_read_and_release(placement):
    rp = await placement.provider("host", VCPU=8, MEMORY_MB=4096)
    consumer = str(uuid.uuid4())
    await placement.claim(consumer, {rp["uuid"]: {"VCPU": 2, "MEMORY_MB": 512}})
    body = (await placement.get(f"/allocations/{consumer}")).json()
    assert body["allocations"][rp["uuid"]]["resources"] == {"VCPU": 2, "MEMORY_MB": 512}
    assert body["consumer_generation"] == 1 and body["consumer_type"] == "INSTANCE"
    assert body["project_id"] == PROJECT
    listed = (await placement.get(f"/resource_providers/{rp['uuid']}/allocations")).json()
    assert consumer in listed["allocations"]
    stale = await placement.put(f"/allocations/{consumer}", json={
        "allocations": {rp["uuid"]: {"resources": {"VCPU": 1}}}, "project_id": PROJECT,
        "user_id": USER, "consumer_generation": None, "consumer_type": "INSTANCE"})
    assert stale.status_code == 409 and error_code(stale) == "placement.concurrent_update"
    await placement.claim(consumer, {rp["uuid"]: {"VCPU": 1}}, generation=1)
    usages = (await placement.get(f"/resource_providers/{rp['uuid']}/usages")).json()
    assert usages["usages"] == {"VCPU": 1, "MEMORY_MB": 0}
    assert (await placement.delete(f"/allocations/{consumer}")).status_code == 204
    assert (await placement.delete(f"/allocations/{consumer}")).status_code == 404


async def test_consumer_type_required_from_1_38(placement):
    rp = await placement.provider("typed", VCPU=8)
    body = {"allocations": {rp["uuid"]: {"resources": {"VCPU": 1}}}, "project_id": PROJECT,
            "user_id": USER, "consumer_generation": None}
    consumer = str(uuid.uuid4())
    assert (await placement.put(f"/allocations/{consumer}", json=body)).status_code == 400
    assert (await placement.put(f"/allocations/{consumer}", json=body,
                                version="1.37")).status_code == 204
    usage = await placement.get(f"/usages?project_id={PROJECT}")
    assert usage.json()["usages"]["unknown"]["VCPU"] == 1
    flat = await placement.get(f"/usages?project_id={PROJECT}", version="1.37")
    assert flat.json() == {"usages": {"VCPU": 1}}


async def test_capacity_is_checked(placement):
    rp = await placement.provider("small", VCPU=4)
    await placement.claim(str(uuid.uuid4()), {rp["uuid"]: {"VCPU": 3}})
    response = await placement.claim(str(uuid.uuid4()), {rp["uuid"]: {"VCPU": 2}},
                                     status=409)
    assert "capacity" in response.json()["errors"][0]["detail"]
    await placement.claim(str(uuid.uuid4()), {rp["uuid"]: {"MEMORY_MB": 2}}, status=409)


async def test_allocation_ratio_and_reserved(placement):
    rp = await placement.provider("ratio")
    response = await placement.put(f"/resource_providers/{rp['uuid']}/inventories", json={
        "resource_provider_generation": 0, "inventories": {
            "VCPU": {"total": 4, "reserved": 1, "allocation_ratio": 2.0}}})
    assert response.status_code == 200
    await placement.claim(str(uuid.uuid4()), {rp["uuid"]: {"VCPU": 6}})
    await placement.claim(str(uuid.uuid4()), {rp["uuid"]: {"VCPU": 1}}, status=409)


async def test_list_shape_before_1_12(placement):
    rp = await placement.provider("legacy", VCPU=4)
    consumer = str(uuid.uuid4())
    response = await placement.put(f"/allocations/{consumer}", version="1.8", json={
        "allocations": [{"resource_provider": {"uuid": rp["uuid"]}, "resources": {"VCPU": 1}}],
        "project_id": PROJECT, "user_id": USER})
    assert response.status_code == 204
    old = (await placement.get(f"/allocations/{consumer}", version="1.11")).json()
    assert "project_id" not in old


async def test_bulk_post_allocations(placement):
    rp = await placement.provider("bulk", VCPU=4)
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    item = {"allocations": {rp["uuid"]: {"resources": {"VCPU": 2}}}, "project_id": PROJECT,
            "user_id": USER, "consumer_generation": None, "consumer_type": "INSTANCE"}
    assert (await placement.post("/allocations", json={one: item, two: item})).status_code \
        == 204
    three = await placement.post("/allocations", json={str(uuid.uuid4()): item})
    assert three.status_code == 409
    assert (await placement.post("/allocations", json={}, version="1.12")).status_code == 404


async def test_concurrent_claims_never_overcommit(placement):
    """64 claims of 1 VCPU race for 10 VCPUs: exactly 10 win, the rest get 409."""
    rp = await placement.provider("contended", VCPU=10)

    async def claim() -> int:
        response = await placement.put(f"/allocations/{uuid.uuid4()}", json={
            "allocations": {rp["uuid"]: {"resources": {"VCPU": 1}}}, "project_id": PROJECT,
            "user_id": USER, "consumer_generation": None, "consumer_type": "INSTANCE"})
        return response.status_code

    statuses = await asyncio.gather(*(claim() for _ in range(64)))
    assert statuses.count(204) == 10 and statuses.count(409) == 54
    usages = (await placement.get(f"/resource_providers/{rp['uuid']}/usages")).json()
    assert usages["usages"]["VCPU"] == 10
    assert usages["resource_provider_generation"] == 1 + 10
