"""Shelve and unshelve, backups, the security groups of a server's ports and the
smaller actions, on fake hosts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.boot import kit, server, wait_status
from tests.api.compute.conftest import Nova, Tenants, eventually
from tests.api.compute.moving import (
    ONE_HOST,
    act,
    active,
    bindings,
    cloud,  # noqa: F401 (three fake hosts for these stories)
    event_result,
    fault,
    idle,
    ports_of,
    usage,
)
from tests.api.compute.test_services import compute_services
from tests.conftest import Api


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

