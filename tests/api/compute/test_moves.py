"""Moving servers on fake hosts: resize with confirm and revert and cold migration,
with Nova's answers and the placement allocations after every step (the source held
by the migration record while a move waits to be confirmed)."""

from __future__ import annotations

from typing import Any

from tests.api.compute.boot import kit, make_flavor, server, wait_status
from tests.api.compute.conftest import Nova, Tenants, eventually
from tests.api.compute.moving import (
    ONE_HOST,
    act,
    active,
    bindings,
    cloud,  # noqa: F401 (three fake hosts for these stories)
    event_result,
    events,
    fault,
    held,
    migration_status,
    migrations,
    usage,
)
from tests.api.compute.test_services import compute_services


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


