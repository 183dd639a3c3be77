"""Routers: subnets joined by a router, an external flat network, floating IPs
(DNAT/SNAT), SNAT for guests without one, and security groups seen from outside."""

from __future__ import annotations

import random

from tests.integration.network.conftest import Dataplane, create, guest_port, update
from tests.integration.network.guests import outside, plug_fake_guest


async def _network(admin, cidr: str, **body) -> tuple[dict, dict]:
    net = await create(admin, "networks", "network", name="net-" + cidr, **body)
    subnet = await create(admin, "subnets", "subnet", network_id=net["id"], cidr=cidr,
                          ip_version=4)
    return net, subnet


async def _guest(dataplane: Dataplane, admin, network_id: str, name: str, **body):
    port = await guest_port(admin, network_id, **body)
    guest = await plug_fake_guest(port["binding:vif_details"], port["mac_address"],
                                  dataplane.name(name), dataplane.workdir)
    return port, guest


async def test_a_router_joins_two_networks(dataplane: Dataplane, admin) -> None:
    net_a, sub_a = await _network(admin, "10.31.1.0/24")
    net_b, sub_b = await _network(admin, "10.31.2.0/24")
    port_a, guest_a = await _guest(dataplane, admin, net_a["id"], "ga")
    port_b, guest_b = await _guest(dataplane, admin, net_b["id"], "gb")
    await dataplane.backend.sync()
    await guest_a.dhcp()
    await guest_b.dhcp()
    address_b = port_b["fixed_ips"][0]["ip_address"]
    assert not await guest_a.ping(address_b)

    router = await create(admin, "routers", "router", name="r1")
    for subnet in (sub_a, sub_b):
        response = await admin.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                                   json={"subnet_id": subnet["id"]})
        assert response.status_code == 200, response.text
    await dataplane.backend.sync()
    assert await guest_a.reaches(address_b)
    assert await guest_b.reaches(port_a["fixed_ips"][0]["ip_address"])

    response = await admin.put(f"/v2.0/routers/{router['id']}/remove_router_interface",
                               json={"subnet_id": sub_b["id"]})
    assert response.status_code == 200, response.text
    await dataplane.backend.sync()
    assert not await guest_a.ping(address_b)


async def test_floating_ip_security_groups_and_snat(dataplane: Dataplane, admin) -> None:
    third = random.randrange(100, 250)
    public = await create(admin, "networks", "network", name="public",
                          **{"router:external": True, "provider:network_type": "flat",
                             "provider:physical_network": "physnet1"})
    assert public["mtu"] == 1500
    ext = await create(admin, "subnets", "subnet", network_id=public["id"],
                       cidr=f"172.24.{third}.0/24", ip_version=4, enable_dhcp=False,
                       gateway_ip=f"172.24.{third}.1")
    private, sub = await _network(admin, "10.32.0.0/24")
    router = await create(admin, "routers", "router", name="edge",
                          external_gateway_info={"network_id": public["id"]})
    response = await admin.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                               json={"subnet_id": sub["id"]})
    assert response.status_code == 200, response.text
    web = await create(admin, "security-groups", "security_group", name="web")
    ssh = await create(admin, "security-group-rules", "security_group_rule",
                       security_group_id=web["id"], direction="ingress", ethertype="IPv4",
                       protocol="tcp", port_range_min=22, port_range_max=22)
    icmp = await create(admin, "security-group-rules", "security_group_rule",
                        security_group_id=web["id"], direction="ingress", ethertype="IPv4",
                        protocol="icmp")
    port, guest = await _guest(dataplane, admin, private["id"], "gw",
                               security_groups=[web["id"]])
    _, plain = await _guest(dataplane, admin, private["id"], "gp")
    fip = await create(admin, "floatingips", "floatingip", floating_network_id=public["id"],
                       port_id=port["id"])
    await dataplane.backend.sync()
    world = await outside(dataplane.name("out"), dataplane.name("ex"),
                          dataplane.name("h1"), f"172.24.{third}.1/24")
    await guest.dhcp()
    await plain.dhcp()
    for listening in (22, 8080):
        await guest.listen(listening)
    await world.listen(9000)

    address = fip["floating_ip_address"]
    assert await world.reaches(address)
    assert (await world.connect(address, 22) or "").startswith("hello from 22")
    assert await world.connect(address, 8080) is None  # not in the group: dropped
    assert await world.connect(port["fixed_ips"][0]["ip_address"], 22) is None
    # out through the floating IP, and through the router's own address (SNAT)
    assert await world.connect(address, 22)
    answer = await guest.connect(f"172.24.{third}.1", 9000)
    assert answer and answer.endswith(f"to {address}"), answer
    gateway_ip = (await admin.get(f"/v2.0/routers/{router['id']}")).json()["router"][
        "external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    answer = await plain.connect(f"172.24.{third}.1", 9000)
    assert answer and answer.endswith(f"to {gateway_ip}"), answer

    # ICMP as its rule says; port 8080 once a rule lets it in
    response = await admin.delete(f"/v2.0/security-group-rules/{icmp['id']}")
    assert response.status_code == 204
    await dataplane.backend.sync()
    assert not await world.ping(address)
    await create(admin, "security-group-rules", "security_group_rule",
                 security_group_id=web["id"], direction="ingress", ethertype="IPv4",
                 protocol="tcp", port_range_min=8000, port_range_max=8100)
    await dataplane.backend.sync()
    assert (await world.connect(address, 8080) or "").startswith("hello from 8080")
    assert ssh and ext

    # the floating IP moves away: the guest is no longer reachable from outside
    await update(admin, "floatingips", "floatingip", fip["id"], port_id=None)
    await dataplane.backend.sync()
    assert await world.connect(address, 22) is None
