"""What the QEMU driver needs from its host: commands, processes, the image cache,
the host's resources, the choice of accelerator, and the metadata relays of guests on
QEMU's user-mode network."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from onestack.compute.drivers.base import GuestError, HostResources
from onestack.compute.drivers.qemu_guest import Layout
from onestack.compute.metadata.relay import MetadataRelay
from onestack.kernel.config import ComputeConfig, Config

log = logging.getLogger(__name__)


async def run(*args: str, timeout: float = 120, stdin: bytes | None = None
              ) -> tuple[int, str, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE if stdin is not None else
            asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError:
        raise GuestError(f"{args[0]} is not installed on this host.") from None
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(stdin)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):  # uvloop: it had already exited
            proc.kill()
        await proc.wait()
        raise GuestError(f"{args[0]} did not finish in {timeout:.0f}s.") from None
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def run_detaching(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    """``run`` for a command that leaves a daemon behind (QEMU ``-daemonize``): the
    command starts with every other descriptor of this process closed (subprocess's
    close_fds), so the daemon holds none of them. With asyncio's subprocesses on
    uvloop (``onestack up``), a child inherits the socket pairs of its own stdout and
    stderr: the daemon kept them open and the command's output never ended."""
    try:
        done = await asyncio.to_thread(
            subprocess.run, list(args), stdin=subprocess.DEVNULL, capture_output=True,
            timeout=timeout, check=False, close_fds=True)
    except FileNotFoundError:
        raise GuestError(f"{args[0]} is not installed on this host.") from None
    except subprocess.TimeoutExpired:
        raise GuestError(f"{args[0]} did not finish in {timeout:.0f}s.") from None
    return (done.returncode, done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"))


async def qemu_img(*args: str) -> str:
    code, out, err = await run("qemu-img", *args, timeout=600)
    if code != 0:
        raise GuestError(f"qemu-img {args[0]} failed: {err.strip() or out.strip()}")
    return out


async def virtual_size(path: Path, fmt: str) -> int:
    info = json.loads(await qemu_img("info", "-U", "--output=json", "-f", fmt, str(path)))
    return int(info["virtual-size"])


# Glance's disk formats as QEMU names them
QEMU_FORMATS = {"qcow2": "qcow2", "raw": "raw", "vmdk": "vmdk", "vdi": "vdi",
                "vhd": "vpc", "vhdx": "vhdx", "iso": "iso", "aki": "raw", "ari": "raw",
                "ami": "raw"}


async def cached_base(base_dir: Path, image: dict[str, Any], source: str
                      ) -> tuple[Path, str]:
    """The image in this host's cache (hard-linked from the image store when it is on
    the same filesystem, copied otherwise), and its format as QEMU names it. Stored
    images never change, so one copy per image id serves every guest."""
    image_id = str(image.get("id") or Path(source).name)
    disk_format = str(image.get("disk_format") or "raw")
    fmt = QEMU_FORMATS.get(disk_format)
    if fmt is None:
        raise GuestError(f"The QEMU driver cannot boot {disk_format} images.")
    target = base_dir / image_id
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.part")
        try:
            os.link(source, partial)
        except OSError:
            await asyncio.to_thread(shutil.copyfile, source, partial)
        os.replace(partial, target)
    return target, fmt


# -- processes -----------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # the state follows the command name in parentheses; Z: a zombie nobody
            # reaped yet (a daemonized QEMU's parent is init)
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def pid_of(layout: Layout) -> int | None:
    """The guest's QEMU process if it runs (checked against the command line, so a
    reused pid is not taken for the guest)."""
    try:
        pid = int(layout.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if layout.dir.name.encode() not in cmdline or not _alive(pid):
        return None
    return pid


async def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- the host ------------------------------------------------------------------------
def _memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def _qemu_version(qemu: str) -> tuple[int, str]:
    """QEMU's version as Nova reports hypervisor versions (7.2.1 -> 7002001)."""
    import subprocess
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0, ""
    found = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    if not found:
        return 0, out.strip()
    major, minor, micro = (int(x) for x in found.groups())
    return major * 1000000 + minor * 1000 + micro, out.splitlines()[0]


def resources(settings: ComputeConfig, instances: Path, qemu: str) -> HostResources:
    version, _ = _qemu_version(qemu)
    vcpus = settings.host_vcpus or os.cpu_count() or 1
    disk_gb = settings.host_disk_gb or shutil.disk_usage(instances).total // (1 << 30)
    return HostResources(
        hypervisor_type="QEMU", hypervisor_version=version, vcpus=vcpus,
        memory_mb=settings.host_memory_mb or _memory_mb(), local_gb=disk_gb,
        cpu_info={"arch": "x86_64", "model": "qemu64", "vendor": "QEMU",
                  "topology": {"sockets": 1, "cores": vcpus, "threads": 1}, "features": []},
        traits=["COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_NET_VIF_MODEL_VIRTIO",
                "COMPUTE_STORAGE_BUS_VIRTIO", "COMPUTE_IMAGE_TYPE_QCOW2",
                "COMPUTE_IMAGE_TYPE_RAW", "COMPUTE_IMAGE_TYPE_ISO",
                "COMPUTE_IMAGE_TYPE_VMDK", "COMPUTE_IMAGE_TYPE_VHD",
                "COMPUTE_IMAGE_TYPE_VHDX", "COMPUTE_IMAGE_TYPE_VDI",
                "COMPUTE_IMAGE_TYPE_AKI", "COMPUTE_IMAGE_TYPE_ARI",
                "COMPUTE_IMAGE_TYPE_AMI", "COMPUTE_RESCUE_BFV"])


async def choose_virt_type(wanted: str, qemu: str) -> str:
    """``kvm`` or ``qemu`` as configured; ``auto`` starts a tiny KVM guest for a
    second: /dev/kvm may exist and still refuse to run a guest (nested setups)."""
    if wanted in ("kvm", "qemu"):
        return wanted
    if not os.path.exists("/dev/kvm"):
        log.info("virt_type auto: no /dev/kvm, guests run under TCG (virt_type qemu)")
        return "qemu"
    proc = await asyncio.create_subprocess_exec(
        qemu, "-machine", "pc", "-accel", "kvm", "-cpu", "host", "-m", "32", "-nodefaults",
        "-display", "none", "-no-user-config", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(1.5):
            _, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        log.info("virt_type auto: KVM runs guests here, using it")
        return "kvm"
    reason = (err.decode(errors="replace").strip().splitlines() or ["exited"])[0]
    log.warning("virt_type auto: KVM cannot run a guest here (%s); guests run under "
                "TCG (virt_type qemu), much slower", reason)
    return "qemu"


class Relays:
    """One metadata relay per guest on QEMU's user-mode network: QEMU hands each of the
    guest's connections to 169.254.169.254:80 to a Unix socket; the relay signs them
    for the metadata service as Neutron's metadata proxy would."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.running: dict[str, Any] = {}

    async def start(self, uuid: str, project_id: str, path: Path) -> None:
        if uuid in self.running:
            return
        relay = MetadataRelay.for_instance(self.config, str(path), uuid, project_id)
        await relay.start()
        self.running[uuid] = relay

    async def stop(self, uuid: str) -> None:
        relay = self.running.pop(uuid, None)
        if relay is not None:
            await relay.close()

    async def close(self) -> None:
        for uuid in list(self.running):
            await self.stop(uuid)
