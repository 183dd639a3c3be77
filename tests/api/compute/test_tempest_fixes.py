"""Behaviour Tempest's compute tests found wrong, each checked as Nova documents it:
server bodies per microversion, locks, list filters, console output, request ids,
version documents, snapshots; and the older APIs Nova still answers (os-hosts,
extensions, diagnostics, server passwords, deferred delete, external events, the
usage audit log, and the image and networking proxies up to 2.35)."""

from __future__ import annotations

from typing import Any

from tests.api.compute.boot import Kit, boot, kit, make_image, server, wait_status
from tests.api.compute.conftest import Nova, Tenants, eventually
from tests.conftest import Api


async def _active(api: Nova, k: Kit, **extra: Any) -> str:
    sid = str((await boot(api, k, **extra))["server"]["id"])
    await wait_status(api, sid, "ACTIVE")
    return sid


def _network_api(api: Nova) -> Api:
    return Api(api.cloud, "network", api.token, api.clients)


# -- server bodies -------------------------------------------------------------------------
async def test_update_and_rebuild_bodies_follow_the_microversion(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    updated = await compute.put(f"/servers/{sid}", version="2.9",
                                json={"server": {"name": "renamed"}})
    assert updated.status_code == 200
    body = updated.json()["server"]
    assert body["locked"] is False and "OS-EXT-STS:vm_state" not in body
    other = await make_image(compute, "other")
    rebuilt = await compute.post(f"/servers/{sid}/action", version="2.57", json={
        "rebuild": {"imageRef": other, "OS-DCF:diskConfig": "AUTO"}})
    assert rebuilt.status_code == 202, rebuilt.text
    body = rebuilt.json()["server"]
    assert {"locked", "tags", "key_name", "user_data", "adminPass"} <= set(body)
    assert "OS-EXT-SRV-ATTR:user_data" not in body and "server_groups" not in body
    assert body["OS-DCF:diskConfig"] == "AUTO"
    await wait_status(compute, sid, "ACTIVE")
    at_75 = await compute.post(f"/servers/{sid}/action", version="2.75",
                               json={"rebuild": {"imageRef": other}})
    body = at_75.json()["server"]
    assert "OS-EXT-STS:vm_state" in body and "OS-EXT-SRV-ATTR:user_data" not in body
    await wait_status(compute, sid, "ACTIVE")


async def test_server_groups_show_on_one_server_not_in_lists(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    assert (await server(compute.at("2.71"), sid))["server_groups"] == []
    updated = await compute.put(f"/servers/{sid}", version="2.71",
                                json={"server": {"name": "x"}})
    assert updated.json()["server"]["server_groups"] == []
    listed = (await compute.get("/servers/detail", version="2.71")).json()["servers"]
    assert listed and all("server_groups" not in s for s in listed)


async def test_access_ipv6_is_shown_in_its_shortest_form(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k, accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2")
    assert (await server(compute, sid))["accessIPv6"] == "::babe:dc0c:1602"


async def test_a_lock_by_the_owner_still_stops_the_owner(compute: Nova,
                                                         tenants: Tenants) -> None:
    k = await kit(compute)
    sid = await _active(tenants.alice, k)
    assert (await tenants.alice.post(f"/servers/{sid}/action", json={"lock": None})
            ).status_code == 202
    stop = await tenants.alice.post(f"/servers/{sid}/action", json={"os-stop": None})
    assert stop.status_code == 409
    assert (await tenants.alice.post(f"/servers/{sid}/action", json={"unlock": None})
            ).status_code == 202
    assert (await tenants.alice.post(f"/servers/{sid}/action", json={"os-stop": None})
            ).status_code == 202


async def test_tenant_filter_needs_all_tenants(compute: Nova, tenants: Tenants) -> None:
    k = await kit(compute)
    sid = await _active(tenants.alice, k)
    project = tenants.one["id"]
    alone = (await compute.get(f"/servers?tenant_id={project}")).json()["servers"]
    assert sid not in {s["id"] for s in alone}
    everyone = (await compute.get(f"/servers?all_tenants=&tenant_id={project}")).json()
    assert [s["id"] for s in everyone["servers"]] == [sid]
    bad = await compute.get("/servers?all_tenants=maybe")
    assert bad.status_code == 400


async def test_rescue_checks_its_image(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    missing = await compute.post(f"/servers/{sid}/action", json={
        "rescue": {"rescue_image_ref": "8f9e9f44-8d9c-4b9a-a6b4-6c8b1f4c1f00"}})
    assert missing.status_code == 400
    unknown = await compute.post(f"/servers/{sid}/action", json={"rescue": {"x": 1}})
    assert unknown.status_code == 400
    rescued = await compute.post(f"/servers/{sid}/action", json={
        "rescue": {"rescue_image_ref": k.image}})
    assert rescued.status_code == 200 and rescued.json()["adminPass"]
    await wait_status(compute, sid, "RESCUE")


async def test_console_output_tails_by_newline(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    out = await compute.post(f"/servers/{sid}/action",
                             json={"os-getConsoleOutput": {"length": 3}})
    assert out.status_code == 200
    assert len(out.json()["output"].split("\n")) == 3


async def test_request_id_headers_and_version_documents(compute: Nova) -> None:
    response = await compute.get("/flavors")
    assert response.headers["x-compute-request-id"] == \
        response.headers["x-openstack-request-id"]
    v2 = await compute.get("/v2/")
    assert v2.status_code == 200
    assert v2.json()["version"]["id"] == "v2.0"


# -- snapshots -------------------------------------------------------------------------------
async def test_create_image_metadata_wins_and_is_checked(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    made = await compute.post(f"/servers/{sid}/action", version="2.45", json={
        "createImage": {"name": "snap", "metadata": {"image_type": "test"}}})
    assert made.status_code == 202, made.text
    image_id = made.json()["image_id"]
    image_api = Api(compute.cloud, "image", compute.token, compute.clients)

    async def active() -> bool:
        return (await image_api.get(f"/v2/images/{image_id}")).json()["status"] == "active"

    await eventually(active)
    assert (await image_api.get(f"/v2/images/{image_id}")).json()["image_type"] == "test"
    await wait_status(compute, sid, "ACTIVE")
    bad = await compute.post(f"/servers/{sid}/action", json={
        "createImage": {"name": "snap", "metadata": {"": "x"}}})
    assert bad.status_code == 400
    too_many = {f"k{i}": "v" for i in range(129)}
    over = await compute.post(f"/servers/{sid}/action", json={
        "createImage": {"name": "snap", "metadata": too_many}})
    assert over.status_code == 403


async def test_a_snapshot_deleted_while_saving_frees_the_server(compute: Nova) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    made = await compute.post(f"/servers/{sid}/action", version="2.45",
                              json={"createImage": {"name": "gone"}})
    image_id = made.json()["image_id"]
    assert (await compute.delete(f"/images/{image_id}")).status_code in (204, 404)

    async def free() -> bool:
        return (await server(compute, sid))["OS-EXT-STS:task_state"] is None

    await eventually(free)


# -- image proxy ---------------------------------------------------------------------------
async def test_image_proxy_lists_shows_and_edits_metadata(compute: Nova) -> None:
    image_id = await make_image(compute, "proxied", min_ram=64)
    listed = (await compute.get("/images")).json()["images"]
    assert image_id in {i["id"] for i in listed}
    shown = (await compute.get(f"/images/{image_id}")).json()["image"]
    assert shown["status"] == "ACTIVE" and shown["minRam"] == 64
    assert shown["progress"] == 100 and shown["metadata"] == {}
    active = (await compute.get("/images/detail?status=ACTIVE")).json()["images"]
    assert image_id in {i["id"] for i in active}
    meta = await compute.post(f"/images/{image_id}/metadata",
                              json={"metadata": {"os_distro": "cirros"}})
    assert meta.json() == {"metadata": {"os_distro": "cirros"}}
    item = await compute.put(f"/images/{image_id}/metadata/os_distro",
                             json={"meta": {"os_distro": "ubuntu"}})
    assert item.json() == {"meta": {"os_distro": "ubuntu"}}
    mismatch = await compute.put(f"/images/{image_id}/metadata/other",
                                 json={"meta": {"os_distro": "x"}})
    assert mismatch.status_code == 400
    assert (await compute.delete(f"/images/{image_id}/metadata/os_distro")).status_code == 204
    assert (await compute.get(f"/images/{image_id}/metadata")).json() == {"metadata": {}}
    assert (await compute.get(f"/images/{image_id}", version="2.36")).status_code == 404
    assert (await compute.delete(f"/images/{image_id}")).status_code == 204
    assert (await compute.get(f"/images/{image_id}")).status_code == 404
    assert (await compute.delete("/images/")).status_code == 404


# -- networking proxies --------------------------------------------------------------------
async def test_security_group_proxy(compute: Nova, tenants: Tenants) -> None:
    alice = tenants.alice
    made = await alice.post("/os-security-groups", json={"security_group": {
        "name": "web", "description": "web servers"}})
    assert made.status_code == 200, made.text
    group = made.json()["security_group"]
    assert group["rules"] == [] and group["tenant_id"] == tenants.one["id"]
    blank = await alice.post("/os-security-groups", json={"security_group": {
        "name": "x", "description": ""}})
    assert blank.status_code == 400
    rule = await alice.post("/os-security-group-rules", json={"security_group_rule": {
        "parent_group_id": group["id"], "ip_protocol": "tcp", "from_port": 22,
        "to_port": 22, "cidr": "10.0.0.0/8"}})
    assert rule.status_code == 200, rule.text
    body = rule.json()["security_group_rule"]
    assert body["ip_range"] == {"cidr": "10.0.0.0/8"} and body["from_port"] == 22
    again = await alice.post("/os-security-group-rules", json={"security_group_rule": {
        "parent_group_id": group["id"], "ip_protocol": "tcp", "from_port": 22,
        "to_port": 22, "cidr": "10.0.0.0/8"}})
    assert again.status_code == 400
    for bad in ({"ip_protocol": "abc", "from_port": 1, "to_port": 2},
                {"ip_protocol": "tcp", "from_port": 30, "to_port": 20},
                {"ip_protocol": "tcp", "from_port": "x", "to_port": 20}):
        refused = await alice.post("/os-security-group-rules", json={
            "security_group_rule": {"parent_group_id": group["id"], **bad}})
        assert refused.status_code == 400, bad
    names = [g["name"] for g in (await alice.get("/os-security-groups")).json()[
        "security_groups"]]
    assert "web" in names and "default" in names
    default = next(g for g in (await alice.get("/os-security-groups")).json()[
        "security_groups"] if g["name"] == "default")
    assert (await alice.delete(f"/os-security-groups/{default['id']}")).status_code == 400
    assert (await alice.delete(f"/os-security-group-rules/{body['id']}")).status_code == 202
    assert (await alice.delete(f"/os-security-groups/{group['id']}")).status_code == 202
    assert (await alice.get(f"/os-security-groups/{group['id']}")).status_code == 404
    assert (await alice.get("/os-security-groups/not-a-uuid")).status_code == 400
    assert (await alice.delete("/os-security-groups/")).status_code == 404
    assert (await alice.get("/os-security-groups", version="2.36")).status_code == 404


async def test_floating_ip_proxy_and_actions(compute: Nova) -> None:
    net = _network_api(compute)
    public = (await net.post("/v2.0/networks", json={"network": {
        "name": "public", "router:external": True}})).json()["network"]
    await net.post("/v2.0/subnets", json={"subnet": {
        "network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4}})
    k = await kit(compute)
    router = (await net.post("/v2.0/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": public["id"]}}})).json()
    subnet = (await net.get(f"/v2.0/subnets?network_id={k.network}")).json()["subnets"][0]
    await net.put(f"/v2.0/routers/{router['router']['id']}/add_router_interface",
                  json={"subnet_id": subnet["id"]})
    pools = (await compute.get("/os-floating-ip-pools")).json()["floating_ip_pools"]
    assert {"name": "public"} in pools
    made = await compute.post("/os-floating-ips", json={"pool": "public"})
    assert made.status_code == 200, made.text
    fip = made.json()["floating_ip"]
    assert fip["pool"] == "public" and fip["instance_id"] is None
    assert (await compute.post("/os-floating-ips", json={"pool": "nope"})).status_code == 404
    sid = await _active(compute, k)
    add = await compute.post(f"/servers/{sid}/action",
                             json={"addFloatingIp": {"address": fip["ip"]}})
    assert add.status_code == 202, add.text
    shown = (await compute.get(f"/os-floating-ips/{fip['id']}")).json()["floating_ip"]
    assert shown["instance_id"] == sid and shown["fixed_ip"]
    missing = await compute.post(f"/servers/{sid}/action",
                                 json={"removeFloatingIp": {"address": "10.10.10.10"}})
    assert missing.status_code == 404
    remove = await compute.post(f"/servers/{sid}/action",
                                json={"removeFloatingIp": {"address": fip["ip"]}})
    assert remove.status_code == 202
    assert (await compute.delete(f"/os-floating-ips/{fip['id']}")).status_code == 202
    assert (await compute.get(f"/os-floating-ips/{fip['id']}")).status_code == 404
    networks = (await compute.get("/os-tenant-networks")).json()["networks"]
    assert any(n["id"] == k.network and n["label"] == "private-net" for n in networks)
    legacy = (await compute.get(f"/os-networks/{public['id']}")).json()["network"]
    assert legacy["label"] == "public" and legacy["mtu"] is None


# -- older admin APIs ------------------------------------------------------------------------
async def test_os_hosts(compute: Nova, tenants: Tenants) -> None:
    hosts = (await compute.get("/os-hosts")).json()["hosts"]
    computes = [h for h in hosts if h["service"] == "compute"]
    assert computes and computes[0]["zone"] == "nova"
    assert (await compute.get("/os-hosts?zone=xxx")).json()["hosts"] == []
    name = computes[0]["host_name"]
    detail = (await compute.get(f"/os-hosts/{name}")).json()["host"]
    assert [r["resource"]["project"] for r in detail[:3]] == ["(total)", "(used_now)",
                                                                "(used_max)"]
    assert (await compute.get("/os-hosts/nowhere")).status_code == 404
    assert (await compute.put(f"/os-hosts/{name}", json={"status": "bogus"})
            ).status_code == 400
    assert (await compute.put(f"/os-hosts/{name}", json={})).status_code == 400
    assert (await compute.get("/os-hosts/nowhere/reboot")).status_code == 404
    assert (await tenants.alice.get("/os-hosts")).status_code == 403
    assert (await compute.get("/os-hosts", version="2.43")).status_code == 404


async def test_extensions_and_usage_audit_log(compute: Nova) -> None:
    names = [e["name"] for e in (await compute.get("/extensions")).json()["extensions"]]
    assert "Hosts" in names
    shown = await compute.get("/extensions/os-consoles")
    assert shown.json()["extension"]["alias"] == "os-consoles"
    assert (await compute.get("/extensions/nope")).status_code == 404
    logs = (await compute.get("/os-instance_usage_audit_log")).json()
    assert logs["instance_usage_audit_logs"]["num_hosts"] >= 1
    dated = await compute.get("/os-instance_usage_audit_log/2026-01-15 10:00:00")
    assert dated.json()["instance_usage_audit_log"]["period_ending"] == "2026-01-01 00:00:00"
    assert (await compute.get("/os-instance_usage_audit_log/invalid_time")).status_code == 400


async def test_diagnostics_password_deferred_delete_and_events(compute: Nova,
                                                               tenants: Tenants) -> None:
    k = await kit(compute)
    sid = await _active(compute, k)
    legacy = (await compute.get(f"/servers/{sid}/diagnostics")).json()
    assert legacy["memory"] > 0
    modern = (await compute.get(f"/servers/{sid}/diagnostics", version="2.48")).json()
    assert modern["state"] == "running" and modern["num_nics"] == 1
    assert modern["memory_details"]["maximum"] == 512
    assert (await compute.get(f"/servers/{sid}/os-server-password")).json() == {
        "password": ""}
    assert (await compute.delete(f"/servers/{sid}/os-server-password")).status_code == 204
    restore = await compute.post(f"/servers/{sid}/action", json={"restore": None})
    assert restore.status_code == 409
    events = await compute.post("/os-server-external-events", json={"events": [
        {"name": "network-changed", "server_uuid": sid},
        {"name": "network-changed", "server_uuid": "8f9e9f44-8d9c-4b9a-a6b4-6c8b1f4c1f00"}]})
    assert events.status_code == 207
    assert [e["code"] for e in events.json()["events"]] == [200, 404]
    assert (await tenants.alice.post("/os-server-external-events", json={"events": [
        {"name": "network-changed", "server_uuid": sid}]})).status_code == 403
    gone = await compute.post(f"/servers/{sid}/action", json={"forceDelete": None})
    assert gone.status_code == 202

    async def deleted() -> bool:
        return (await compute.get(f"/servers/{sid}")).status_code == 404

    await eventually(deleted)
