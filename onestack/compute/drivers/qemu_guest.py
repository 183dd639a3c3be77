"""One QEMU guest on disk: where its files are, what it was launched with, and the
command line that launches it. Pure (no processes started here), so the command line
is unit-tested.

A guest's directory holds its disks and what it was launched with (``launch.json``);
its sockets live in a short per-host directory, because Unix socket paths are limited
to 107 bytes and instance paths under a state directory can be longer."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Guests on QEMU's user-mode network see the metadata service at its usual address;
# QEMU forwards only addresses inside its user network, hence the link-local one.
USER_NET = "169.254.169.0/24"
USER_NET_HOST = "169.254.169.2"
METADATA_ADDRESS = "169.254.169.254"
# Nova's kernel command line for images booted by direct kernel boot.
DEFAULT_KERNEL_ARGS = "root=/dev/vda console=tty0 console=ttyS0"


@dataclass
class Nic:
    port_id: str
    mac: str
    # "tap": a tap on a bridge of the Linux dataplane; "user": QEMU's own NAT network
    mode: str
    tap_name: str = ""
    bridge: str = ""
    netns: str = ""
    mtu: int = 0


@dataclass
class Launch:
    """What a guest was started with; kept in launch.json so that power on, hard
    reboot, resume and a restarted agent start the same guest again."""

    uuid: str
    name: str
    project_id: str
    vcpus: int
    memory_mb: int
    nics: list[Nic] = field(default_factory=list)
    config_drive: bool = False
    # direct kernel boot (images with kernel_id/ramdisk_id)
    kernel: str = ""
    initrd: str = ""
    kernel_args: str = ""
    # the image is an ISO: boot from it (this file) as a CD-ROM, the root disk blank
    cdrom: str = ""
    # rescue: boot the rescue disk, the guest's own disk second
    rescue: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Launch:
        data: dict[str, Any] = json.loads(text)
        data["nics"] = [Nic(**nic) for nic in data.get("nics", [])]
        return cls(**data)

    def netns(self) -> str:
        """The namespace QEMU must run in for its taps (all of a host's are in one)."""
        return next((nic.netns for nic in self.nics if nic.mode == "tap" and nic.netns), "")


class Layout:
    """Paths of one guest."""

    def __init__(self, instances_path: Path, uuid: str) -> None:
        self.dir = instances_path / uuid
        digest = hashlib.sha256(str(instances_path).encode()).hexdigest()[:10]
        self.run = Path(tempfile.gettempdir()) / f"onestack-{digest}" / uuid

    disk = property(lambda self: self.dir / "disk.qcow2")
    rescue_disk = property(lambda self: self.dir / "rescue.qcow2")
    config_iso = property(lambda self: self.dir / "config.iso")
    launch_file = property(lambda self: self.dir / "launch.json")
    console_log = property(lambda self: self.dir / "console.log")
    qemu_log = property(lambda self: self.dir / "qemu.log")
    saved_state = property(lambda self: self.dir / "suspended.state")
    pidfile = property(lambda self: self.run / "qemu.pid")
    qmp = property(lambda self: self.run / "qmp.sock")
    serial = property(lambda self: self.run / "serial.sock")
    vnc = property(lambda self: self.run / "vnc.sock")
    metadata = property(lambda self: self.run / "metadata.sock")

    def read_launch(self) -> Launch | None:
        try:
            return Launch.from_json(self.launch_file.read_text())
        except (OSError, ValueError, TypeError):
            return None

    def write_launch(self, launch: Launch) -> None:
        tmp = self.launch_file.with_suffix(".tmp")
        tmp.write_text(launch.to_json())
        os.replace(tmp, self.launch_file)


def accel_args(virt_type: str) -> list[str]:
    if virt_type == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    # TCG: a translation cache of 64 MiB instead of QEMU's 1 GiB default keeps a
    # guest's host memory near its own size.
    return ["-accel", "tcg,tb-size=64", "-cpu", "max"]


def _nic_args(index: int, nic: Nic, layout: Layout) -> list[str]:
    netdev = f"net{index}"
    if nic.mode == "tap":
        backend = f"tap,id={netdev},ifname={nic.tap_name},script=no,downscript=no"
    else:
        guestfwd = (f"tcp:{METADATA_ADDRESS}:80-cmd:socat STDIO "
                    f"UNIX-CONNECT:{layout.metadata}")
        backend = (f"user,id={netdev},net={USER_NET},host={USER_NET_HOST},"
                   f"guestfwd={guestfwd}")
    # no option ROM: guests do not PXE-boot, and their boot is shorter without iPXE
    device = (f"virtio-net-pci,netdev={netdev},mac={nic.mac},id=nic-{nic.port_id[:8]},"
              "romfile=")
    if nic.mtu:
        device += f",host_mtu={nic.mtu}"
    return ["-netdev", backend, "-device", device]


def hotplug_args(index: int, nic: Nic) -> tuple[dict[str, Any], dict[str, Any]]:
    """netdev_add and device_add arguments for a NIC plugged into a running guest (a
    hot-plugged user-mode NIC has no metadata forward: the first NIC has it)."""
    netdev: dict[str, Any] = {"type": nic.mode, "id": f"net{index}"}
    if nic.mode == "tap":
        netdev.update(ifname=nic.tap_name, script="no", downscript="no")
    else:
        netdev.update(net=USER_NET, host=USER_NET_HOST)
    device: dict[str, Any] = {"driver": "virtio-net-pci", "netdev": f"net{index}",
                              "mac": nic.mac, "id": f"nic-{nic.port_id[:8]}"}
    if nic.mtu:
        device["host_mtu"] = nic.mtu
    return netdev, device


def command_line(qemu: str, launch: Launch, layout: Layout, virt_type: str,
                 incoming: str | None = None) -> list[str]:
    """The whole QEMU command line: detached (-daemonize), monitor, serial console
    (a socket for the console proxy, and a log for os-getConsoleOutput), VNC."""
    uuid = launch.uuid
    args = [qemu, "-name", f"guest={launch.name[:60]},process=onestack-{uuid[:8]}",
            "-uuid", uuid, "-machine", "pc", *accel_args(virt_type),
            "-smp", str(launch.vcpus), "-m", str(launch.memory_mb),
            "-nodefaults", "-no-user-config", "-display", "none", "-vga", "std",
            "-rtc", "base=utc",
            # cloud-init recognises an OpenStack guest by these
            "-smbios", "type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,"
                       f"serial={uuid},uuid={uuid},family=Virtual Machine",
            "-daemonize", "-pidfile", str(layout.pidfile),
            "-qmp", f"unix:{layout.qmp},server=on,wait=off",
            "-chardev", f"socket,id=serial0,path={layout.serial},server=on,wait=off,"
                        f"logfile={layout.console_log},logappend=on",
            "-serial", "chardev:serial0",
            "-vnc", f"unix:{layout.vnc}",
            "-D", str(layout.qemu_log)]
    disks: list[Path] = [layout.rescue_disk, layout.disk] if launch.rescue else [layout.disk]
    for index, disk in enumerate(disks):
        args += ["-drive", f"file={disk},if=none,id=disk{index},format=qcow2,discard=unmap",
                 "-device", f"virtio-blk-pci,drive=disk{index}"
                            + (",bootindex=1" if index == 0 and not launch.cdrom else "")]
    if launch.cdrom:
        args += ["-drive", f"file={launch.cdrom},if=none,id=cd0,format=raw,readonly=on,"
                           "media=cdrom",
                 "-device", "ide-cd,drive=cd0,bootindex=0"]
    if launch.config_drive:
        args += ["-drive", f"file={layout.config_iso},if=none,id=config,format=raw,"
                           "readonly=on",
                 "-device", "virtio-blk-pci,drive=config"]
    if launch.kernel:
        args += ["-kernel", launch.kernel,
                 "-append", launch.kernel_args or DEFAULT_KERNEL_ARGS]
        if launch.initrd:
            args += ["-initrd", launch.initrd]
    for index, nic in enumerate(launch.nics):
        args += _nic_args(index, nic, layout)
    if incoming:
        args += ["-incoming", incoming]
    return args
