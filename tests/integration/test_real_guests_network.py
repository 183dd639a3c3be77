"""Real QEMU guests on the Linux dataplane ("Real networking"): their NICs are taps on
the networks' bridges, so a guest gets its fixed IP from dnsmasq, its instance data
from the metadata service through the dataplane's metadata proxy, reaches the guests
of its network, those of other networks only through a router, and the outside (and
the outside it) through SNAT and its floating IP as its security groups allow.

One guest boots at a time (TCG on a shared 2-core machine)."""

from __future__ import annotations

import base64
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.network.conftest import create, update
from tests.integration.network.guests import outside
from tests.integration.real_network import NIC_LINE, RealNetwork, page, real_network, wget


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[RealNetwork]:
    async with real_network(tmp_path) as plane:
        yield plane


def user_data(script: str) -> str:
    return base64.b64encode(("#!/bin/sh\n" + script).encode()).decode()


async def test_guests_on_one_network_get_dhcp_metadata_and_reach_each_other(
        real: RealNetwork) -> None:
    net, _ = await real.network("private", "10.41.0.0/24")
    assert net["mtu"] == 1450
    first = await real.boot("alpha", net["id"])
    port = await real.port_of(first["id"])
    address = port["fixed_ips"][0]["ip_address"]
    # DHCP from dnsmasq gave the port's fixed IP to the port's MAC
    assert await real.console_lines(first["id"], NIC_LINE) == [
        ("eth0", port["mac_address"], f"{address}/24")]
    console = await real.guests.console(first["id"])
    assert "instance data from metadata-service" in console, console
    assert port["binding:vif_type"] == "tap"
    assert port["binding:vif_details"]["netns"] == real.host_ns
    await real.wait_port(port["id"], "ACTIVE")

    # the second guest's user data asks the first one over the network
    second = await real.boot("beta", net["id"], user_data=user_data(
        f"ping -c 1 -W 2 {address} >/dev/null && echo peer-ping-ok\n"
        f"echo peer-answer=$(timeout 5 wget -q -O - http://{address}/)\n"
        "echo mtu=$(cat /sys/class/net/eth0/mtu)\n"))
    console = await real.guests.console(second["id"])
    other = await real.port_of(second["id"])
    assert await real.console_lines(second["id"], NIC_LINE) == [
        ("eth0", other["mac_address"], f"{other['fixed_ips'][0]['ip_address']}/24")]
    assert "instance data from metadata-service" in console, console
    assert "peer-ping-ok" in console, console
    assert "peer-answer=alpha" in console, console
    assert f"mtu={net['mtu']}" in console, console  # a VXLAN network's 1450, by DHCP
    await real.wait_port(other["id"], "ACTIVE")


async def test_a_guest_on_another_network_reaches_it_only_through_a_router(
        real: RealNetwork) -> None:
    net_a, sub_a = await real.network("net-a", "10.42.1.0/24")
    net_b, sub_b = await real.network("net-b", "10.42.2.0/24")
    server = await real.boot("gamma", net_a["id"])
    address = (await real.port_of(server["id"]))["fixed_ips"][0]["ip_address"]
    # the second network's side: a stand-in guest (a namespace on a port's tap)
    _, stand_in = await real.stand_in(net_b["id"], "sb")
    await real.sync()
    await stand_in.dhcp()
    assert not await stand_in.ping(address)
    assert await wget(stand_in.ns, f"http://{address}/", timeout=2) is None

    router = await create(real.net, "routers", "router", name="r1")
    for subnet in (sub_a, sub_b):
        response = await real.net.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                                      json={"subnet_id": subnet["id"]})
        assert response.status_code == 200, response.text
    await real.sync()
    assert await stand_in.reaches(address)
    assert await page(stand_in.ns, f"http://{address}/") == "gamma\n"


async def test_the_outside_reaches_a_guest_only_through_its_floating_ip(
        real: RealNetwork) -> None:
    third = random.randrange(100, 250)
    outside_ip = f"172.25.{third}.1"
    public = await create(real.net, "networks", "network", name="public",
                          **{"router:external": True, "provider:network_type": "flat",
                             "provider:physical_network": "physnet1"})
    await create(real.net, "subnets", "subnet", network_id=public["id"],
                 cidr=f"172.25.{third}.0/24", ip_version=4, enable_dhcp=False,
                 gateway_ip=outside_ip)
    private, sub = await real.network("private", "10.43.0.0/24")
    router = await create(real.net, "routers", "router", name="edge",
                          external_gateway_info={"network_id": public["id"]})
    response = await real.net.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                                  json={"subnet_id": sub["id"]})
    assert response.status_code == 200, response.text
    web = await create(real.net, "security-groups", "security_group", name="web")
    await create(real.net, "security-group-rules", "security_group_rule",
                 security_group_id=web["id"], direction="ingress", ethertype="IPv4",
                 protocol="tcp", port_range_min=22, port_range_max=22)
    await real.sync()
    # the outside: a namespace on the external flat network, with a web server that
    # says whom it sees
    world = await outside(real.name("out"), real.name("ex"), real.host_ns,
                          f"{outside_ip}/24")
    site = real.workdir / "site"
    (site / "cgi-bin").mkdir(parents=True)
    (site / "cgi-bin" / "ip").write_text(
        '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "from=$REMOTE_ADDR"\n')
    (site / "cgi-bin" / "ip").chmod(0o755)
    code, out = await world.sh("busybox", "httpd", "-p", f"{outside_ip}:9000", "-h",
                               str(site))
    assert code == 0, out  # it daemonizes; removing the namespace ends it

    server = await real.boot("delta", private["id"], security_groups=[{"name": "web"}],
                             user_data=user_data(
                                 f"echo outside-says-$(timeout 5 wget -q -O - "
                                 f"http://{outside_ip}:9000/cgi-bin/ip)\n"))
    port = await real.port_of(server["id"])
    gateway_ip = (await real.net.get(f"/v2.0/routers/{router['id']}")).json()["router"][
        "external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    # out through the router's address (SNAT): the guest has no floating IP yet
    console = await real.guests.console(server["id"])
    assert f"outside-says-from={gateway_ip}" in console, console

    # from outside, the fixed IP is not routed and the floating IP not yet wired
    fixed = port["fixed_ips"][0]["ip_address"]
    assert await wget(world.ns, f"http://{fixed}:22/", timeout=2) is None
    fip = await create(real.net, "floatingips", "floatingip",
                       floating_network_id=public["id"])
    address = fip["floating_ip_address"]
    await real.sync()
    assert await wget(world.ns, f"http://{address}:22/", timeout=2) is None
    await update(real.net, "floatingips", "floatingip", fip["id"], port_id=port["id"])
    await real.sync()
    assert await page(world.ns, f"http://{address}:22/") == "delta\n"
    assert await wget(world.ns, f"http://{address}:8080/", timeout=3) is None  # no rule
    # the group, not the floating IP, kept 8080 out: a rule lets it in
    await create(real.net, "security-group-rules", "security_group_rule",
                 security_group_id=web["id"], direction="ingress", ethertype="IPv4",
                 protocol="tcp", port_range_min=8080, port_range_max=8080)
    await real.sync()
    assert await page(world.ns, f"http://{address}:8080/") == "delta\n"
