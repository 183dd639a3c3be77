"""Real QEMU guests on the Linux dataplane: an in-process cloud, served on its ports,
whose compute host runs the QEMU driver and whose network backend is ``linux`` under a
prefix of its own. Guests' ports are bound as taps on the dataplane's bridges (in the
host namespace ``<prefix>h1``), so they get their addresses from dnsmasq, their
instance data through the metadata proxy, and reach each other, routers and the
outside as Neutron's guests do.

Afterwards (also when the story failed): the servers are deleted through the API, no
QEMU process and no guest tap is left, and nothing with the prefix remains
(namespaces, devices, dnsmasq, nftables tables)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onestack.cloud import Cloud, prepare_state_dir
from onestack.network.drivers.linux import cleanup, netlink
from tests.api.compute.boot import make_flavor
from tests.api.compute.conftest import Nova, eventually
from tests.conftest import Api, admin_api
from tests.guest import guest_image_dir
from tests.integration.compute.conftest import BOOT_TIMEOUT, Guests, qemu_processes
from tests.integration.network.conftest import _missing, create, guest_port, linux_config
from tests.integration.network.guests import Guest, plug_fake_guest, run

HOST = "host1"
# the guest's console line for each NIC (guest/init): "onestack-guest: eth0 <mac> <ip>/<n>"
NIC_LINE = re.compile(r"onestack-guest: (eth\d+) (\S+) (\S+)")


@dataclass
class RealNetwork:
    """The compute kit of the QEMU stories (boot, console, ready) plus the network API
    as the admin and the dataplane's names."""

    guests: Guests
    net: Api
    prefix: str
    workdir: Path
    # stand-in guests (namespaces on a veth named like a tap), by their tap
    stand_ins: dict[str, Guest] = field(default_factory=dict)

    @property
    def cloud(self) -> Cloud:
        return self.guests.cloud

    @property
    def host_ns(self) -> str:
        return self.prefix + "h1"

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    async def sync(self) -> None:
        """One reconcile pass of the dataplane now (it also runs on every change)."""
        await self.cloud.services["network"].backend.sync()

    async def network(self, name: str, cidr: str, **body: Any) -> tuple[dict[str, Any],
                                                                         dict[str, Any]]:
        net = await create(self.net, "networks", "network", name=name, **body)
        subnet = await create(self.net, "subnets", "subnet", network_id=net["id"],
                              cidr=cidr, ip_version=4)
        return net, subnet

    async def boot(self, name: str, network_id: str, **server: Any) -> dict[str, Any]:
        """A server on ``network_id``, ACTIVE, then its console's ready line."""
        booted = await self.guests.boot(name, networks=[{"uuid": network_id}], **server)
        assert await self.guests.ready(booted["id"]) == name
        return booted

    async def port_of(self, server_id: str) -> dict[str, Any]:
        listed = await self.net.get(f"/v2.0/ports?device_id={server_id}")
        assert listed.status_code == 200, listed.text
        ports = listed.json()["ports"]
        assert len(ports) == 1, ports
        return dict(ports[0])

    async def wait_port(self, port_id: str, status: str = "ACTIVE") -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            seen.update((await self.net.get(f"/v2.0/ports/{port_id}")).json()["port"])
            return seen["status"] == status

        await eventually(reached, 20)
        return seen

    async def console_lines(self, server_id: str, pattern: re.Pattern[str]) -> list[Any]:
        return pattern.findall(await self.guests.console(server_id))

    async def stand_in(self, network_id: str, name: str) -> tuple[dict[str, Any], Guest]:
        """A stand-in guest on ``network_id`` (tests/integration/network/guests.py): a
        port bound to this host, its tap a veth into namespace ``<prefix><name>``."""
        port = await guest_port(self.net, network_id, HOST)
        guest = await plug_fake_guest(port["binding:vif_details"], port["mac_address"],
                                      self.name(name), self.workdir)
        self.stand_ins[port["binding:vif_details"]["tap_name"]] = guest
        return port, guest

    async def taps(self) -> list[str]:
        """The QEMU guests' taps in the host namespace."""
        if self.host_ns not in await netlink.run(netlink.namespaces):
            return []
        return [n for n in await netlink.run(netlink.links, self.host_ns)
                if n.startswith("tap") and n not in self.stand_ins]


