"""Servers through the compute API on the fake driver: boot to ACTIVE through the
conductor, scheduler, placement, network and an agent; show, list, update, delete;
and the errors Nova gives for bad references, quota and ambiguity."""

from __future__ import annotations

from typing import Any

from tests.api.compute.boot import (
    boot,
    kit,
    make_flavor,
    make_image,
    make_network,
    server,
    wait_gone,
    wait_status,
)
from tests.api.compute.conftest import Nova, Tenants
from tests.conftest import Api


async def test_boot_to_active_with_a_port_and_an_allocation(compute: Nova) -> None:
    k = await kit(compute)
    created = await boot(compute, k, name="vm-demo")
    assert set(created["server"]) >= {"id", "links", "adminPass", "OS-DCF:diskConfig",
                                      "security_groups"}
    sid = created["server"]["id"]
    shown = await wait_status(compute, sid, "ACTIVE")
    assert shown["OS-EXT-STS:vm_state"] == "active"
    assert shown["OS-EXT-STS:power_state"] == 1
    assert shown["OS-EXT-STS:task_state"] is None
    assert shown["OS-EXT-SRV-ATTR:host"]
    assert shown["hostId"]
    assert shown["OS-SRV-USG:launched_at"]
    (address,) = shown["addresses"]["private-net"]
    assert address["addr"].startswith("192.168.10.")
    assert address["OS-EXT-IPS:type"] == "fixed"
    assert shown["security_groups"] == [{"name": "default"}]
    network_api = Api(compute.cloud, "network", compute.token, compute.clients)
    ports = (await network_api.get(f"/v2.0/ports?device_id={sid}")).json()["ports"]
    assert len(ports) == 1 and ports[0]["device_owner"] == "compute:nova"
    assert ports[0]["binding:host_id"] == shown["OS-EXT-SRV-ATTR:host"]
    placement = compute.cloud.services["placement"].store
    assert placement.consumers[sid].allocations
    actions = (await compute.get(f"/servers/{sid}/os-instance-actions")).json()
    assert [a["action"] for a in actions["instanceActions"]] == ["create"]


async def test_delete_releases_ports_and_allocations(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await boot(compute, k))["server"]["id"]
    await wait_status(compute, sid, "ACTIVE")
    deleted = await compute.delete(f"/servers/{sid}")
    assert deleted.status_code == 204
    await wait_gone(compute, sid)
    network_api = Api(compute.cloud, "network", compute.token, compute.clients)
    assert (await network_api.get(f"/v2.0/ports?device_id={sid}")).json()["ports"] == []
    assert sid not in compute.cloud.services["placement"].store.consumers
    missing = await compute.get(f"/servers/{sid}")
    assert missing.status_code == 404
    assert missing.json() == {"itemNotFound": {"code": 404,
                                               "message": f"Instance {sid} could not be found."}}


async def test_power_actions_walk_the_state_machine(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await boot(compute, k))["server"]["id"]
    await wait_status(compute, sid, "ACTIVE")

    async def act(body: dict[str, Any], status: int = 202) -> None:
        response = await compute.post(f"/servers/{sid}/action", json=body)
        assert response.status_code == status, response.text

    await act({"os-stop": None})
    assert (await wait_status(compute, sid, "SHUTOFF"))["OS-EXT-STS:power_state"] == 4
    await act({"os-stop": None}, 409)
    await act({"os-start": None})
    await wait_status(compute, sid, "ACTIVE")
    await act({"pause": None})
    await wait_status(compute, sid, "PAUSED")
    await act({"unpause": None})
    await wait_status(compute, sid, "ACTIVE")
    await act({"suspend": None})
    await wait_status(compute, sid, "SUSPENDED")
    await act({"resume": None})
    await wait_status(compute, sid, "ACTIVE")
    await act({"reboot": {"type": "HARD"}})
    await wait_status(compute, sid, "ACTIVE")
    await act({"reboot": {"type": "sideways"}}, 400)
    rescued = await compute.post(f"/servers/{sid}/action", json={"rescue": {}})
    assert rescued.status_code == 200 and rescued.json()["adminPass"]
    await wait_status(compute, sid, "RESCUE")
    await act({"unrescue": None})
    await wait_status(compute, sid, "ACTIVE")
    await act({"no-such-action": None}, 400)
    events = (await compute.get(f"/servers/{sid}/os-instance-actions")).json()
    assert {"stop", "start", "pause", "unpause", "suspend", "resume", "reboot", "rescue",
            "unrescue"} <= {a["action"] for a in events["instanceActions"]}


