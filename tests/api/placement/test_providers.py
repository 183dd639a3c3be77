"""Stories of resource providers, inventories, classes, traits and aggregates."""

from __future__ import annotations

import uuid

from tests.api.placement.conftest import error_code


async def test_root_document_is_public(placement):
    response = await placement.get("/", token="")
    assert response.status_code == 200
    version = response.json()["versions"][0]
    assert (version["min_version"], version["max_version"]) == ("1.0", "1.39")


async def test_admin_token_required(placement, cloud):
    assert (await placement.get("/resource_providers", token="")).status_code == 401
    assert (await placement.get("/resource_providers", token="bogus")).status_code == 401


async def test_unsupported_microversion_is_406(placement):
    response = await placement.get("/resource_providers", version="1.40")
    assert response.status_code == 406


async def test_provider_lifecycle(placement):
    rp = await placement.provider("compute-1")
    assert rp["generation"] == 0 and rp["root_provider_uuid"] == rp["uuid"]
    response = await placement.get("/resource_providers?name=compute-1")
    assert [p["uuid"] for p in response.json()["resource_providers"]] == [rp["uuid"]]
    response = await placement.put(f"/resource_providers/{rp['uuid']}", json={"name": "c-1"})
    assert response.status_code == 200 and response.json()["name"] == "c-1"
    duplicate = await placement.post("/resource_providers", json={"name": "c-1"})
    assert duplicate.status_code == 409 and error_code(duplicate) == "placement.duplicate_name"
    assert (await placement.delete(f"/resource_providers/{rp['uuid']}")).status_code == 204
    missing = await placement.get(f"/resource_providers/{rp['uuid']}")
    assert missing.status_code == 404
    assert error_code(missing) == "placement.resource_provider.not_found"


async def test_create_before_1_20_answers_201_without_body(placement):
    response = await placement.post("/resource_providers", json={"name": "old"},
                                    version="1.19")
    assert response.status_code == 201 and response.content == b""
    assert response.headers["location"].startswith("/resource_providers/")


async def test_error_code_only_from_1_23(placement):
    missing = f"/resource_providers/{uuid.uuid4()}"
    assert "code" not in (await placement.get(missing, version="1.22")).json()["errors"][0]
    assert "code" in (await placement.get(missing, version="1.23")).json()["errors"][0]


async def test_nested_tree_and_parent_rules(placement):
    root = await placement.provider("root")
    child = await placement.provider("child", parent=root["uuid"])
    assert child["root_provider_uuid"] == root["uuid"]
    tree = await placement.get(f"/resource_providers?in_tree={child['uuid']}")
    assert {p["uuid"] for p in tree.json()["resource_providers"]} == {root["uuid"],
                                                                      child["uuid"]}
    response = await placement.delete(f"/resource_providers/{root['uuid']}")
    assert response.status_code == 409
    assert error_code(response) == "placement.resource_provider.cannot_delete_parent"
    old = await placement.get(f"/resource_providers/{root['uuid']}", version="1.13")
    assert "parent_provider_uuid" not in old.json()


