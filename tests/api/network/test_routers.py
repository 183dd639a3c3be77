"""Routers, their gateway and interfaces, and floating IPs."""

from __future__ import annotations

from typing import Any

from tests.api.network.conftest import create, error_type, net_with_subnet
from tests.conftest import Api


async def _public(network: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    pub = await create(network, "networks", "network", name="public",
                       **{"router:external": True})
    sub = await create(network, "subnets", "subnet", network_id=pub["id"],
                       cidr="203.0.113.0/24", ip_version=4, enable_dhcp=False)
    return pub, sub


async def test_router_gateway_interface_and_floating_ip(network: Api) -> None:
    pub, _ = await _public(network)
    net, sub = await net_with_subnet(network, "192.168.10.0/24")
    router = await create(network, "routers", "router", name="r",
                          external_gateway_info={"network_id": pub["id"]})
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == pub["id"] and gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"][0]["ip_address"].startswith("203.0.113.")
    added = await network.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                              json={"subnet_id": sub["id"]})
    assert added.status_code == 200 and added.json()["subnet_id"] == sub["id"]
    ports = (await network.get(f"/v2.0/ports?device_id={router['id']}")).json()["ports"]
    assert "192.168.10.1" in [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]
    twice = await network.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                              json={"subnet_id": sub["id"]})
    assert twice.status_code == 400
    vm = await create(network, "ports", "port", network_id=net["id"])
    fip = await create(network, "floatingips", "floatingip", floating_network_id=pub["id"],
                       port_id=vm["id"])
    assert fip["router_id"] == router["id"] and fip["fixed_ip_address"] == \
        vm["fixed_ips"][0]["ip_address"]
    assert fip["status"] == "ACTIVE"
    in_use = await network.put(f"/v2.0/routers/{router['id']}/remove_router_interface",
                               json={"subnet_id": sub["id"]})
    assert in_use.status_code == 409
    off = await network.put(f"/v2.0/floatingips/{fip['id']}",
                            json={"floatingip": {"port_id": None}})
    assert off.json()["floatingip"]["port_id"] is None
    busy = await network.delete(f"/v2.0/routers/{router['id']}")
    assert busy.status_code == 409 and error_type(busy) == "RouterInUse"
    removed = await network.put(f"/v2.0/routers/{router['id']}/remove_router_interface",
                                json={"subnet_id": sub["id"]})
    assert removed.status_code == 200
    assert (await network.delete(f"/v2.0/floatingips/{fip['id']}")).status_code == 204
    assert (await network.delete(f"/v2.0/routers/{router['id']}")).status_code == 204


async def test_overlapping_subnets_refused_within_one_router(network: Api) -> None:
    _, one = await net_with_subnet(network, "10.10.0.0/24")
    _, two = await net_with_subnet(network, "10.10.0.0/24")
    router = await create(network, "routers", "router", name="r")
    ok = await network.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                           json={"subnet_id": one["id"]})
    assert ok.status_code == 200
    overlap = await network.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                                json={"subnet_id": two["id"]})
    assert overlap.status_code == 400


async def test_static_routes_need_a_connected_nexthop(network: Api) -> None:
    _, sub = await net_with_subnet(network, "10.11.0.0/24")
    router = await create(network, "routers", "router")
    await network.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                      json={"subnet_id": sub["id"]})
    good = await network.put(f"/v2.0/routers/{router['id']}", json={"router": {"routes": [
        {"destination": "172.16.0.0/16", "nexthop": "10.11.0.7"}]}})
    assert good.status_code == 200 and len(good.json()["router"]["routes"]) == 1
    bad = await network.put(f"/v2.0/routers/{router['id']}", json={"router": {"routes": [
        {"destination": "172.16.0.0/16", "nexthop": "10.99.0.7"}]}})
    assert bad.status_code == 400


async def test_floating_ip_needs_an_external_network_and_a_route(network: Api) -> None:
    pub, _ = await _public(network)
    net, _ = await net_with_subnet(network, "10.12.0.0/24")
    internal = await network.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": net["id"]}})
    assert internal.status_code == 400
    vm = await create(network, "ports", "port", network_id=net["id"])
    unreachable = await network.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": pub["id"], "port_id": vm["id"]}})
    assert unreachable.status_code == 404
    assert error_type(unreachable) == "ExternalGatewayForFloatingIPNotFound"
    free = await create(network, "floatingips", "floatingip", floating_network_id=pub["id"])
    assert free["status"] == "DOWN" and free["floating_ip_address"].startswith("203.0.113.")
