"""Plugging a guest's NIC into the Linux dataplane: a tap named by the port, on the
network's bridge, in the host's namespace (as the port's binding describes it)."""

from __future__ import annotations

from onestack.compute.drivers.base import GuestError
from onestack.compute.drivers.qemu_guest import Nic
from onestack.compute.drivers.qemu_host import run


async def _ip(netns: str, *args: str, check: bool = True) -> None:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    code, _, err = await run(*prefix, *args, timeout=30)
    if code != 0 and check:
        raise GuestError(f"Cannot plug the guest's port: ip {' '.join(args)}: "
                         f"{err.strip()}")


async def plug_tap(nic: Nic) -> None:
    """A persistent tap QEMU attaches to, already on the bridge, so the guest's first
    DHCP request goes out wired. Idempotent (a restarted guest plugs again)."""
    await _ip(nic.netns, "tuntap", "add", "dev", nic.tap_name, "mode", "tap",
              check=False)
    if nic.mtu:
        await _ip(nic.netns, "link", "set", nic.tap_name, "mtu", str(nic.mtu))
    await _ip(nic.netns, "link", "set", nic.tap_name, "master", nic.bridge, "up")


async def unplug_tap(nic: Nic) -> None:
    await _ip(nic.netns, "link", "del", nic.tap_name, check=False)
