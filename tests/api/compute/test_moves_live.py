"""Live migration, the migrations of a server in progress, and evacuation, on
fake hosts, with the ports and placement allocations after every step."""

from __future__ import annotations

import sqlalchemy as sa

from onestack.compute import models as m
from tests.api.compute.boot import kit, server, wait_status
from tests.api.compute.conftest import Nova, eventually
from tests.api.compute.moving import (
    act,
    active,
    bindings,
    cloud,  # noqa: F401 (three fake hosts for these stories)
    event_result,
    fault,
    held,
    migration_status,
    usage,
)
from tests.api.compute.test_services import add_migration, compute_services


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