async def test_console_output_reads_the_boot_log(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await boot(compute, k, name="web01"))["server"]["id"]
    await wait_status(compute, sid, "ACTIVE")
    whole = await compute.post(f"/servers/{sid}/action", json={"os-getConsoleOutput": {}})
    assert whole.status_code == 200
    assert "web01" in whole.json()["output"]
    # Nova's tail counts pieces between newlines: the log's final newline leaves an
    # empty last piece, so two pieces are the last line and that newline
    last = await compute.post(f"/servers/{sid}/action",
                              json={"os-getConsoleOutput": {"length": 2}})
    assert last.json()["output"].count("\n") == 1
    assert last.json()["output"].endswith("login:\n")


async def test_list_filters_sort_and_page(compute: Nova) -> None:
    k = await kit(compute)
    ids = [(await boot(compute, k, name=f"list-{i}"))["server"]["id"] for i in range(3)]
    for sid in ids:
        await wait_status(compute, sid, "ACTIVE")
    listed = (await compute.get("/servers")).json()["servers"]
    assert [s["id"] for s in listed] == list(reversed(ids))
    assert set(listed[0]) == {"id", "name", "links"}
    by_name = (await compute.get("/servers?name=list-1")).json()["servers"]
    assert [s["name"] for s in by_name] == ["list-1"]
    paged = (await compute.get("/servers?limit=2")).json()
    assert len(paged["servers"]) == 2 and paged["servers_links"][0]["rel"] == "next"
    rest = (await compute.get(f"/servers?marker={paged['servers'][1]['id']}")).json()
    assert [s["id"] for s in rest["servers"]] == [ids[0]]
    assert (await compute.get("/servers?marker=nope")).status_code == 400
    active = (await compute.get("/servers/detail?status=ACTIVE")).json()["servers"]
    assert len(active) == 3
    assert (await compute.get("/servers/detail?status=BOGUS", version="2.38")
            ).status_code == 400
    assert (await compute.get("/servers/detail?status=BOGUS")).json()["servers"] == []


async def test_update_name_and_description(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await boot(compute, k))["server"]["id"]
    updated = await compute.put(f"/servers/{sid}", version="2.19", json={"server": {
        "name": "renamed", "description": "a web server"}})
    assert updated.status_code == 200, updated.text
    body = updated.json()["server"]
    assert body["name"] == "renamed" and body["description"] == "a web server"
    assert "OS-EXT-STS:vm_state" not in body  # the short body before 2.75
    assert (await compute.put(f"/servers/{sid}", json={"server": {"bogus": 1}})
            ).status_code == 400


async def test_bad_references_are_400(compute: Nova) -> None:
    k = await kit(compute)

    async def refused(status: int = 400, **change: Any) -> str:
        body = {"name": "x", "imageRef": k.image, "flavorRef": k.flavor,
                "networks": [{"uuid": k.network}], **change}
        response = await compute.post("/servers", json={"server": body})
        assert response.status_code == status, response.text
        return str(next(iter(response.json().values()))["message"])

    assert "Flavor" in await refused(flavorRef="no-such-flavor")
    assert "could not be found" in await refused(
        imageRef="6b0b7d38-7a08-4f2c-9c6c-000000000000")
    assert "Network" in await refused(networks=[{"uuid": "6b0b7d38-7a08-4f2c-9c6c-0000000000aa"}])
    assert "key_name" in await refused(key_name="nokey")
    assert "availability zone" in await refused(availability_zone="nowhere")
    assert "Security group" in await refused(security_groups=[{"name": "nope"}])
    await refused(user_data="not base64!!")
    await refused(name="")


async def test_network_choice_when_none_is_named(compute: Nova) -> None:
    k = await kit(compute)
    body = {"name": "auto", "imageRef": k.image, "flavorRef": k.flavor}
    one = await compute.post("/servers", json={"server": body})
    assert one.status_code == 202, one.text
    await make_network(compute, "second-net", "10.9.0.0/24", shared=True)
    many = await compute.post("/servers", json={"server": body})
    assert many.status_code == 409
    assert "Multiple possible networks" in many.json()["conflictingRequest"]["message"]
    required = await compute.post("/servers", version="2.37", json={"server": body})
    assert required.status_code == 400
    none = await compute.post("/servers", version="2.37", json={"server": {
        **body, "networks": "none"}})
    assert none.status_code == 202
    shown = await wait_status(compute, none.json()["server"]["id"], "ACTIVE")
    assert shown["addresses"] == {}


async def test_no_valid_host_is_an_error_with_a_fault(compute: Nova) -> None:
    k = await kit(compute)
    huge = await make_flavor(compute, disk=100_000)
    sid = (await boot(compute, k, flavorRef=huge))["server"]["id"]
    shown = await wait_status(compute, sid, "ERROR")
    assert shown["fault"]["code"] == 500
    assert "No valid host was found" in shown["fault"]["message"]
    assert (await compute.delete(f"/servers/{sid}")).status_code == 204
    await wait_gone(compute, sid)


