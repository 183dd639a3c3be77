"""Moving servers on fake hosts: resize with confirm and revert, cold and live
migration, evacuation, shelve and unshelve, backups, security groups and the smaller
actions, each with Nova's answers and the placement allocations after every step
(the source held by the migration record while a move waits to be confirmed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from onestack.cloud import Cloud
from onestack.compute import models as m
from tests.api.compute.boot import Kit, boot, kit, make_flavor, server, wait_status
from tests.api.compute.conftest import Nova, Tenants, eventually
from tests.api.compute.test_services import add_migration, compute_services, hosts_cloud
from tests.conftest import Api

ONE_HOST = pytest.mark.parametrize("cloud", [1], indirect=True)


@pytest.fixture
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    """Three fake hosts (node, node-2, node-3) unless parametrized with a count."""
    async for built in hosts_cloud(tmp_path, getattr(request, "param", 3)):
        yield built


# -- helpers ---------------------------------------------------------------------------
def usage(api: Nova) -> dict[str, dict[str, dict[str, int]]]:
    """Allocations by consumer, then by host name."""
    store = api.cloud.services["placement"].store
    return {consumer: {store.providers[rp].name: dict(res)
                       for rp, res in found.allocations.items()}
            for consumer, found in store.consumers.items()}


def held(api: Nova, consumer: str) -> dict[str, dict[str, int]]:
    return usage(api).get(consumer, {})


async def act(api: Nova, sid: str, body: dict[str, Any], status: int = 202,
              version: str | None = None) -> Any:
    reply = await api.post(f"/servers/{sid}/action", json=body, version=version)
    assert reply.status_code == status, reply.text
    return reply


async def fault(api: Nova, sid: str, body: dict[str, Any], status: int,
                version: str | None = None) -> str:
    reply = await act(api, sid, body, status, version)
    return str(next(iter(reply.json().values()))["message"])


async def migrations(api: Nova, sid: str) -> list[dict[str, Any]]:
    reply = await api.get(f"/os-migrations?instance_uuid={sid}", version="2.59")
    assert reply.status_code == 200, reply.text
    return sorted(reply.json()["migrations"], key=lambda r: r["id"])


async def migration_status(api: Nova, sid: str, status: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def reached() -> bool:
        found[:] = await migrations(api, sid)
        return bool(found) and found[-1]["status"] == status

    await eventually(reached)
    return found[-1]


async def events(api: Nova, sid: str, action: str) -> list[dict[str, Any]]:
    listed = (await api.get(f"/servers/{sid}/os-instance-actions")).json()
    request_id = next(a["request_id"] for a in listed["instanceActions"]
                      if a["action"] == action)
    shown = await api.get(f"/servers/{sid}/os-instance-actions/{request_id}",
                          version="2.84")
    return list(shown.json()["instanceAction"]["events"])


async def event_result(api: Nova, sid: str, action: str, event: str, result: str) -> None:
    async def recorded() -> bool:
        return any(e["event"] == event and e["result"] == result
                   for e in await events(api, sid, action))

    await eventually(recorded)


async def active(api: Nova, k: Kit, name: str = "vm", **extra: Any) -> dict[str, Any]:
    sid = (await boot(api, k, name=name, **extra))["server"]["id"]
    return await wait_status(api, sid, "ACTIVE")


async def idle(api: Nova, sid: str) -> None:
    async def no_task() -> bool:
        return (await server(api, sid))["OS-EXT-STS:task_state"] is None

    await eventually(no_task)


def ports_of(api: Nova, sid: str) -> Any:
    network = Api(api.cloud, "network", api.token, api.clients)
    return network.get(f"/v2.0/ports?device_id={sid}")


async def bindings(api: Nova, sid: str) -> set[str]:
    return {p["binding:host_id"] for p in (await ports_of(api, sid)).json()["ports"]}


# -- resize ------------------------------------------------------------------------------
async def test_resize_confirm_holds_the_source_for_the_migration(compute: Nova) -> None:
    k = await kit(compute)
    big = await make_flavor(compute, name="big", ram=1024, vcpus=2, disk=2)
    vm = await active(compute, k)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    assert held(compute, sid) == {source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    await act(compute, sid, {"resize": {"flavorRef": big}})
    resized = await wait_status(compute, sid, "VERIFY_RESIZE")
    dest = resized["OS-EXT-SRV-ATTR:host"]
    assert resized["flavor"]["id"] == big
    record = (await migrations(compute, sid))[-1]
    assert (record["migration_type"], record["status"]) == ("resize", "finished")
    assert (record["source_compute"], record["dest_compute"]) == (source, dest)
    assert held(compute, record["uuid"]) == {
        source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    assert held(compute, sid) == {dest: {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 2}}
    assert await bindings(compute, sid) == {dest}
    again = await fault(compute, sid, {"resize": {"flavorRef": k.flavor}}, 409)
    assert again == f"Cannot 'resize' instance {sid} while it is in vm_state resized"
    confirmed = await compute.post(f"/servers/{sid}/action", json={"confirmResize": None})
    assert confirmed.status_code == 204, confirmed.text
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == dest
    assert (await migration_status(compute, sid, "confirmed"))["uuid"] == record["uuid"]
    assert record["uuid"] not in usage(compute)
    assert held(compute, sid) == {dest: {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 2}}
    await event_result(compute, sid, "confirmResize", "compute_confirm_resize", "Success")
    assert await fault(compute, sid, {"confirmResize": None}, 409) == \
        f"Cannot 'confirmResize' instance {sid} while it is in vm_state active"
    host = compute.cloud.services["compute"].hosts
    assert sid in host.agents[dest].driver.guests
    assert sid not in host.agents[source].driver.guests


async def test_revert_resize_goes_back_to_the_old_flavor_and_host(compute: Nova) -> None:
    k = await kit(compute)
    big = await make_flavor(compute, name="big", ram=1024, vcpus=2, disk=2)
    vm = await active(compute, k)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    await act(compute, sid, {"resize": {"flavorRef": big}})
    await wait_status(compute, sid, "VERIFY_RESIZE")
    record = (await migrations(compute, sid))[-1]
    await act(compute, sid, {"revertResize": None})
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == source
    assert shown["flavor"]["id"] == k.flavor
    await migration_status(compute, sid, "reverted")
    assert usage(compute) == {sid: {source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}
    assert record["uuid"] not in usage(compute)
    assert await bindings(compute, sid) == {source}
    host = compute.cloud.services["compute"].hosts
    assert sid in host.agents[source].driver.guests
    assert sid not in host.agents[record["dest_compute"]].driver.guests
    assert await fault(compute, sid, {"revertResize": None}, 409) == \
        f"Cannot 'revertResize' instance {sid} while it is in vm_state active"


async def test_resize_refusals(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    assert await fault(compute, sid, {"resize": {"flavorRef": k.flavor}}, 400) == \
        "When resizing, instances must change flavor!"
    assert await fault(compute, sid, {"resize": {"flavorRef": "nope"}}, 400) == \
        "Flavor nope could not be found."
    await fault(compute, sid, {"resize": {"flavorRef": ""}}, 400)
    await fault(compute, sid, {"resize": {"flavorRef": k.flavor, "bogus": 1}}, 400)
    zero = await make_flavor(compute, name="zero", disk=0)
    assert await fault(compute, sid, {"resize": {"flavorRef": zero}}, 400) == \
        "Server disk was unable to be resized because: Resize to zero disk flavor is " \
        "not allowed."
    huge = await make_flavor(compute, name="huge", vcpus=64)
    assert await fault(compute, sid, {"resize": {"flavorRef": huge}}, 403) == \
        "Quota exceeded for cores: Requested 63, but already used 1 of 20 cores"
    assert await fault(tenants.alice, sid, {"resize": {"flavorRef": huge}}, 404) == \
        f"Instance {sid} could not be found."
    assert await fault(compute, sid, {"confirmResize": None}, 409) == \
        f"Cannot 'confirmResize' instance {sid} while it is in vm_state active"
    await act(compute, sid, {"lock": None})
    big = await make_flavor(compute, name="big", ram=1024)
    own = (await active(tenants.alice, k, name="own"))["id"]
    await act(compute, own, {"lock": None})
    assert await fault(tenants.alice, own, {"resize": {"flavorRef": big}}, 409) == \
        f"Instance {own} is locked"
    assert usage(compute)[sid] and not [c for c in usage(compute) if c not in (sid, own)]


async def test_resize_down_the_disk_rolls_back(compute: Nova) -> None:
    k = await kit(compute)
    large = await make_flavor(compute, name="large-disk", disk=3)
    small = await make_flavor(compute, name="small-disk", disk=1, ram=1024)
    vm = await active(compute, k, flavorRef=large)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    await act(compute, sid, {"resize": {"flavorRef": small}})
    record = await migration_status(compute, sid, "error")
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-STS:task_state"] is None and shown["flavor"]["id"] == large
    await event_result(compute, sid, "resize", "compute_resize_instance", "Error")
    (failed,) = [e for e in await events(compute, sid, "resize")
                 if e["event"] == "compute_resize_instance"]
    assert failed["details"] == "Resize error: Unable to resize disk down."
    assert usage(compute) == {sid: {source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 3}}}
    assert record["uuid"] not in usage(compute)


@ONE_HOST
async def test_resize_on_one_host_keeps_a_stopped_server_stopped(compute: Nova) -> None:
    k = await kit(compute)
    big = await make_flavor(compute, name="big", ram=1024, vcpus=2)
    sid = (await active(compute, k))["id"]
    await act(compute, sid, {"os-stop": None})
    await wait_status(compute, sid, "SHUTOFF")
    await act(compute, sid, {"resize": {"flavorRef": big, "OS-DCF:diskConfig": "AUTO"}})
    resized = await wait_status(compute, sid, "VERIFY_RESIZE")
    assert resized["OS-EXT-STS:power_state"] == 4 and resized["OS-DCF:diskConfig"] == "AUTO"
    record = (await migrations(compute, sid))[-1]
    assert record["source_compute"] == record["dest_compute"] == "node"
    assert held(compute, record["uuid"]) == {"node": {"VCPU": 1, "MEMORY_MB": 512,
                                                      "DISK_GB": 1}}
    assert held(compute, sid) == {"node": {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 1}}
    await act(compute, sid, {"confirmResize": None}, 204)
    shown = await wait_status(compute, sid, "SHUTOFF")
    assert shown["flavor"]["id"] == big
    assert usage(compute) == {sid: {"node": {"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 1}}}
    await act(compute, sid, {"os-start": None})
    await wait_status(compute, sid, "ACTIVE")


async def test_deleting_a_resized_server_frees_both_hosts(compute: Nova) -> None:
    k = await kit(compute)
    big = await make_flavor(compute, name="big", ram=1024)
    sid = (await active(compute, k))["id"]
    await act(compute, sid, {"resize": {"flavorRef": big}})
    await wait_status(compute, sid, "VERIFY_RESIZE")
    record = (await migrations(compute, sid))[-1]
    assert (await compute.delete(f"/servers/{sid}")).status_code == 204

    async def freed() -> bool:
        return usage(compute) == {}

    await eventually(freed)
    assert (await migration_status(compute, sid, "confirmed"))["uuid"] == record["uuid"]
    hosts = compute.cloud.services["compute"].hosts
    await eventually(lambda: _no_guest(hosts, sid))


async def _no_guest(hosts: Any, sid: str) -> bool:
    return all(sid not in agent.driver.guests for agent in hosts.agents.values())


# -- cold migration --------------------------------------------------------------------------
@ONE_HOST
async def test_cold_migration_on_one_host_finds_no_valid_host(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    before = usage(compute)
    await act(compute, sid, {"migrate": None})
    record = await migration_status(compute, sid, "error")
    assert record["migration_type"] == "migration"
    await event_result(compute, sid, "migrate", "conductor_migrate_server", "Error")
    (failed,) = [e for e in await events(compute, sid, "migrate")
                 if e["event"] == "conductor_migrate_server"]
    assert failed["details"] == "No valid host was found. No valid host found for cold " \
        "migrate"
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-STS:task_state"] is None
    assert usage(compute) == before


async def test_cold_migration_to_a_host_then_revert(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    await compute_services(compute)
    vm = await active(compute, k)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    other = next(h for h in ("node", "node-2", "node-3") if h != source)
    v256 = compute.at("2.56")
    assert await fault(v256, sid, {"migrate": {"host": source}}, 400) == \
        "Cannot migrate to the host where the server exists."
    assert await fault(v256, sid, {"migrate": {"host": "nowhere"}}, 400) == \
        "Compute host nowhere could not be found."
    await fault(v256, sid, {"migrate": {"hots": other}}, 400)
    assert await fault(tenants.alice, sid, {"migrate": None}, 404)
    own = (await active(tenants.alice, k, name="own"))["id"]
    assert await fault(tenants.alice, own, {"migrate": None}, 403) == \
        "Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed."
    await act(v256, sid, {"migrate": {"host": other}})
    moved = await wait_status(compute, sid, "VERIFY_RESIZE")
    assert moved["OS-EXT-SRV-ATTR:host"] == other
    record = (await migrations(compute, sid))[-1]
    assert (record["migration_type"], record["dest_compute"]) == ("migration", other)
    assert held(compute, record["uuid"]) == {source: {"VCPU": 1, "MEMORY_MB": 512,
                                                      "DISK_GB": 1}}
    assert held(compute, sid) == {other: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    await act(compute, sid, {"revertResize": None})
    back = await wait_status(compute, sid, "ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"] == source
    assert held(compute, sid) == {source: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}
    assert (await migration_status(compute, sid, "reverted"))["uuid"] == record["uuid"]
    await act(compute, sid, {"migrate": None})
    await wait_status(compute, sid, "VERIFY_RESIZE")
    assert (await server(compute, sid))["OS-EXT-SRV-ATTR:host"] != source


# -- live migration ------------------------------------------------------------------------
async def test_live_migration_moves_guest_ports_and_allocations(compute: Nova) -> None:
    k = await kit(compute)
    await compute_services(compute)
    vm = await active(compute, k)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    other = next(h for h in ("node", "node-2", "node-3") if h != source)
    v230 = compute.at("2.30")
    await act(v230, sid, {"os-migrateLive": {"host": other, "block_migration": "auto"}})
    record = await migration_status(compute, sid, "completed")
    assert (record["migration_type"], record["source_compute"], record["dest_compute"]) == \
        ("live-migration", source, other)
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == other
    assert usage(compute) == {sid: {other: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}
    assert await bindings(compute, sid) == {other}
    hosts = compute.cloud.services["compute"].hosts
    assert sid in hosts.agents[other].driver.guests
    assert sid not in hosts.agents[source].driver.guests
    await event_result(compute, sid, "live-migration", "compute_live_migration", "Success")
    listed = await compute.get(f"/servers/{sid}/migrations", version="2.23")
    assert listed.status_code == 200 and listed.json() == {"migrations": []}
    # paused, with the scheduler choosing: stays paused somewhere else
    await act(compute, sid, {"pause": None})
    await wait_status(compute, sid, "PAUSED")
    await act(compute, sid, {"os-migrateLive": {"host": None, "block_migration": False,
                                                "disk_over_commit": False}})

    async def moved_on() -> bool:
        found = await server(compute, sid)
        return found["OS-EXT-SRV-ATTR:host"] != other and \
            found["OS-EXT-STS:task_state"] is None
    await eventually(moved_on)
    shown = await wait_status(compute, sid, "PAUSED")
    assert shown["OS-EXT-STS:power_state"] == 3
    assert list(held(compute, sid)) == [shown["OS-EXT-SRV-ATTR:host"]]


async def test_live_migration_refusals(compute: Nova) -> None:
    k = await kit(compute)
    services = {s["host"]: s for s in await compute_services(compute)}
    vm = await active(compute, k)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    old = {"block_migration": False, "disk_over_commit": False}
    other = next(h for h in services if h != source)
    await compute.put(f"/os-services/{services[other]['id']}", json={"forced_down": True},
                      version="2.53")
    assert await fault(compute, sid, {"os-migrateLive": {"host": other, **old}}, 400) == \
        f"Compute service of {other} is unavailable at this time."
    assert await fault(compute, sid, {"os-migrateLive": {
        "host": other, "block_migration": "auto"}}, 400, "2.30") == \
        "No valid host was found. There are not enough hosts available."
    assert await fault(compute, sid, {"os-migrateLive": {"host": "nowhere", **old}}, 400) == \
        "Compute host nowhere could not be found."
    assert await fault(compute, sid, {"os-migrateLive": {"host": source, **old}}, 400) == \
        f"Unable to migrate instance ({sid}) to current host ({source})."
    await fault(compute, sid, {"os-migrateLive": {"host": None}}, 400)
    assert await fault(compute, sid, {"os-migrateLive": {
        "host": None, "block_migration": "auto", "force": True}}, 400, "2.30") == \
        "Can't force to a non-provided destination"
    await fault(compute, sid, {"os-migrateLive": {
        "host": None, "block_migration": "auto", "force": False}}, 400, "2.68")
    await act(compute, sid, {"suspend": None})
    await wait_status(compute, sid, "SUSPENDED")
    assert await fault(compute, sid, {"os-migrateLive": {"host": None, **old}}, 409) == \
        f"Cannot 'os-migrateLive' instance {sid} while it is in vm_state suspended"
    await act(compute, sid, {"resume": None})
    await wait_status(compute, sid, "ACTIVE")
    # from 2.34 the checks run after the 202: the migration fails, the server stays
    before = usage(compute)
    await act(compute, sid, {"os-migrateLive": {"host": source, "block_migration": "auto"}},
              version="2.68")
    record = await migration_status(compute, sid, "error")
    assert record["migration_type"] == "live-migration"
    await event_result(compute, sid, "live-migration", "conductor_live_migrate_instance",
                       "Error")
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-STS:task_state"] is None and shown["OS-EXT-SRV-ATTR:host"] == source
    assert usage(compute) == before


async def test_server_migrations_in_progress(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    v224 = compute.at("2.24")
    assert (await compute.get(f"/servers/{sid}/migrations", version="2.22")).status_code \
        == 404
    done = await add_migration(compute.cloud, instance_uuid=sid, status="completed",
                               migration_type="live-migration")
    resize = await add_migration(compute.cloud, instance_uuid=sid, status="finished",
                                 migration_type="resize")
    reply = await v224.get(f"/servers/{sid}/migrations/{done['id']}")
    assert reply.status_code == 404 and reply.json()["itemNotFound"]["message"] == \
        f"Live migration {done['id']} for server {sid} is not in progress."
    reply = await v224.get(f"/servers/{sid}/migrations/{resize['id']}")
    assert reply.json()["itemNotFound"]["message"] == \
        f"Migration {resize['id']} for server {sid} is not live-migration."
    reply = await v224.get(f"/servers/{sid}/migrations/999")
    assert reply.json()["itemNotFound"]["message"] == \
        f"In-progress live migration 999 is not found for server {sid}."
    forced = await v224.post(f"/servers/{sid}/migrations/{done['id']}/action",
                             json={"force_complete": None})
    assert forced.status_code == 409 and forced.json()["conflictingRequest"]["message"] == \
        f"Cannot 'force_complete' instance {sid} while it is in task_state None"
    aborted = await v224.delete(f"/servers/{sid}/migrations/{done['id']}")
    assert aborted.status_code == 409
    # a live migration caught in the middle, as a real driver would show it
    async with compute.cloud.services["compute"].db.writer() as conn:
        await conn.execute(sa.update(m.instance).where(m.instance.c.uuid == sid)
                           .values(task_state="migrating"))
    running = await add_migration(compute.cloud, instance_uuid=sid, status="running",
                                  migration_type="live-migration", project_id="p9")
    listed = (await compute.get(f"/servers/{sid}/migrations", version="2.80")).json()
    (entry,) = listed["migrations"]
    assert entry["id"] == running["id"] and entry["server_uuid"] == sid
    assert set(entry) == {"id", "status", "server_uuid", "source_node", "source_compute",
                          "dest_node", "dest_compute", "dest_host", "disk_processed_bytes",
                          "disk_remaining_bytes", "disk_total_bytes",
                          "memory_processed_bytes", "memory_remaining_bytes",
                          "memory_total_bytes", "created_at", "updated_at", "uuid",
                          "user_id", "project_id"}
    shown = (await v224.get(f"/servers/{sid}/migrations/{running['id']}")).json()
    assert shown["migration"]["status"] == "running" and "uuid" not in shown["migration"]
    wrong = await v224.post(f"/servers/{sid}/migrations/{done['id']}/action",
                            json={"force_complete": None})
    assert wrong.status_code == 400 and wrong.json()["badRequest"]["message"] == \
        f"Migration {done['id']} state of instance {sid} is completed. Cannot force " \
        "complete while the migration is in this state."
    missing = await v224.post(f"/servers/{sid}/migrations/999/action",
                              json={"force_complete": None})
    assert missing.json()["badRequest"]["message"] == \
        f"Migration 999 not found for instance {sid}"
    assert (await v224.delete(f"/servers/{sid}/migrations/999")).status_code == 404
    assert (await v224.delete(f"/servers/{sid}/migrations/{done['id']}")).status_code == 400
    assert (await v224.post(f"/servers/{sid}/migrations/{running['id']}/action",
                            json={"force_complete": None})).status_code == 202
    assert (await v224.delete(f"/servers/{sid}/migrations/{running['id']}")).status_code \
        == 202
    await event_result(compute, sid, "live_migration_cancel",
                       "compute_live_migration_abort", "Success")


# -- evacuation ----------------------------------------------------------------------------
async def test_evacuate_from_a_host_forced_down(compute: Nova) -> None:
    k = await kit(compute)
    services = {s["host"]: s for s in await compute_services(compute)}
    vm = await active(compute, k)
    sid, source = vm["id"], vm["OS-EXT-SRV-ATTR:host"]
    assert await fault(compute, sid, {"evacuate": {}}, 400, "2.14") == \
        f"Compute service of {source} is still in use."
    v253 = compute.at("2.53")
    down = await v253.put(f"/os-services/{services[source]['id']}", json={"forced_down": True})
    assert down.status_code == 200, down.text
    assert await fault(compute, sid, {"evacuate": {"host": source}}, 400, "2.14") == \
        "The target host can't be the same one."
    assert await fault(compute, sid, {"evacuate": {"host": "nowhere"}}, 404, "2.14") == \
        "Compute host nowhere not found."
    await fault(compute, sid, {"evacuate": {}}, 400)  # onSharedStorage is required
    assert await fault(compute, sid, {"evacuate": {"onSharedStorage": True,
                                                   "adminPass": "x"}}, 400) == \
        "admin password can't be changed on existing disk"
    reply = await act(compute, sid, {"evacuate": {"onSharedStorage": False}}, 200)
    assert set(reply.json()) == {"adminPass"}
    record = await migration_status(compute, sid, "completed")
    shown = await wait_status(compute, sid, "ACTIVE")
    dest = shown["OS-EXT-SRV-ATTR:host"]
    assert dest != source and record["migration_type"] == "evacuation"
    assert (record["source_compute"], record["dest_compute"]) == (source, dest)
    assert usage(compute) == {sid: {dest: {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}
    assert await bindings(compute, sid) == {dest}
    await event_result(compute, sid, "evacuate", "compute_rebuild_instance", "Success")
    # from 2.95 the evacuated server is stopped; 2.14 answers no body
    await v253.put(f"/os-services/{services[dest]['id']}", json={"forced_down": True})
    reply = await act(compute, sid, {"evacuate": {}}, 200, "2.95")
    assert reply.content == b""
    stopped = await wait_status(compute, sid, "SHUTOFF")
    assert stopped["OS-EXT-SRV-ATTR:host"] not in (source, dest)


async def test_evacuate_with_nowhere_to_go_is_an_error(compute: Nova) -> None:
    k = await kit(compute)
    services = await compute_services(compute)
    vm = await active(compute, k)
    sid = vm["id"]
    v253 = compute.at("2.53")
    for service in services:
        await v253.put(f"/os-services/{service['id']}", json={"forced_down": True})
    await act(compute, sid, {"evacuate": {}}, 200, "2.14")
    await migration_status(compute, sid, "error")
    shown = await wait_status(compute, sid, "ERROR")
    assert shown["fault"]["message"].startswith("No valid host was found.")
    assert usage(compute) == {sid: {vm["OS-EXT-SRV-ATTR:host"]: {
        "VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}


# -- shelve ---------------------------------------------------------------------------------
def images_api(api: Nova) -> Api:
    return Api(api.cloud, "image", api.token, api.clients)


async def image_named(api: Nova, name: str) -> list[dict[str, Any]]:
    reply = await images_api(api).get(f"/v2/images?name={name}")
    return list(reply.json()["images"])


@ONE_HOST
async def test_shelve_offloads_and_unshelve_comes_back(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await active(compute, k, name="parked"))["id"]
    await act(compute, sid, {"pause": None})
    await wait_status(compute, sid, "PAUSED")
    await act(compute, sid, {"shelve": None})
    shown = await wait_status(compute, sid, "SHELVED_OFFLOADED")
    assert shown["OS-EXT-SRV-ATTR:host"] is None and shown["OS-EXT-STS:task_state"] is None
    assert shown["addresses"]["private-net"]
    (image,) = await image_named(compute, "parked-shelved")
    assert image["status"] == "active" and image["image_type"] == "snapshot"
    assert image["instance_uuid"] == sid
    assert sid not in usage(compute)
    assert await bindings(compute, sid) == {""}
    assert sid not in compute.cloud.services["compute"].hosts.agents["node"].driver.guests
    assert await fault(compute, sid, {"shelve": None}, 409) == \
        f"Cannot 'shelve' instance {sid} while it is in vm_state shelved_offloaded"
    await act(compute, sid, {"unshelve": None})
    back = await wait_status(compute, sid, "ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"] == "node" and back["image"]["id"] == k.image
    assert usage(compute) == {sid: {"node": {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}
    assert await bindings(compute, sid) == {"node"}

    async def snapshot_gone() -> bool:
        return not await image_named(compute, "parked-shelved")

    await eventually(snapshot_gone)
    assert await fault(compute, sid, {"unshelve": None}, 409) == \
        f"Cannot 'unshelve' instance {sid} while it is in vm_state active"
    names = [a["action"] for a in (await compute.get(
        f"/servers/{sid}/os-instance-actions")).json()["instanceActions"]]
    assert names[:2] == ["unshelve", "shelve"]


@ONE_HOST
async def test_shelve_kept_on_the_host_then_offloaded_by_an_admin(compute: Nova,
                                                                  tenants: Tenants) -> None:
    compute.cloud.services["compute"].settings.shelved_offload_time = -1
    k = await kit(compute)
    sid = (await active(tenants.alice, k, name="kept"))["id"]
    await act(tenants.alice, sid, {"shelve": None})
    shown = await wait_status(compute, sid, "SHELVED")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node" and shown["OS-EXT-STS:power_state"] == 4
    assert usage(compute)[sid]
    assert await fault(compute, sid, {"unshelve": {"availability_zone": "nova"}}, 409,
                       "2.77") == \
        f'Specifying an availability zone or a host when unshelving server "{sid}" with ' \
        'status "shelved" is not supported. The server status must be SHELVED_OFFLOADED.'
    assert await fault(tenants.alice, sid, {"shelveOffload": None}, 403) == \
        "Policy doesn't allow os_compute_api:os-shelve:shelve_offload to be performed."
    await act(tenants.alice, sid, {"unshelve": None})
    await wait_status(compute, sid, "ACTIVE")
    assert not await image_named(compute, "kept-shelved") or await _deleted_soon(compute)
    await act(tenants.alice, sid, {"shelve": None})
    await wait_status(compute, sid, "SHELVED")
    await act(compute, sid, {"shelveOffload": None})
    await wait_status(compute, sid, "SHELVED_OFFLOADED")
    assert sid not in usage(compute)
    await event_result(compute, sid, "shelveOffload", "compute_shelve_offload_instance",
                       "Success")


async def _deleted_soon(api: Nova) -> bool:
    async def gone() -> bool:
        return not await image_named(api, "kept-shelved")

    await eventually(gone)
    return True


async def test_unshelve_to_a_zone_or_a_host(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    await compute_services(compute)
    sid = (await active(compute, k))["id"]
    await act(compute, sid, {"shelve": None})
    await wait_status(compute, sid, "SHELVED_OFFLOADED")
    assert await fault(compute, sid, {"unshelve": {"availability_zone": "mars"}}, 400,
                       "2.77") == "The requested availability zone is not available"
    await fault(compute, sid, {"unshelve": {}}, 400, "2.77")
    await fault(compute, sid, {"unshelve": {"host": "node-3"}}, 400, "2.77")
    assert await fault(compute, sid, {"unshelve": {"host": "nowhere"}}, 400, "2.91") == \
        "Compute host nowhere could not be found."
    await act(compute, sid, {"unshelve": {"host": "node-3", "availability_zone": None}},
              version="2.91")
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "node-3"
    assert usage(compute) == {sid: {"node-3": {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}
    await act(compute, sid, {"shelve": None})
    await wait_status(compute, sid, "SHELVED_OFFLOADED")
    await act(compute, sid, {"unshelve": {"availability_zone": "nova"}}, version="2.77")
    pinned = await wait_status(compute, sid, "ACTIVE")
    assert pinned["OS-EXT-AZ:availability_zone"] == "nova"
    own = (await active(tenants.alice, k, name="own"))["id"]
    await act(tenants.alice, own, {"shelve": None})
    await wait_status(compute, own, "SHELVED_OFFLOADED")
    assert await fault(tenants.alice, own, {"unshelve": {"host": "node"}}, 403, "2.91") == \
        "Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed."


# -- backups ---------------------------------------------------------------------------------
async def test_create_backup_keeps_the_newest_of_a_type(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    made = []
    for index in range(3):
        reply = await act(compute, sid, {"createBackup": {
            "name": f"daily-{index}", "backup_type": "daily", "rotation": 2}}, 202, "2.45")
        made.append(reply.json()["image_id"])
        await idle(compute, sid)

        async def settled(index: int = index) -> bool:
            found = await image_named(compute, f"daily-{index}")
            return bool(found) and found[0]["status"] == "active"

        await eventually(settled)

    async def rotated() -> bool:
        return not await image_named(compute, "daily-0")

    await eventually(rotated)
    kept = [(await image_named(compute, f"daily-{i}"))[0] for i in (1, 2)]
    assert [i["id"] for i in kept] == made[1:]
    assert all(i["image_type"] == "backup" and i["backup_type"] == "daily" for i in kept)
    old = await act(compute, sid, {"createBackup": {
        "name": "weekly", "backup_type": "weekly", "rotation": "1"}})
    assert old.headers["Location"].endswith("/images/" + (
        await image_named(compute, "weekly"))[0]["id"])
    await idle(compute, sid)
    none_kept = await act(compute, sid, {"createBackup": {
        "name": "never", "backup_type": "other", "rotation": 0}})
    assert "Location" not in none_kept.headers
    await fault(compute, sid, {"createBackup": {"name": "x", "backup_type": "daily",
                                                "rotation": -1}}, 400)
    await fault(compute, sid, {"createBackup": {"name": "x", "rotation": 1}}, 400)
    await event_result(compute, sid, "createBackup", "compute_snapshot_instance", "Success")


# -- security groups --------------------------------------------------------------------------
async def test_security_groups_on_a_servers_ports(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    network = Api(compute.cloud, "network", compute.token, compute.clients)
    web = (await network.post("/v2.0/security-groups", json={"security_group": {
        "name": "web"}})).json()["security_group"]
    await act(compute, sid, {"addSecurityGroup": {"name": "web"}})
    shown = await server(compute, sid)
    assert shown["security_groups"] == [{"name": "default"}, {"name": "web"}]
    (port,) = (await ports_of(compute, sid)).json()["ports"]
    assert web["id"] in port["security_groups"] and len(port["security_groups"]) == 2
    assert await fault(compute, sid, {"addSecurityGroup": {"name": "nope"}}, 404) == \
        f"Security group nope is not found for project {shown['tenant_id']}"
    assert await fault(compute, sid, {"addSecurityGroup": {"name": "  "}}, 400) == \
        "Security group name cannot be empty"
    await fault(compute, sid, {"addSecurityGroup": {}}, 400)
    await act(compute, sid, {"removeSecurityGroup": {"name": "default"}})
    await act(compute, sid, {"removeSecurityGroup": {"name": web["id"]}})
    assert "security_groups" not in await server(compute, sid)
    (port,) = (await ports_of(compute, sid)).json()["ports"]
    assert port["security_groups"] == []
    assert await fault(compute, sid, {"removeSecurityGroup": {"name": "web"}}, 404) == \
        f"Security group web not associated with the instance {sid}"
    await act(compute, sid, {"addSecurityGroup": {"name": web["id"]}})
    assert (await server(compute, sid))["security_groups"] == [{"name": "web"}]


async def test_set_port_security_groups_over_the_bus(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    (port,) = (await ports_of(compute, sid)).json()["ports"]
    network = compute.cloud.services["compute"].network
    ctx = {"project_id": port["project_id"], "roles": ["admin"], "user_id": "u"}
    cleared = await network.set_port_security_groups(ctx, port["id"], [])
    assert cleared["security_groups"] == [] and cleared["security_group_names"] == []
    again = await network.set_port_security_groups(ctx, port["id"], port["security_groups"])
    assert again["security_group_names"] == ["default"]
    from onestack.network.rpcapi import NetworkError, PortNotFound
    with pytest.raises(PortNotFound):
        await network.set_port_security_groups(ctx, "no-such-port", [])
    with pytest.raises(NetworkError):
        await network.set_port_security_groups(ctx, port["id"], ["no-such-group"])


# -- the smaller actions -------------------------------------------------------------------------
async def test_crash_dump_and_the_network_actions(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    sid = (await active(compute, k))["id"]
    assert await fault(compute, sid, {"trigger_crash_dump": None}, 404, "2.16") == \
        "The resource could not be found."
    await fault(compute, sid, {"trigger_crash_dump": {}}, 400, "2.17")
    await act(compute, sid, {"trigger_crash_dump": None}, version="2.17")
    await event_result(compute, sid, "trigger_crash_dump", "compute_trigger_crash_dump",
                       "Success")
    await act(compute, sid, {"os-stop": None})
    await wait_status(compute, sid, "SHUTOFF")
    assert await fault(compute, sid, {"trigger_crash_dump": None}, 409, "2.17") == \
        f"Cannot 'trigger_crash_dump' instance {sid} while it is in vm_state stopped"
    await act(compute, sid, {"injectNetworkInfo": None})
    reply = await act(compute, sid, {"resetNetwork": None}, 410)
    assert reply.json()["computeFault"]["code"] == 410
    own = (await active(tenants.alice, k, name="own"))["id"]
    assert await fault(tenants.alice, own, {"injectNetworkInfo": None}, 403) == \
        "Policy doesn't allow os_compute_api:os-admin-actions:inject_network_info to be " \
        "performed."
