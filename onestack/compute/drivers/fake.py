"""The fake hypervisor: instant and deterministic guests kept in memory, so that one
process can run thousands of hosts. Each guest has a power state and a console log
that reads like a boot, built from what it was given (name, addresses, user data)."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onestack.compute.drivers.base import (
    PAUSED,
    RUNNING,
    SHUTDOWN,
    SUSPENDED,
    ConsoleEndpoint,
    ConsoleUnavailable,
    GuestError,
    GuestSpec,
    HostResources,
)
from onestack.compute.drivers.fake_console import FakeConsoles, rfb_session, serial_session
from onestack.kernel.config import ComputeConfig, Config


@dataclass
class FakeGuest:
    uuid: str
    name: str
    power_state: int
    console: list[str] = field(default_factory=list)
    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    rescued: bool = False


class FakeDriver:
    needs_image_file = False

    def __init__(self, host: str, settings: ComputeConfig) -> None:
        self.host = host
        self.settings = settings
        self.guests: dict[str, FakeGuest] = {}
        # the guests' remote consoles (Unix sockets), started when first asked for
        self.consoles = FakeConsoles(host)

    def resources(self) -> HostResources:
        s = self.settings
        return HostResources(
            hypervisor_type="fake", hypervisor_version=1000, vcpus=s.fake_vcpus,
            memory_mb=s.fake_memory_mb, local_gb=s.fake_disk_gb,
            cpu_info={"arch": "x86_64", "model": "fake", "vendor": "onestack",
                      "topology": {"sockets": 1, "cores": s.fake_vcpus, "threads": 1},
                      "features": []},
            traits=["COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_DEVICE_TAGGING",
                    "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW"])

    def _guest(self, uuid: str) -> FakeGuest:
        guest = self.guests.get(uuid)
        if guest is None:
            raise GuestError(f"Instance {uuid} could not be found on host {self.host}.")
        return guest

    async def spawn(self, spec: GuestSpec) -> None:
        inst = spec.instance
        guest = FakeGuest(inst["uuid"], inst["display_name"], RUNNING)
        guest.console.append(f"onestack fake hypervisor: booting {guest.name} "
                             f"({guest.uuid}) on {self.host}")
        for vif in spec.network_info:
            guest.interfaces[vif["id"]] = vif
            addresses = ", ".join(ip["ip_address"] for ip in vif.get("fixed_ips", []))
            guest.console.append(f"eth{len(guest.interfaces) - 1}: {vif['mac_address']} "
                                 f"{addresses}")
        if inst.get("user_data"):
            guest.console.append("cloud-init: user data received")
        guest.console.append(f"{inst.get('hostname') or guest.name} login:")
        self.guests[guest.uuid] = guest

    async def destroy(self, uuid: str) -> None:
        self.guests.pop(uuid, None)
        await self.consoles.stop(uuid)

    def _set(self, uuid: str, state: int, line: str) -> None:
        guest = self._guest(uuid)
        guest.power_state = state
        guest.console.append(line)

    async def power_off(self, uuid: str) -> None:
        self._set(uuid, SHUTDOWN, "reboot: Power down")
        await self.consoles.stop(uuid)

    async def power_on(self, uuid: str) -> None:
        self._set(uuid, RUNNING, "onestack fake hypervisor: powered on")

    async def reboot(self, uuid: str, hard: bool) -> None:
        self._set(uuid, RUNNING, "reboot: Restarting system" if not hard
                  else "onestack fake hypervisor: reset")

    async def pause(self, uuid: str) -> None:
        self._set(uuid, PAUSED, "onestack fake hypervisor: paused")

    async def unpause(self, uuid: str) -> None:
        self._set(uuid, RUNNING, "onestack fake hypervisor: unpaused")

    async def suspend(self, uuid: str) -> None:
        self._set(uuid, SUSPENDED, "PM: suspend entry (deep)")
        await self.consoles.stop(uuid)

    async def resume(self, uuid: str) -> None:
        self._set(uuid, RUNNING, "PM: resume from suspend")

    async def rescue(self, uuid: str, spec: GuestSpec) -> None:
        guest = self._guest(uuid)
        guest.rescued = True
        self._set(uuid, RUNNING, "onestack fake hypervisor: rescue image booted")

    async def unrescue(self, uuid: str) -> None:
        guest = self._guest(uuid)
        guest.rescued = False
        self._set(uuid, RUNNING, "onestack fake hypervisor: back from rescue")

    async def snapshot(self, uuid: str, path: str) -> None:
        """A qcow2 header (version 3, 1 GiB, no backing file), as real snapshots are
        qcow2: the image service checks the format of what it stores."""
        self._guest(uuid)
        header = (b"QFI\xfb" + struct.pack(">I", 3) + struct.pack(">QI", 0, 0)
                  + struct.pack(">I", 16) + struct.pack(">Q", 1 << 30))
        Path(path).write_bytes(header.ljust(512, b"\0"))

    async def console_output(self, uuid: str) -> str:
        return "\n".join(self._guest(uuid).console) + "\n"

    async def console_endpoint(self, uuid: str, kind: str) -> ConsoleEndpoint:
        """A graphical console ("novnc": RFB) or a serial line ("serial"), each on a
        Unix socket of this host; only while the guest runs (or is paused)."""
        guest = self._guest(uuid)
        if kind == "novnc":
            session = functools.partial(rfb_session, name=lambda: guest.name)
        elif kind == "serial":
            session = functools.partial(serial_session,
                                        console_log=lambda: "\n".join(guest.console) + "\n")
        else:
            raise ConsoleUnavailable(f"Unavailable console type {kind}.")
        if guest.power_state not in (RUNNING, PAUSED):
            raise GuestError(f"Instance {uuid} is not running on host {self.host}.")
        path = await self.consoles.serve(uuid, kind, session)
        return ConsoleEndpoint(kind=kind, path=path)

    async def attach_interface(self, uuid: str, vif: dict[str, Any]) -> None:
        self._guest(uuid).interfaces[vif["id"]] = vif

    async def detach_interface(self, uuid: str, port_id: str) -> None:
        self._guest(uuid).interfaces.pop(port_id, None)

    async def power_states(self) -> dict[str, int]:
        return {uuid: guest.power_state for uuid, guest in self.guests.items()}

    async def close(self) -> None:
        self.guests.clear()
        await self.consoles.close()


def build(host: str, config: Config) -> FakeDriver:
    return FakeDriver(host, config.compute)