async def test_quota_is_403_with_novas_message(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    identity_project = tenants.one["id"]
    limited = await compute.put(f"/os-quota-sets/{identity_project}",
                                json={"quota_set": {"instances": 1}})
    assert limited.status_code == 200, limited.text
    await boot(tenants.alice, k, name="first")
    over = await tenants.alice.post("/servers", json={"server": {
        "name": "second", "imageRef": k.image, "flavorRef": k.flavor,
        "networks": [{"uuid": k.network}]}})
    assert over.status_code == 403
    assert over.json()["forbidden"]["message"].startswith("Quota exceeded for instances")


async def test_tenants_do_not_see_each_others_servers(compute: Nova,
                                                      tenants: Tenants) -> None:
    k = await kit(compute)
    sid = (await boot(tenants.alice, k, name="alices"))["server"]["id"]
    await wait_status(tenants.alice, sid, "ACTIVE")
    assert (await tenants.bob.get(f"/servers/{sid}")).status_code == 404
    assert (await tenants.bob.get("/servers")).json()["servers"] == []
    assert (await tenants.bob.delete(f"/servers/{sid}")).status_code == 404
    assert (await tenants.bob.get("/servers?all_tenants=1")).status_code == 403
    everyone = (await compute.get("/servers?all_tenants=1")).json()["servers"]
    assert sid in {s["id"] for s in everyone}
    shown = await server(tenants.alice, sid)
    assert "OS-EXT-SRV-ATTR:host" not in shown


async def test_lock_blocks_members_but_not_admins(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    sid = (await boot(tenants.alice, k))["server"]["id"]
    await wait_status(tenants.alice, sid, "ACTIVE")
    locked = await compute.post(f"/servers/{sid}/action", json={"lock": None})
    assert locked.status_code == 202
    stop = await tenants.alice.post(f"/servers/{sid}/action", json={"os-stop": None})
    assert stop.status_code == 409
    assert (await tenants.alice.delete(f"/servers/{sid}")).status_code == 409
    assert (await tenants.alice.post(f"/servers/{sid}/action", json={"unlock": None})
            ).status_code == 403
    shown = await server(compute.at("2.9"), sid)
    assert shown["locked"] is True
    assert (await compute.post(f"/servers/{sid}/action", json={"unlock": None})
            ).status_code == 202
    assert (await tenants.alice.delete(f"/servers/{sid}")).status_code == 204


async def test_create_image_snapshots_into_the_image_service(compute: Nova) -> None:
    k = await kit(compute)
    sid = (await boot(compute, k))["server"]["id"]
    await wait_status(compute, sid, "ACTIVE")
    response = await compute.post(f"/servers/{sid}/action", version="2.45",
                                  json={"createImage": {"name": "snap", "metadata": {"a": "b"}}})
    assert response.status_code == 202, response.text
    image_id = response.json()["image_id"]
    image_api = Api(compute.cloud, "image", compute.token, compute.clients)

    async def active() -> bool:
        image = (await image_api.get(f"/v2/images/{image_id}")).json()
        return image["status"] == "active"

    from tests.api.compute.conftest import eventually

    await eventually(active)
    image = (await image_api.get(f"/v2/images/{image_id}")).json()
    assert image["instance_uuid"] == sid and image["image_type"] == "snapshot"
    assert image["a"] == "b"
    await wait_status(compute, sid, "ACTIVE")


async def test_many_servers_at_once_spread_names(compute: Nova) -> None:
    k = await kit(compute)
    created = await boot(compute, k, name="multi", min_count=3, max_count=3,
                         return_reservation_id=True)
    reservation = created["reservation_id"]
    found = (await compute.get(f"/servers/detail?reservation_id={reservation}")).json()
    assert sorted(s["name"] for s in found["servers"]) == ["multi-1", "multi-2", "multi-3"]
    for item in found["servers"]:
        await wait_status(compute, item["id"], "ACTIVE")


async def test_image_must_be_active(compute: Nova) -> None:
    k = await kit(compute)
    image_api = Api(compute.cloud, "image", compute.token, compute.clients)
    queued = (await image_api.post("/v2/images", json={
        "name": "empty", "disk_format": "qcow2", "container_format": "bare"})).json()["id"]
    response = await compute.post("/servers", json={"server": {
        "name": "x", "imageRef": queued, "flavorRef": k.flavor,
        "networks": [{"uuid": k.network}]}})
    assert response.status_code == 400
    assert "not active" in response.json()["badRequest"]["message"]
    other = await make_image(compute, "big", min_ram=4096)
    too_small = await compute.post("/servers", json={"server": {
        "name": "x", "imageRef": other, "flavorRef": k.flavor,
        "networks": [{"uuid": k.network}]}})
    assert too_small.status_code == 400

