"""Host aggregates: create, show, update, metadata, hosts and delete as Nova answers
them, the zone rules (a host in one zone only, instances never change zone), the
mirror of membership into placement, and image caching (2.81)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.api.compute.boot import boot, kit, make_image, wait_status
from tests.api.compute.conftest import Nova, Tenants
from tests.api.compute.test_services import compute_services, hosts_cloud

FIELDS = {"id", "name", "availability_zone", "created_at", "updated_at", "deleted_at",
          "deleted", "hosts", "metadata"}


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for built in hosts_cloud(tmp_path):
        yield built


async def create(api: Nova, name: str, zone: str | None = None,
                 version: str = "2.1") -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if zone is not None:
        body["availability_zone"] = zone
    reply = await api.post("/os-aggregates", json={"aggregate": body}, version=version)
    assert reply.status_code == 200, reply.text
    return reply.json()["aggregate"]


async def act(api: Nova, aggregate_id: int, action: str, **body: Any) -> Any:
    return await api.post(f"/os-aggregates/{aggregate_id}/action", json={action: body})


def provider_aggregates(api: Nova, host: str) -> set[str]:
    store = api.cloud.services["placement"].store
    (provider,) = [p for p in store.providers.values() if p.name == host]
    return set(provider.aggregates)


async def test_create_list_show(compute: Nova) -> None:
    created = await create(compute, "fast", zone="az1")
    assert set(created) == FIELDS - {"hosts", "metadata"}
    assert (created["name"], created["availability_zone"]) == ("fast", "az1")
    assert (created["deleted"], created["deleted_at"], created["updated_at"]) == \
        (False, None, None)
    assert created["created_at"].count(".") == 1
    plain = await create(compute, "plain", version="2.41")
    assert plain["name"] == "plain" and plain["availability_zone"] is None
    assert uuid.UUID(plain["uuid"])

    listed = (await compute.get("/os-aggregates")).json()["aggregates"]
    assert [a["name"] for a in listed] == ["fast", "plain"]
    assert all(set(a) == FIELDS for a in listed)
    assert listed[0]["metadata"] == {"availability_zone": "az1"}
    shown = (await compute.get(f"/os-aggregates/{created['id']}", version="2.41")).json()
    assert set(shown["aggregate"]) == FIELDS | {"uuid"}
    assert shown["aggregate"]["hosts"] == []

    not_int = await compute.get("/os-aggregates/abc")
    assert not_int.status_code == 400
    assert not_int.json()["badRequest"]["message"] == \
        "Invalid input received: id must be an integer"
    missing = await compute.get("/os-aggregates/999")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Aggregate 999 could not be found."


async def test_create_rejects_duplicates_and_bad_names(compute: Nova) -> None:
    await create(compute, "dup")
    again = await compute.post("/os-aggregates", json={"aggregate": {"name": "dup"}})
    assert again.status_code == 409
    assert again.json()["conflictingRequest"]["message"] == "Aggregate dup already exists."
    for body in ({"name": ""}, {"name": "x" * 256}, {"name": " lead"}, {},
                 {"name": "ok", "availability_zone": "a:b"},
                 {"name": "ok", "availability_zone": ""}, {"name": "ok", "extra": 1}):
        bad = await compute.post("/os-aggregates", json={"aggregate": body})
        assert bad.status_code == 400, body


async def test_update_name_and_zone(compute: Nova) -> None:
    agg = await create(compute, "one")
    await create(compute, "two")
    renamed = await compute.put(f"/os-aggregates/{agg['id']}",
                                json={"aggregate": {"name": " uno "}})
    assert renamed.status_code == 200
    assert renamed.json()["aggregate"]["name"] == "uno"
    assert renamed.json()["aggregate"]["updated_at"] is not None
    zoned = (await compute.put(f"/os-aggregates/{agg['id']}", json={"aggregate": {
        "availability_zone": "az9"}})).json()["aggregate"]
    assert (zoned["availability_zone"], zoned["metadata"]) == \
        ("az9", {"availability_zone": "az9"})

    taken = await compute.put(f"/os-aggregates/{agg['id']}",
                              json={"aggregate": {"name": "two"}})
    assert taken.status_code == 409
    assert taken.json()["conflictingRequest"]["message"] == "Aggregate two already exists."
    unzoned = await compute.put(f"/os-aggregates/{agg['id']}",
                                json={"aggregate": {"availability_zone": None}})
    assert unzoned.status_code == 400
    assert unzoned.json()["badRequest"]["message"] == (
        f"Cannot update aggregate {agg['id']}. Reason: Aggregate uno does not support "
        "empty named availability zone.")
    assert (await compute.put(f"/os-aggregates/{agg['id']}",
                              json={"aggregate": {}})).status_code == 400
    assert (await compute.put("/os-aggregates/999",
                              json={"aggregate": {"name": "z"}})).status_code == 404


async def test_set_metadata(compute: Nova) -> None:
    agg = await create(compute, "meta")
    path = f"/os-aggregates/{agg['id']}/action"
    first = await compute.post(path, json={"set_metadata": {"metadata": {
        "ssd": "true", "availability_zone": "az1"}}})
    assert first.status_code == 200
    assert first.json()["aggregate"]["metadata"] == {"ssd": "true", "availability_zone": "az1"}
    assert first.json()["aggregate"]["availability_zone"] == "az1"
    assert first.json()["aggregate"]["updated_at"] is not None
    second = (await compute.post(path, json={"set_metadata": {"metadata": {
        "ssd": None, "gpu": "2", "missing": None}}})).json()["aggregate"]
    assert second["metadata"] == {"gpu": "2", "availability_zone": "az1"}
    no_zone = await compute.post(path, json={"set_metadata": {"metadata": {
        "availability_zone": None}}})
    assert no_zone.status_code == 400
    assert no_zone.json()["badRequest"]["message"] == (
        f"Cannot update metadata of aggregate {agg['id']}. Reason: Aggregate meta does not "
        "support empty named availability zone.")
    for metadata in ({"bad/key": "x"}, {"k": "x" * 256}, {"k": 1}):
        bad = await compute.post(path, json={"set_metadata": {"metadata": metadata}})
        assert bad.status_code == 400, metadata
    assert (await compute.post(path, json={"set_metadata": {}})).status_code == 400
    missing = await compute.post("/os-aggregates/999/action",
                                 json={"set_metadata": {"metadata": {}}})
    assert missing.status_code == 404


async def test_hosts_are_mirrored_into_placement(compute: Nova) -> None:
    await compute_services(compute)
    agg = await create(compute, "rack1", version="2.41")
    other = await create(compute, "gpu", version="2.41")
    added = await act(compute, agg["id"], "add_host", host="node-2")
    assert added.status_code == 200
    assert added.json()["aggregate"]["hosts"] == ["node-2"]
    await act(compute, other["id"], "add_host", host="node-2")
    assert provider_aggregates(compute, "node-2") == {agg["uuid"], other["uuid"]}
    assert provider_aggregates(compute, "node") == set()

    again = await act(compute, agg["id"], "add_host", host="node-2")
    assert again.status_code == 409
    assert again.json()["conflictingRequest"]["message"] == \
        f"Aggregate {agg['id']} already has host node-2."
    nowhere = await act(compute, agg["id"], "add_host", host="nowhere")
    assert nowhere.status_code == 404
    assert nowhere.json()["itemNotFound"]["message"] == "Compute host nowhere could not be found."
    assert (await act(compute, 999, "add_host", host="node")).status_code == 404
    assert (await act(compute, agg["id"], "add_host", host="bad host")).status_code == 400

    removed = await act(compute, agg["id"], "remove_host", host="node-2")
    assert removed.status_code == 200
    assert removed.json()["aggregate"]["hosts"] == []
    assert provider_aggregates(compute, "node-2") == {other["uuid"]}
    for host, aggregate_id in (("node-2", agg["id"]), ("nowhere", agg["id"]),
                               ("node", 999)):
        missing = await act(compute, aggregate_id, "remove_host", host=host)
        assert missing.status_code == 404
        assert missing.json()["itemNotFound"]["message"] == \
            f"Cannot remove host {host} in aggregate {aggregate_id}"


async def test_a_host_lives_in_one_zone(compute: Nova) -> None:
    await compute_services(compute)
    az1 = await create(compute, "a1", zone="az1")
    az2 = await create(compute, "a2", zone="az2")
    also_az1 = await create(compute, "a1-too", zone="az1")
    unzoned = await create(compute, "plain")
    assert (await act(compute, az1["id"], "add_host", host="node")).status_code == 200
    conflict = await act(compute, az2["id"], "add_host", host="node")
    assert conflict.status_code == 409
    assert conflict.json()["conflictingRequest"]["message"] == (
        f"Cannot add host to aggregate {az2['id']}. Reason: One or more hosts already in "
        "availability zone(s) ['az1'].")
    assert (await act(compute, also_az1["id"], "add_host", host="node")).status_code == 200
    assert (await act(compute, unzoned["id"], "add_host", host="node")).status_code == 200
    # giving the unzoned aggregate another zone would put node in two
    rezoned = await compute.put(f"/os-aggregates/{unzoned['id']}",
                                json={"aggregate": {"availability_zone": "az2"}})
    assert rezoned.status_code == 400
    assert rezoned.json()["badRequest"]["message"] == (
        f"Cannot update aggregate {unzoned['id']}. Reason: One or more hosts already in "
        "availability zone(s) ['az1', 'az1'].")
    meta = await act(compute, unzoned["id"], "set_metadata",
                     metadata={"availability_zone": "az2"})
    assert meta.status_code == 400
    same = await act(compute, unzoned["id"], "set_metadata",
                     metadata={"availability_zone": "az1"})
    assert same.status_code == 200


async def test_instances_never_change_zone(compute: Nova) -> None:
    await compute_services(compute)
    k = await kit(compute)
    sid = (await boot(compute, k, availability_zone="nova:node-3"))["server"]["id"]
    await wait_status(compute, sid, "ACTIVE")
    zoned = await create(compute, "z", zone="az5")
    refused = await act(compute, zoned["id"], "add_host", host="node-3")
    assert refused.status_code == 409
    message = refused.json()["conflictingRequest"]["message"]
    assert message.startswith(
        f"Cannot add host to aggregate {zoned['id']}. Reason: The host cannot be added to "
        "the aggregate as the availability zone of the host would change from 'None' to "
        "'az5' but the host already has 1 instance(s).")
    plain = await create(compute, "p")
    assert (await act(compute, plain["id"], "add_host", host="node-3")).status_code == 200
    moved = await act(compute, plain["id"], "set_metadata",
                      metadata={"availability_zone": "az6"})
    assert moved.status_code == 400
    assert moved.json()["badRequest"]["message"] == (
        f"Cannot update metadata of aggregate {plain['id']}. Reason: One or more hosts "
        "contain instances in this zone.")
    assert (await act(compute, plain["id"], "remove_host", host="node-3")).status_code == 200


async def test_delete(compute: Nova) -> None:
    await compute_services(compute)
    agg = await create(compute, "gone")
    await act(compute, agg["id"], "add_host", host="node")
    busy = await compute.delete(f"/os-aggregates/{agg['id']}")
    assert busy.status_code == 400
    assert busy.json()["badRequest"]["message"] == (
        f"Cannot remove host from aggregate {agg['id']}. Reason: Host aggregate is not "
        "empty.")
    await act(compute, agg["id"], "remove_host", host="node")
    deleted = await compute.delete(f"/os-aggregates/{agg['id']}")
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert (await compute.get(f"/os-aggregates/{agg['id']}")).status_code == 404
    assert (await compute.delete(f"/os-aggregates/{agg['id']}")).status_code == 404
    assert (await compute.delete("/os-aggregates/x")).status_code == 400
    assert (await create(compute, "gone"))["name"] == "gone"


async def test_action_envelope(compute: Nova) -> None:
    agg = await create(compute, "act")
    path = f"/os-aggregates/{agg['id']}/action"
    unknown = await compute.post(path, json={"reboot": {}})
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"] == "There is no such action: reboot"
    two = await compute.post(path, json={"add_host": {"host": "node"},
                                         "remove_host": {"host": "node"}})
    assert two.status_code == 400
    assert (await compute.post(path, json={"add_host": {}})).status_code == 400


async def test_image_cache_requests_from_2_81(compute: Nova) -> None:
    agg = await create(compute, "cache")
    image = await make_image(compute)
    path = f"/os-aggregates/{agg['id']}/images"
    body = {"cache": [{"id": image}]}
    assert (await compute.post(path, json=body, version="2.80")).status_code == 404
    accepted = await compute.post(path, json=body, version="2.81")
    assert (accepted.status_code, accepted.content) == (202, b"")
    dup = await compute.post(path, json={"cache": [{"id": image}, {"id": image}]},
                             version="2.81")
    assert dup.status_code == 400
    assert dup.json()["badRequest"]["message"] == "Duplicate images in request"
    unknown_image = str(uuid.uuid4())
    missing = await compute.post(path, json={"cache": [{"id": unknown_image}]},
                                 version="2.81")
    assert missing.status_code == 400
    assert missing.json()["badRequest"]["message"] == \
        f"Image {unknown_image} could not be found."
    assert (await compute.post("/os-aggregates/999/images", json=body,
                               version="2.81")).status_code == 404
    bad: dict[str, Any]
    for bad in ({"cache": []}, {"cache": [{"id": "not-a-uuid"}]}, {}):
        assert (await compute.post(path, json=bad, version="2.81")).status_code == 400


async def test_members_may_not_manage_aggregates(compute: Nova, tenants: Tenants) -> None:
    agg = await create(compute, "admins-only")
    alice = tenants.alice
    checks = [await alice.get("/os-aggregates"),
              await alice.get(f"/os-aggregates/{agg['id']}"),
              await alice.post("/os-aggregates", json={"aggregate": {"name": "mine"}}),
              await alice.put(f"/os-aggregates/{agg['id']}",
                              json={"aggregate": {"name": "mine"}}),
              await alice.delete(f"/os-aggregates/{agg['id']}"),
              await act(alice, agg["id"], "add_host", host="node"),
              await act(alice, agg["id"], "set_metadata", metadata={"a": "b"})]
    assert [c.status_code for c in checks] == [403] * len(checks)
    assert checks[0].json()["forbidden"]["message"] == \
        "Policy doesn't allow os_compute_api:os-aggregates:index to be performed."