async def test_inventories_and_generation_conflict(placement):
    rp = await placement.provider("inv")
    body = await placement.inventories(rp["uuid"], VCPU=16, DISK_GB=100)
    assert body["resource_provider_generation"] == 1
    stale = await placement.put(f"/resource_providers/{rp['uuid']}/inventories", json={
        "resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4}}})
    assert stale.status_code == 409 and error_code(stale) == "placement.concurrent_update"
    one = await placement.get(f"/resource_providers/{rp['uuid']}/inventories/VCPU")
    assert one.json()["total"] == 16 and one.json()["allocation_ratio"] == 1.0
    bad = await placement.put(f"/resource_providers/{rp['uuid']}/inventories", json={
        "resource_provider_generation": 1, "inventories": {"VCPU": {"total": 0}}})
    assert bad.status_code == 400
    unknown = await placement.put(f"/resource_providers/{rp['uuid']}/inventories", json={
        "resource_provider_generation": 1, "inventories": {"CUSTOM_NOPE": {"total": 1}}})
    assert unknown.status_code == 400


async def test_inventory_in_use_cannot_be_removed(placement):
    rp = await placement.provider("busy", VCPU=4)
    await placement.claim(str(uuid.uuid4()), {rp["uuid"]: {"VCPU": 1}})
    response = await placement.delete(f"/resource_providers/{rp['uuid']}/inventories")
    assert response.status_code == 409 and error_code(response) == "placement.inventory.inuse"
    response = await placement.delete(f"/resource_providers/{rp['uuid']}")
    assert response.status_code == 409
    assert error_code(response) == "placement.resource_provider.inuse"


async def test_resource_classes(placement):
    names = [c["name"] for c in (await placement.get("/resource_classes")).json()[
        "resource_classes"]]
    assert {"VCPU", "MEMORY_MB", "DISK_GB", "VGPU", "IPV4_ADDRESS"} <= set(names)
    assert (await placement.put("/resource_classes/CUSTOM_GOLD")).status_code == 201
    assert (await placement.put("/resource_classes/CUSTOM_GOLD")).status_code == 204
    bad = await placement.post("/resource_classes", json={"name": "GOLD"})
    assert bad.status_code == 400
    assert (await placement.delete("/resource_classes/VCPU")).status_code == 400
    rp = await placement.provider("gold", CUSTOM_GOLD=2)
    assert (await placement.delete("/resource_classes/CUSTOM_GOLD")).status_code == 409
    await placement.delete(f"/resource_providers/{rp['uuid']}")
    assert (await placement.delete("/resource_classes/CUSTOM_GOLD")).status_code == 204


async def test_traits(placement):
    assert (await placement.put("/traits/CUSTOM_FAST")).status_code == 201
    assert (await placement.put("/traits/CUSTOM_FAST")).status_code == 204
    assert (await placement.put("/traits/FAST")).status_code == 400
    listed = await placement.get("/traits?name=startswith:HW_CPU_X86")
    assert "HW_CPU_X86_AVX2" in listed.json()["traits"]
    rp = await placement.provider("traited")
    response = await placement.put(f"/resource_providers/{rp['uuid']}/traits", json={
        "resource_provider_generation": 0, "traits": ["CUSTOM_FAST", "STORAGE_DISK_SSD"]})
    assert response.status_code == 200 and response.json()["resource_provider_generation"] == 1
    assert (await placement.delete("/traits/CUSTOM_FAST")).status_code == 409
    assert (await placement.get("/traits?associated=true")).json()["traits"] == [
        "CUSTOM_FAST", "STORAGE_DISK_SSD"]
    assert (await placement.get("/traits", version="1.5")).status_code == 404
    found = await placement.get("/resource_providers?required=CUSTOM_FAST")
    assert len(found.json()["resource_providers"]) == 1
    found = await placement.get("/resource_providers?required=!CUSTOM_FAST")
    assert found.json()["resource_providers"] == []


async def test_aggregates_by_microversion(placement):
    rp = await placement.provider("agg")
    agg = str(uuid.uuid4())
    old = await placement.put(f"/resource_providers/{rp['uuid']}/aggregates", json=[agg],
                              version="1.18")
    assert old.status_code == 200 and old.json() == {"aggregates": [agg]}
    new = await placement.put(f"/resource_providers/{rp['uuid']}/aggregates", json={
        "aggregates": [], "resource_provider_generation": 0})
    assert new.status_code == 409
    new = await placement.put(f"/resource_providers/{rp['uuid']}/aggregates", json={
        "aggregates": [agg], "resource_provider_generation": 1})
    assert new.json()["resource_provider_generation"] == 2
    members = await placement.get(f"/resource_providers?member_of={agg}")
    assert len(members.json()["resource_providers"]) == 1