async def wget(ns: str, url: str, timeout: float = 5) -> str | None:
    """busybox wget from namespace ``ns``: the page, or None when nothing answered
    within ``timeout`` seconds."""
    code, out = await run("ip", "netns", "exec", ns, "timeout", str(timeout), "busybox",
                          "wget", "-q", "-O", "-", url, timeout=timeout + 10)
    return out if code == 0 else None


async def page(ns: str, url: str, attempts: int = 3) -> str | None:
    """What ``url`` answers from namespace ``ns``, trying again when nothing answered
    (a first packet may wait for ARP on a loaded machine)."""
    for _ in range(attempts):
        answer = await wget(ns, url)
        if answer is not None:
            return answer
    return None


def _prefix() -> str:
    return "rg" + uuid.uuid4().hex[:3] + "-"


async def _delete_servers(api: Nova) -> None:
    listed = await api.get("/servers?all_tenants=1")
    for server in listed.json().get("servers", []):
        await api.delete(f"/servers/{server['id']}")

    async def none_left() -> bool:
        return not (await api.get("/servers?all_tenants=1")).json()["servers"]

    await eventually(none_left, BOOT_TIMEOUT)


@contextlib.asynccontextmanager
async def real_network(tmp_path: Path, prefix: str = "") -> AsyncIterator[RealNetwork]:
    missing = _missing()
    assert not missing, f"Linux dataplane: {missing}"
    prefix = prefix or _prefix()
    images = guest_image_dir()
    config = linux_config(tmp_path / "state", prefix, host=HOST)
    config.compute.host = HOST  # ports are bound to the host this backend wires
    config.compute.virt_driver = "qemu"
    config.compute.virt_type = "auto"
    config.compute.clean_shutdown_timeout = 20
    config.compute.reconcile_interval = 2
    prepare_state_dir(config.state_dir, reset=False)
    instances = config.state_dir / "instances"
    cloud = Cloud(config)
    problems: list[str] = []
    try:
        await cloud.build()
        # served on its ports: the metadata proxy forwards to the metadata service
        started = asyncio.Event()
        serving = asyncio.create_task(cloud.serve(started))
        try:
            await asyncio.wait_for(started.wait(), 30)
            async with admin_api(cloud, "compute", Nova) as api:
                nova: Nova = api.at("2.79")  # type: ignore[attr-defined]
                kit = Guests(cloud, nova, "", "", "", instances)
                kit.image = await kit.upload("onestack-guest",
                                             images / "onestack-guest.qcow2", "qcow2")
                kit.flavor = await make_flavor(nova, ram=128, vcpus=1, disk=1)
                plane = RealNetwork(kit, Api(cloud, "network", nova.token, nova.clients),
                                    prefix, tmp_path / "guests")
                try:
                    yield plane
                finally:
                    try:
                        await _delete_servers(nova)
                        left = await plane.taps()
                        if left:
                            problems.append(f"guest taps left after delete: {left}")
                    finally:
                        for guest in plane.stand_ins.values():
                            await guest.stop()
        finally:
            cloud.stop()
            await serving
    finally:
        try:
            await cloud.close()
        finally:
            leftovers = qemu_processes(str(instances))
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            if leftovers:
                problems.append(f"QEMU processes left behind: {leftovers}")
            await cleanup.remove_all(prefix, config.state_dir)
            left = await cleanup.remaining(prefix)
            if left:
                problems.append(f"left behind with prefix {prefix}: {left}")
    assert not problems, "; ".join(problems)

