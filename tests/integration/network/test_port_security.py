"""What a guest may send (anti-spoofing: its MAC, its fixed IPs, its allowed
address pairs), port security off, and the metadata proxy answering guests."""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.integration.network.conftest import Dataplane, create, guest_port, update
from tests.integration.network.guests import plug_fake_guest


async def _pair(dataplane: Dataplane, admin, cidr: str):
    net = await create(admin, "networks", "network", name="net")
    await create(admin, "subnets", "subnet", network_id=net["id"], cidr=cidr, ip_version=4)
    ports, guests = [], []
    for name in ("s1", "s2"):
        port = await guest_port(admin, net["id"])
        ports.append(port)
        guests.append(await plug_fake_guest(port["binding:vif_details"], port["mac_address"],
                                            dataplane.name(name), dataplane.workdir))
    await dataplane.backend.sync()
    for guest in guests:
        await guest.dhcp()
    return net, ports, guests


async def test_a_guest_sends_only_from_its_own_addresses(dataplane: Dataplane, admin) -> None:
    net, (one, two), (forger, victim) = await _pair(dataplane, admin, "10.33.0.0/24")
    target = two["fixed_ips"][0]["ip_address"]
    assert await forger.reaches(target)
    await forger.sh("ip", "addr", "add", "10.33.0.200/24", "dev", "eth0")
    code, _ = await forger.sh("busybox", "ping", "-c", "2", "-W", "1", "-I", "10.33.0.200",
                              target)
    assert code != 0, "a forged source address got through"

    # an allowed address pair makes it the guest's own (and a member of its group)
    await update(admin, "ports", "port", one["id"],
                 allowed_address_pairs=[{"ip_address": "10.33.0.200"}])
    await dataplane.backend.sync()
    code, _ = await forger.sh("busybox", "ping", "-c", "2", "-W", "1", "-I", "10.33.0.200",
                              target)
    assert code == 0, "an allowed address pair was refused"

    # a forged MAC gets nothing through either
    await forger.sh("ip", "link", "set", "eth0", "address", "fa:16:3e:66:66:66")
    await forger.sh("ip", "neigh", "flush", "dev", "eth0")
    assert not await forger.ping(target)
    await forger.sh("ip", "link", "set", "eth0", "address", one["mac_address"])

    # a guest may not serve DHCP; with port security off, it may send anything
    await update(admin, "ports", "port", one["id"], allowed_address_pairs=[],
                 security_groups=[], port_security_enabled=False)
    await dataplane.backend.sync()
    code, _ = await forger.sh("busybox", "ping", "-c", "2", "-W", "1", "-I", "10.33.0.200",
                              target)
    assert code != 0  # the victim still filters what its group does not allow in
    assert await victim.reaches(one["fixed_ips"][0]["ip_address"])
    assert net


async def test_the_metadata_proxy_tells_the_instance(dataplane: Dataplane, admin) -> None:
    net, (one, _), (guest, _) = await _pair(dataplane, admin, "10.34.0.0/24")
    code, out = await guest.sh("timeout", "10", "busybox", "wget", "-q", "-O", "-",
                               "http://169.254.169.254/latest/meta-data/instance-id")
    assert code == 0, out
    headers = json.loads(out)
    assert headers["request"].startswith("GET /latest/meta-data/instance-id ")
    assert headers["x-instance-id"] == one["device_id"]
    assert headers["x-tenant-id"] == one["project_id"]
    assert headers["x-forwarded-for"] == one["fixed_ips"][0]["ip_address"]
    secret = (dataplane.cloud.config.state_dir / "metadata_secret").read_text().strip()
    assert headers["x-instance-id-signature"] == hmac.new(
        secret.encode(), one["device_id"].encode(), hashlib.sha256).hexdigest()
    assert net
