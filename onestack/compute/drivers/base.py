"""The VirtDriver protocol: what a compute agent needs from a hypervisor. Drivers
know nothing of the database or the bus; the agent hands them plain dicts (the
instance as the conductor sent it, the image, the network info) and they answer
with power states and data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Nova's power states (as in the server body's OS-EXT-STS:power_state)
NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6
SUSPENDED = 7


class GuestError(RuntimeError):
    """A guest operation failed; the message is what the user sees in the fault."""


@dataclass
class HostResources:
    """What one host offers (reported to placement and in the hypervisor API)."""

    hypervisor_type: str
    hypervisor_version: int
    vcpus: int
    memory_mb: int
    local_gb: int
    host_ip: str = "127.0.0.1"
    cpu_info: dict[str, Any] = field(default_factory=dict)
    # traits the host's placement provider carries (COMPUTE_*, HW_CPU_*)
    traits: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConsoleEndpoint:
    """Where a console proxy reaches a guest's console: a TCP address, or a Unix
    socket on the agent's host."""

    kind: str  # "novnc" (RFB) or "serial" (a byte stream)
    host: str | None = None
    port: int | None = None
    path: str | None = None


class ConsoleUnavailable(GuestError):
    """The driver offers no console of this kind (the API answers 400)."""


@dataclass
class GuestSpec:
    """Everything a driver needs to start a guest."""

    instance: dict[str, Any]
    image: dict[str, Any] | None
    image_path: str | None
    network_info: list[dict[str, Any]]
    admin_password: str | None = None
    # files for the config drive (path -> bytes), built by the agent when asked
    config_drive: dict[str, bytes] | None = None
    # direct kernel boot: the image's kernel_id and ramdisk_id images, as files
    kernel_path: str | None = None
    ramdisk_path: str | None = None
    # a resize on the guest's own host: keep its disk (grown to the new flavor) and
    # start it again with the new vCPUs and memory
    keep_disk: bool = False


class VirtDriver(Protocol):
    host: str
    # whether spawn() reads the image's data (GuestSpec.image_path)
    needs_image_file: bool

    def resources(self) -> HostResources: ...

    async def spawn(self, spec: GuestSpec) -> None: ...

    async def destroy(self, uuid: str) -> None:
        """Remove the guest and its disks; no error when it does not exist."""

    async def power_off(self, uuid: str) -> None: ...

    async def power_on(self, uuid: str) -> None: ...

    async def reboot(self, uuid: str, hard: bool) -> None: ...

    async def pause(self, uuid: str) -> None: ...

    async def unpause(self, uuid: str) -> None: ...

    async def suspend(self, uuid: str) -> None: ...

    async def resume(self, uuid: str) -> None: ...

    async def rescue(self, uuid: str, spec: GuestSpec) -> None: ...

    async def unrescue(self, uuid: str) -> None: ...

    async def snapshot(self, uuid: str, path: str) -> None:
        """Write the guest's disk, as an image, to ``path``."""

    async def console_output(self, uuid: str) -> str: ...

    async def console_endpoint(self, uuid: str, kind: str) -> ConsoleEndpoint:
        """Where the guest's ``kind`` console ("novnc" or "serial") listens; raises
        ConsoleUnavailable when this driver has none of that kind."""

    async def attach_interface(self, uuid: str, vif: dict[str, Any]) -> None: ...

    async def detach_interface(self, uuid: str, port_id: str) -> None: ...

    async def power_states(self) -> dict[str, int]:
        """Every guest this driver runs on its host: uuid -> power state."""

    async def close(self) -> None: ...
