"""Ports: addresses requested or allocated, MACs, binding, exhaustion, release, and
no double allocation under concurrent creation."""

from __future__ import annotations

import asyncio

from tests.api.network.conftest import Tenants, create, error_type, net_with_subnet
from tests.conftest import Api


async def test_port_gets_an_address_a_mac_and_the_default_group(network: Api) -> None:
    net, sub = await net_with_subnet(network, "10.1.0.0/24")
    port = await create(network, "ports", "port", network_id=net["id"], name="p")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.2"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["status"] == "DOWN" and port["binding:vif_type"] == "unbound"
    groups = (await network.get("/v2.0/security-groups?name=default")).json()
    assert port["security_groups"] == [groups["security_groups"][0]["id"]]


async def test_requested_ip_and_conflicts(network: Api) -> None:
    net, sub = await net_with_subnet(network, "10.2.0.0/24")
    port = await create(network, "ports", "port", network_id=net["id"],
                        fixed_ips=[{"ip_address": "10.2.0.50"}])
    assert port["fixed_ips"][0]["ip_address"] == "10.2.0.50"
    again = await network.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.2.0.50"}]}})
    assert again.status_code == 409 and error_type(again) == "IpAddressAlreadyAllocated"
    outside = await network.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": sub["id"],
                                                "ip_address": "10.3.0.5"}]}})
    assert outside.status_code == 400
    mac = await network.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "mac_address": port["mac_address"]}})
    assert mac.status_code == 409 and error_type(mac) == "MacAddressInUse"
    # released on delete: the address can be taken again
    assert (await network.delete(f"/v2.0/ports/{port['id']}")).status_code == 204
    reuse = await create(network, "ports", "port", network_id=net["id"],
                         fixed_ips=[{"ip_address": "10.2.0.50"}])
    assert reuse["fixed_ips"][0]["ip_address"] == "10.2.0.50"


async def test_exhaustion_is_409(network: Api) -> None:
    net, _ = await net_with_subnet(network, "10.4.0.0/29")  # .2 - .6: five addresses
    for _ in range(5):
        await create(network, "ports", "port", network_id=net["id"])
    full = await network.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
    assert full.status_code == 409 and error_type(full) == "IpAddressGenerationFailure"


async def test_concurrent_creation_never_double_allocates(network: Api) -> None:
    net, _ = await net_with_subnet(network, "10.5.0.0/27")  # 29 addresses
    responses = await asyncio.gather(*[
        network.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        for _ in range(35)])
    created = [r.json()["port"] for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in created]
    assert len(created) == 29 and len(set(addresses)) == 29
    assert all(r.status_code == 409 for r in refused)


async def test_binding_through_the_backend_marks_active(cloud, network: Api) -> None:  # type: ignore[no-untyped-def]
    net, _ = await net_with_subnet(network, "10.6.0.0/24")
    port = await create(network, "ports", "port", network_id=net["id"],
                        device_id="vm-1", device_owner="compute:nova")
    bound = await network.put(f"/v2.0/ports/{port['id']}",
                              json={"port": {"binding:host_id": "host-1"}})
    body = bound.json()["port"]
    assert body["status"] == "ACTIVE" and body["binding:vif_type"] == "bridge"
    backend = cloud.services["network"].backend
    assert ("bind_port", port["id"]) in backend.events
    by_device = await network.get("/v2.0/ports?device_id=vm-1")
    assert [p["id"] for p in by_device.json()["ports"]] == [port["id"]]
    unbound = await network.put(f"/v2.0/ports/{port['id']}",
                                json={"port": {"binding:host_id": ""}})
    assert unbound.json()["port"]["status"] == "DOWN"


async def test_address_pairs_and_port_security(network: Api) -> None:
    net, _ = await net_with_subnet(network, "10.7.0.0/24")
    port = await create(network, "ports", "port", network_id=net["id"],
                        allowed_address_pairs=[{"ip_address": "10.7.0.100"}])
    assert port["allowed_address_pairs"] == [{"ip_address": "10.7.0.100"}]
    refused = await network.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "port_security_enabled": False,
        "allowed_address_pairs": [{"ip_address": "10.7.0.101"}]}})
    assert refused.status_code == 409
    plain = await create(network, "ports", "port", network_id=net["id"],
                         port_security_enabled=False)
    assert plain["security_groups"] == []


async def test_a_list_shows_each_port_as_its_show(network: Api, tenants: Tenants) -> None:
    """The list joins JSON rendered from the rows; it must read as the shows do."""
    net, _ = await net_with_subnet(tenants.alice, "10.8.0.0/24")
    plain = await create(tenants.alice, "ports", "port", network_id=net["id"],
                         name='quote " and \\ ünï', description="d")
    tagged = await create(tenants.alice, "ports", "port", network_id=net["id"],
                          name="tagged", device_id="vm-8")
    assert (await network.put(f"/v2.0/ports/{tagged['id']}/tags",
                              json={"tags": ["x", "y"]})).status_code == 200
    bound = await network.put(f"/v2.0/ports/{plain['id']}", json={"port": {
        "binding:host_id": "host-8", "binding:profile": {"k": "v"}}})
    assert bound.status_code == 200, bound.text
    for api in (network, tenants.alice):
        shows = [(await api.get(f"/v2.0/ports/{p['id']}")).json()["port"]
                 for p in (plain, tagged)]
        listed = (await api.get(f"/v2.0/ports?network_id={net['id']}")).json()["ports"]
        assert listed == shows
    member_view = shows[0]
    assert "binding:host_id" not in member_view and member_view["binding:vnic_type"] == "normal"
    admin_view = (await network.get(f"/v2.0/ports/{plain['id']}")).json()["port"]
    assert admin_view["binding:profile"] == {"k": "v"} and admin_view["tags"] == []

    async def ids(query: str) -> list[str]:
        response = await network.get(f"/v2.0/ports?network_id={net['id']}&{query}")
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["ports"]]
    assert await ids("name=tagged") == [tagged["id"]]
    assert await ids(f"id={plain['id']}&id={tagged['id']}") == [plain["id"], tagged["id"]]
    assert await ids("device_id=vm-8") == [tagged["id"]]
    assert await ids("tags=x") == [tagged["id"]]
    assert await ids("binding:host_id=host-8") == [plain["id"]]
    assert await ids("sort_key=name&sort_dir=desc") == [tagged["id"], plain["id"]]
    only = (await network.get(f"/v2.0/ports?id={tagged['id']}&fields=id&fields=tags")).json()
    assert only == {"ports": [{"id": tagged["id"], "tags": ["x", "y"]}]}
