"""Restarts: the service going away leaves guests wired (they keep talking); the
next start adopts what is there, rebuilds what went missing and removes what the
database no longer wants; the agents Neutron's clients expect are reported."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

from onestack.cloud import Cloud
from onestack.network.drivers.linux import netlink
from tests.integration.network.conftest import Dataplane, create, guest_port
from tests.integration.network.guests import ip, plug_fake_guest


async def test_guests_survive_a_restart_and_the_kernel_converges(dataplane: Dataplane,
                                                                 admin) -> None:
    prefix = dataplane.prefix
    net = await create(admin, "networks", "network", name="kept")
    await create(admin, "subnets", "subnet", network_id=net["id"], cidr="10.36.0.0/24",
                 ip_version=4)
    ports = [await guest_port(admin, net["id"]) for _ in range(2)]
    guests = [await plug_fake_guest(p["binding:vif_details"], p["mac_address"],
                                    dataplane.name(f"k{i}"), dataplane.workdir)
              for i, p in enumerate(ports)]
    await dataplane.backend.sync()
    for guest in guests:
        await guest.dhcp()
    other = ports[1]["fixed_ips"][0]["ip_address"]
    assert await guests[0].reaches(other)

    # the service stops (as a crash would: nothing is torn down); guests keep talking
    await dataplane.cloud.close()
    assert await guests[0].reaches(other)
    # meanwhile the kernel drifts: DHCP dies with its namespace, strays appear
    dhcp_ns = prefix + "qdhcp-" + net["id"]
    pid = int((Path(dataplane.cloud.config.state_dir) / "network" /
               dataplane.backend.names.table / "dhcp" / net["id"] / "pid").read_text())
    os.kill(pid, signal.SIGKILL)
    await netlink.run(netlink.remove_ns, dhcp_ns)
    stray_router = prefix + "qrouter-" + str(uuid.uuid4())
    await ip("netns", "add", stray_router)
    await ip("-n", prefix + "h1", "link", "add", prefix + "b0000dead", "type", "bridge")

    cloud = Cloud(dataplane.cloud.config)
    dataplane.cloud = cloud
    await cloud.build()  # the backend's first pass converges before the API serves
    spaces = await netlink.run(netlink.namespaces)
    assert stray_router not in spaces and dhcp_ns in spaces
    assert prefix + "b0000dead" not in await netlink.run(netlink.links, prefix + "h1")
    assert await guests[0].reaches(other)
    lease = await guests[1].dhcp()  # dnsmasq is back, with the same answers
    assert lease["ip"] == other

    # the database drops the network: its bridge and DHCP go too
    for port in ports:
        assert (await admin.delete(f"/v2.0/ports/{port['id']}")).status_code == 204
    assert (await admin.delete(f"/v2.0/networks/{net['id']}")).status_code == 204
    await dataplane.backend.sync()
    assert dhcp_ns not in await netlink.run(netlink.namespaces)
    bridge = ports[0]["binding:vif_details"]["bridge"]
    assert bridge not in await netlink.run(netlink.links, prefix + "h1")


async def test_the_agents_are_neutrons(dataplane: Dataplane, admin) -> None:
    agents = (await admin.get("/v2.0/agents")).json()["agents"]
    kinds = {a["agent_type"]: a for a in agents}
    assert set(kinds) == {"Linux bridge agent", "DHCP agent", "L3 agent", "Metadata agent"}
    assert kinds["Linux bridge agent"]["binary"] == "neutron-linuxbridge-agent"
    assert kinds["Linux bridge agent"]["host"] == "host1"
    assert kinds["Linux bridge agent"]["configurations"]["bridge_mappings"] == {
        "physnet1": dataplane.prefix + "ex"}
    assert all(a["alive"] for a in agents)
