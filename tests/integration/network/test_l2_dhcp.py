"""Guests on one private network: addresses by DHCP, each other reachable, the
port ACTIVE once its tap is in the bridge, the DHCP options Neutron gives."""

from __future__ import annotations

from tests.integration.network.conftest import Dataplane, create, eventually, guest_port, show
from tests.integration.network.guests import plug_fake_guest


async def test_two_guests_get_addresses_by_dhcp_and_ping(dataplane: Dataplane, admin) -> None:
    net = await create(admin, "networks", "network", name="private")
    assert net["mtu"] == 1450  # a VXLAN network: the underlay's 1500 minus 50
    subnet = await create(admin, "subnets", "subnet", network_id=net["id"],
                          cidr="10.20.0.0/24", ip_version=4, dns_nameservers=["192.0.2.53"])
    one = await guest_port(admin, net["id"])
    two = await guest_port(admin, net["id"])
    assert one["status"] == "DOWN"
    details = one["binding:vif_details"]
    assert details == {"bridge": dataplane.prefix + "b" + net["id"].replace("-", "")[:8],
                       "netns": dataplane.name("h1"), "tap_name": "tap" + one["id"][:11],
                       "mtu": 1450}
    guests = [await plug_fake_guest(p["binding:vif_details"], p["mac_address"],
                                    dataplane.name(f"g{i}"), dataplane.workdir)
              for i, p in enumerate((one, two))]

    async def active() -> bool:
        return (await show(admin, "ports", "port", one["id"]))["status"] == "ACTIVE"
    assert await eventually(active), "the port did not turn ACTIVE once plugged"

    await dataplane.backend.sync()
    lease = await guests[0].dhcp()
    assert lease["ip"] == one["fixed_ips"][0]["ip_address"]
    assert lease["mtu"] == "1450"
    assert lease["dns"].strip() == "192.0.2.53"
    dhcp_ports = [p for p in (await admin.get(
        f"/v2.0/ports?network_id={net['id']}&device_owner=network:dhcp")).json()["ports"]]
    assert len(dhcp_ports) == 1
    dhcp_ip = dhcp_ports[0]["fixed_ips"][0]["ip_address"]
    routes = lease["staticroutes"].split()
    assert routes[:2] == ["169.254.169.254/32", dhcp_ip]
    assert routes[2:] == ["0.0.0.0/0", subnet["gateway_ip"]]
    await guests[1].dhcp()
    assert await guests[0].reaches(two["fixed_ips"][0]["ip_address"])
    assert await guests[1].reaches(one["fixed_ips"][0]["ip_address"])
