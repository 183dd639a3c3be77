"""Compute services: listing with zones and states, enabling, disabling and forcing
down (by host and binary before 2.53, by uuid after), and deleting them with their
compute nodes and placement providers, as Nova answers each."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud, prepare_state_dir
from onestack.compute import models as m
from tests.api.compute.boot import boot, kit, wait_status
from tests.api.compute.conftest import Nova, Tenants, eventually
from tests.conftest import test_config as cloud_config

HOSTS = ["node", "node-2", "node-3"]


async def hosts_cloud(tmp_path: Path, count: int = 3) -> AsyncIterator[Cloud]:
    """A cloud whose compute process runs ``count`` fake hosts: node, node-2, ..."""
    config = cloud_config(tmp_path / "state")
    config.compute.fake_hosts = count
    config.compute.host = "node"
    prepare_state_dir(config.state_dir, reset=False)
    built = Cloud(config)
    await built.build()
    yield built
    await built.close()


async def compute_services(api: Nova, count: int = 3) -> list[dict[str, Any]]:
    """The nova-compute services once all ``count`` agents registered."""
    found: list[dict[str, Any]] = []

    async def registered() -> bool:
        reply = await api.get("/os-services?binary=nova-compute", version="2.53")
        found[:] = reply.json()["services"]
        return len(found) >= count

    await eventually(registered)
    return sorted(found, key=lambda s: s["host"])


async def add_migration(cloud: Cloud, **values: Any) -> dict[str, Any]:
    """A migration record as the server actions write it."""
    now = time.time()
    row: dict[str, Any] = {
        "uuid": str(uuid.uuid4()), "instance_uuid": str(uuid.uuid4()),
        "migration_type": "migration", "status": "finished", "source_compute": "node",
        "dest_compute": "node-2", "source_node": "node", "dest_node": "node-2",
        "dest_host": "127.0.0.1", "old_flavor_id": None, "new_flavor_id": None,
        "project_id": "p1", "user_id": "u1", "created_at": now, "updated_at": None}
    row.update(values)
    async with cloud.services["compute"].db.writer() as conn:
        result = await conn.execute(m.migration.insert().values(**row))
    return {**row, "id": result.inserted_primary_key[0]}


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for built in hosts_cloud(tmp_path):
        yield built


async def test_list_services_by_microversion(compute: Nova) -> None:
    await compute_services(compute)
    old = (await compute.get("/os-services")).json()["services"]
    by_binary = {(s["binary"], s["host"]): s for s in old}
    assert {b for b, _ in by_binary} == {"nova-compute", "nova-conductor", "nova-scheduler"}
    node = by_binary["nova-compute", "node"]
    assert set(node) == {"id", "binary", "host", "zone", "status", "state", "updated_at",
                         "disabled_reason"}
    assert isinstance(node["id"], int)
    assert (node["zone"], node["status"], node["state"]) == ("nova", "enabled", "up")
    assert node["disabled_reason"] is None
    assert node["updated_at"].count(".") == 1 and not node["updated_at"].endswith("Z")
    conductor = next(s for s in old if s["binary"] == "nova-conductor")
    assert conductor["zone"] == "internal"

    v211 = (await compute.get("/os-services", version="2.11")).json()["services"]
    assert all(s["forced_down"] is False for s in v211)
    v253 = (await compute.get("/os-services", version="2.53")).json()["services"]
    assert all(uuid.UUID(s["id"]) for s in v253)


async def test_list_filters_and_query_checks(compute: Nova) -> None:
    await compute_services(compute)
    by_host = (await compute.get("/os-services?host=node-2")).json()["services"]
    assert [(s["host"], s["binary"]) for s in by_host] == [("node-2", "nova-compute")]
    schedulers = (await compute.get("/os-services?binary=nova-scheduler")).json()["services"]
    assert [s["binary"] for s in schedulers] == ["nova-scheduler"]
    none = (await compute.get("/os-services?host=nowhere")).json()["services"]
    assert none == []
    assert (await compute.get("/os-services?foo=1", version="2.74")).status_code == 200
    strict = await compute.get("/os-services?foo=1", version="2.75")
    assert strict.status_code == 400
    assert strict.json()["badRequest"]["message"] == \
        "Additional properties are not allowed ('foo' was unexpected)"


async def test_members_may_not_manage_services(compute: Nova, tenants: Tenants) -> None:
    services = await compute_services(compute)
    listed = await tenants.alice.get("/os-services")
    assert listed.status_code == 403
    assert listed.json()["forbidden"]["message"] == \
        "Policy doesn't allow os_compute_api:os-services:list to be performed."
    put = await tenants.alice.put(f"/os-services/{services[0]['id']}",
                                  json={"status": "disabled"}, version="2.53")
    assert put.status_code == 403
    gone = await tenants.bob.delete(f"/os-services/{services[0]['id']}", version="2.53")
    assert gone.status_code == 403


async def test_disable_and_enable_by_host_and_binary(compute: Nova) -> None:
    await compute_services(compute)
    target = {"host": "node-2", "binary": "nova-compute"}
    disabled = await compute.put("/os-services/disable", json=target)
    assert disabled.status_code == 200
    assert disabled.json() == {"service": {**target, "status": "disabled"}}
    shown = (await compute.get("/os-services?host=node-2")).json()["services"][0]
    assert (shown["status"], shown["disabled_reason"]) == ("disabled", None)

    logged = await compute.put("/os-services/disable-log-reason",
                               json={**target, "disabled_reason": "maintenance"})
    assert logged.json() == {"service": {**target, "status": "disabled",
                                         "disabled_reason": "maintenance"}}
    shown = (await compute.get("/os-services?host=node-2")).json()["services"][0]
    assert shown["disabled_reason"] == "maintenance"
    missing = await compute.put("/os-services/disable-log-reason", json=target)
    assert missing.status_code == 400
    assert missing.json()["badRequest"]["message"] == "Missing disabled reason field"

    enabled = await compute.put("/os-services/enable", json=target)
    assert enabled.json() == {"service": {**target, "status": "enabled"}}
    shown = (await compute.get("/os-services?host=node-2")).json()["services"][0]
    assert (shown["status"], shown["disabled_reason"]) == ("enabled", None)


async def test_force_down_by_host_needs_2_11(compute: Nova) -> None:
    await compute_services(compute)
    target = {"host": "node-3", "binary": "nova-compute", "forced_down": True}
    too_old = await compute.put("/os-services/force-down", json=target)
    assert too_old.status_code == 400  # forced_down is not a field before 2.11
    unknown = await compute.put("/os-services/force-down",
                                json={"host": "node-3", "binary": "nova-compute"})
    assert unknown.status_code == 404
    assert unknown.json()["itemNotFound"]["message"] == "Unknown action"
    forced = await compute.put("/os-services/force-down", json=target, version="2.11")
    assert forced.status_code == 200
    assert forced.json() == {"service": {"host": "node-3", "binary": "nova-compute",
                                         "forced_down": True}}
    shown = (await compute.get("/os-services?host=node-3", version="2.11")).json()
    assert (shown["services"][0]["state"], shown["services"][0]["forced_down"]) == \
        ("down", True)
    back = await compute.put("/os-services/force-down", version="2.11",
                             json={**target, "forced_down": "false"})
    assert back.json()["service"]["forced_down"] is False


async def test_update_by_host_errors(compute: Nova) -> None:
    await compute_services(compute)
    scheduler = await compute.put("/os-services/disable",
                                  json={"host": "node", "binary": "nova-scheduler"})
    assert scheduler.status_code == 400
    assert scheduler.json()["badRequest"]["message"] == (
        "Updating a nova-scheduler service is not supported. Only nova-compute services "
        "can be updated.")
    nowhere = await compute.put("/os-services/disable",
                                json={"host": "nowhere", "binary": "nova-compute"})
    assert nowhere.status_code == 404
    assert nowhere.json()["itemNotFound"]["message"] == \
        "Host 'nowhere' is not mapped to any cell"
    bad_action = await compute.put("/os-services/reboot",
                                   json={"host": "node", "binary": "nova-compute"})
    assert bad_action.status_code == 404
    no_binary = await compute.put("/os-services/disable", json={"host": "node"})
    assert no_binary.status_code == 400
    # from 2.53 the path holds a uuid
    by_name = await compute.put("/os-services/disable", version="2.53",
                                json={"status": "disabled"})
    assert by_name.status_code == 400
    assert by_name.json()["badRequest"]["message"] == "Invalid uuid disable"


async def test_update_by_uuid(compute: Nova) -> None:
    services = await compute_services(compute)
    sid = services[1]["id"]
    v253 = compute.at("2.53")
    disabled = await v253.put(f"/os-services/{sid}",
                              json={"status": "disabled", "disabled_reason": "upgrade"})
    assert disabled.status_code == 200
    body = disabled.json()["service"]
    assert set(body) == {"id", "binary", "host", "zone", "status", "state", "updated_at",
                         "disabled_reason", "forced_down"}
    assert (body["id"], body["status"], body["disabled_reason"]) == \
        (sid, "disabled", "upgrade")
    forced = (await v253.put(f"/os-services/{sid}", json={"forced_down": True})).json()
    assert (forced["service"]["state"], forced["service"]["forced_down"]) == ("down", True)
    both = await v253.put(f"/os-services/{sid}",
                          json={"status": "enabled", "forced_down": False})
    assert (both.json()["service"]["status"], both.json()["service"]["state"]) == \
        ("enabled", "up")
    assert both.json()["service"]["disabled_reason"] is None

    contradiction = await v253.put(f"/os-services/{sid}",
                                   json={"status": "enabled", "disabled_reason": "x"})
    assert contradiction.status_code == 400
    assert contradiction.json()["badRequest"]["message"] == \
        "Specifying 'disabled_reason' with status 'enabled' is invalid."
    nothing = await v253.put(f"/os-services/{sid}", json={})
    assert nothing.status_code == 400
    assert nothing.json()["badRequest"]["message"] == (
        "No updates were requested. Fields 'status' or 'forced_down' should be specified.")
    assert (await v253.put(f"/os-services/{sid}",
                           json={"status": "off"})).status_code == 400
    assert (await v253.put(f"/os-services/{sid}",
                           json={"forced_down": "maybe"})).status_code == 400
    unknown_id = str(uuid.uuid4())
    unknown = await v253.put(f"/os-services/{unknown_id}", json={"status": "enabled"})
    assert unknown.status_code == 404
    assert unknown.json()["itemNotFound"]["message"] == \
        f"Service {unknown_id} could not be found."
    scheduler = next(s for s in (await v253.get("/os-services")).json()["services"]
                     if s["binary"] == "nova-scheduler")
    refused = await v253.put(f"/os-services/{scheduler['id']}", json={"status": "disabled"})
    assert refused.status_code == 400


async def test_forcing_up_waits_for_done_evacuations(compute: Nova) -> None:
    services = await compute_services(compute)
    await add_migration(compute.cloud, migration_type="evacuation", status="done",
                        source_compute="node", dest_compute="node-2")
    refused = await compute.put(f"/os-services/{services[0]['id']}", version="2.53",
                                json={"forced_down": False})
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"].startswith(
        "Unable to force up host node as `done` evacuation migration records remain")
    old = await compute.put("/os-services/force-down", version="2.11", json={
        "host": "node", "binary": "nova-compute", "forced_down": False})
    assert old.status_code == 400
    down = await compute.put(f"/os-services/{services[0]['id']}", version="2.53",
                             json={"forced_down": True})
    assert down.status_code == 200


async def test_delete_ids_by_microversion(compute: Nova) -> None:
    await compute_services(compute)
    not_int = await compute.delete("/os-services/abc")
    assert not_int.status_code == 400
    assert not_int.json()["badRequest"]["message"] == \
        "Invalid input received: id must be an integer"
    missing = await compute.delete("/os-services/9999")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Service 9999 not found."
    not_uuid = await compute.delete("/os-services/12", version="2.53")
    assert not_uuid.status_code == 400
    assert not_uuid.json()["badRequest"]["message"] == "Invalid uuid 12"
    scheduler = next(s for s in (await compute.get("/os-services")).json()["services"]
                     if s["binary"] == "nova-scheduler")
    deleted = await compute.delete(f"/os-services/{scheduler['id']}")
    assert deleted.status_code == 204
    left = (await compute.get("/os-services?binary=nova-scheduler")).json()["services"]
    assert left == []


async def test_delete_compute_service_drops_node_provider_and_memberships(
        compute: Nova) -> None:
    services = await compute_services(compute)
    node3 = next(s for s in services if s["host"] == "node-3")
    hypervisors = (await compute.get("/os-hypervisors", version="2.53")).json()
    node_uuid = next(h["id"] for h in hypervisors["hypervisors"]
                     if h["hypervisor_hostname"] == "node-3")
    placement = compute.cloud.services["placement"].store
    assert node_uuid in placement.providers
    aggregate = (await compute.post("/os-aggregates", json={"aggregate": {
        "name": "rack"}})).json()["aggregate"]
    added = await compute.post(f"/os-aggregates/{aggregate['id']}/action",
                               json={"add_host": {"host": "node-3"}})
    assert added.status_code == 200

    deleted = await compute.delete(f"/os-services/{node3['id']}", version="2.53")
    assert deleted.status_code == 204
    assert deleted.content == b""
    names = [h["hypervisor_hostname"] for h in
             (await compute.get("/os-hypervisors")).json()["hypervisors"]]
    assert names == ["node", "node-2"]
    assert node_uuid not in placement.providers
    shown = (await compute.get(f"/os-aggregates/{aggregate['id']}")).json()["aggregate"]
    assert shown["hosts"] == []


async def test_delete_refused_while_hosting_or_migrating(compute: Nova) -> None:
    services = await compute_services(compute)
    k = await kit(compute)
    sid = (await boot(compute, k, availability_zone="nova:node-2"))["server"]["id"]
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-2"
    node2 = next(s for s in services if s["host"] == "node-2")
    busy = await compute.delete(f"/os-services/{node2['id']}", version="2.53")
    assert busy.status_code == 409
    assert busy.json()["conflictingRequest"]["message"] == (
        "Unable to delete compute service that is hosting instances. Migrate or delete "
        "the instances first.")

    await add_migration(compute.cloud, status="running", source_compute="node-2",
                        source_node="node-2", dest_compute="node-3", dest_node="node-3")
    node3 = next(s for s in services if s["host"] == "node-3")
    moving = await compute.delete(f"/os-services/{node3['id']}", version="2.53")
    assert moving.status_code == 409
    assert moving.json()["conflictingRequest"]["message"] == (
        "Unable to delete compute service that has in-progress migrations. Complete the "
        "migrations or delete the instances first.")
