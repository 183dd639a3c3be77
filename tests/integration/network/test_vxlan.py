"""One tenant network across two hosts over VXLAN: each host a namespace with its
own backend (the second one a networking service without API on the same
database, as another host of a distributed deployment), joined by a veth
underlay; guests on each reach each other, DHCP and metadata served from the first."""

from __future__ import annotations

import pytest

from onestack.network.service import close, open_networking
from tests.integration.network.conftest import (
    Dataplane,
    create,
    eventually,
    guest_port,
    linux_config,
    show,
)
from tests.integration.network.guests import ip, plug_fake_guest

UNDERLAY = "10.250.0."


@pytest.mark.parametrize("network_settings", [{"local_ip": UNDERLAY + "1"}])
async def test_guests_on_two_hosts_share_a_vxlan_network(dataplane: Dataplane, admin
                                                         ) -> None:
    prefix = dataplane.prefix
    config = linux_config(dataplane.cloud.config.state_dir, prefix, host="host2",
                          host_namespace=prefix + "h2", local_ip=UNDERLAY + "2",
                          dhcp_agent=False, l3_agent=False)
    config.database = dataplane.cloud.config.database
    second = await open_networking(config)
    try:
        await ip("-n", prefix + "h1", "link", "add", prefix + "u1", "type", "veth", "peer",
                 "name", prefix + "u2", "netns", prefix + "h2")
        for end, host in (("1", "h1"), ("2", "h2")):
            await ip("-n", prefix + host, "addr", "add", UNDERLAY + end + "/24", "dev",
                     prefix + "u" + end)
            await ip("-n", prefix + host, "link", "set", prefix + "u" + end, "up")

        net = await create(admin, "networks", "network", name="spanning")
        assert net["provider:network_type"] == "vxlan" and net["mtu"] == 1450
        await create(admin, "subnets", "subnet", network_id=net["id"], cidr="10.35.0.0/24",
                     ip_version=4)
        here = await guest_port(admin, net["id"], host="host1")
        there = await guest_port(admin, net["id"], host="host2")
        assert there["binding:vif_details"]["netns"] == prefix + "h2"
        await dataplane.backend.sync()
        await second.backend.sync()
        guests = [await plug_fake_guest(p["binding:vif_details"], p["mac_address"],
                                        dataplane.name(f"v{i}"), dataplane.workdir)
                  for i, p in enumerate((here, there))]

        async def active() -> bool:
            return (await show(admin, "ports", "port", there["id"]))["status"] == "ACTIVE"
        await second.backend.sync()
        assert await eventually(active)

        for guest in guests:
            await guest.dhcp()  # the second host's guest, from dnsmasq on the first
        assert await guests[0].reaches(there["fixed_ips"][0]["ip_address"])
        assert await guests[1].reaches(here["fixed_ips"][0]["ip_address"])
        # a full-size frame fits: the network's MTU leaves room for the VXLAN header
        # (a bridge does not fragment: a frame larger than the VXLAN device's MTU drops)
        code, out = await guests[1].sh("busybox", "ping", "-c", "1", "-W", "2", "-s",
                                       "1422", here["fixed_ips"][0]["ip_address"])
        assert code == 0, out
    finally:
        await close(second)
