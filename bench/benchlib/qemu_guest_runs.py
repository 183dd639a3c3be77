"""The pieces of bench/boot.py that run and watch one QEMU guest: the floor run (the
driver's command line launched by hand), the image lock, console marks and CPU time."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from benchlib import REPO, BenchError
from benchlib.processes import kill_pids, pids_mentioning
from benchlib.sampling import CLK_TCK, loadavg
from onestack.compute import agent_ops
from onestack.compute.drivers import qemu as qemu_driver
from onestack.compute.drivers import qemu_host
from onestack.compute.drivers.qemu_guest import Launch, Layout, Nic, command_line
from onestack.compute.metadata.configdrive import write_config_drive

QEMU = "qemu-system-x86_64"
READY = re.compile(rb"onestack-guest ready hostname=(\S+)")
# the guest's own uptime at three points of its /init (guest/init)
GUEST_MARKS = re.compile(rb"onestack-guest: (init started|modules loaded|boot finished) "
                         rb"\(([\d.]+) s\)")
TIMEOUT = 180.0          # one boot under TCG on a loaded 2-core box: ~7 s, allow a lot
GUEST_RAM_MB, GUEST_VCPUS, GUEST_DISK_GB = 128, 1, 1
# the per-host socket directories (/tmp/onestack-<digest>) this run made: removed at exit
RUN_DIRS: set[Path] = set()

def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# -- timing of the spawn path (in-process wrappers) ------------------------------------
class Probe:
    """(label, start, end) perf_counter marks of wrapped coroutine functions."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str,
             label: str | Callable[..., str] | None = None) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                text = label(*args) if callable(label) else (label or name)
                self.marks.append((text, start, time.perf_counter()))

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def install(self) -> None:
        def command(*args: str) -> str:
            program = Path(args[0]).name
            if program == "qemu-img":
                return f"qemu-img {args[1]}"
            return "qemu launch" if program.startswith("qemu-system") else program

        self.wrap(qemu_host, "run", command)       # qemu-img
        self.wrap(qemu_host, "run_detaching", command)  # QEMU itself
        self.wrap(qemu_host, "cached_base", "image cache")
        self.wrap(qemu_driver, "write_config_drive", "config drive ISO")
        self.wrap(qemu_host.Relays, "start", "metadata relay")
        self.wrap(qemu_driver.QemuDriver, "spawn", "spawn")
        ops = agent_ops.AgentOps
        self.wrap(ops, "build_instance", "agent build")
        self.wrap(ops, "_allocate_ports", "ports")
        self.wrap(ops, "_guest_spec", "guest spec")
        self.wrap(ops, "_update", "conductor update")

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def first(self, label: str) -> tuple[float, float] | None:
        return next(((s, e) for name, s, e in self.marks if name == label), None)

    def total(self, label: str) -> float:
        return sum(e - s for name, s, e in self.marks if name == label)


# -- guests: console, processes, the one-guest lock ---------------------------------------
@contextlib.contextmanager
def one_guest(image_dir: Path) -> Iterator[None]:
    """Held while a guest of ours runs: the guest image tests take the same lock."""
    with open(image_dir / ".qemu-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


async def wait_ready(console: Path, deadline: float, every: float = 0.01
                     ) -> tuple[float, str]:
    """perf_counter when console.log first holds the ready line, and the hostname."""
    seen = b""
    offset = 0
    while True:
        try:
            with open(console, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            seen = seen[-200:] + chunk
            found = READY.search(seen)
            if found:
                return time.perf_counter(), found.group(1).decode()
        if time.perf_counter() > deadline:
            raise BenchError(f"no ready line in {console} in time")
        await asyncio.sleep(every)


def guest_marks(console: Path) -> dict[str, float]:
    """The guest's uptime (ms) at its init's milestones, from its console log."""
    try:
        text = console.read_bytes()
    except OSError:
        return {}
    return {m.group(1).decode(): float(m.group(2)) * 1000 for m in GUEST_MARKS.finditer(text)}


def qemu_cpu(pidfile: Path) -> float | None:
    """utime + stime (ms) of the guest's QEMU process."""
    try:
        pid = int(pidfile.read_text().strip())
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / CLK_TCK
    except (OSError, ValueError, IndexError):
        return None


def other_guests(mine: str) -> int:
    """QEMU processes on the machine that are not this bench's (other people's tests)."""
    count = 0
    for pid in pids_mentioning("qemu-system"):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            count += b"qemu-system" in cmdline.split(b"\0")[0] and mine.encode() not in cmdline
    return count


def guest_image_dir() -> Path:
    """scripts/build-test-image.sh's outputs (instant when they are up to date)."""
    done = subprocess.run([str(REPO / "scripts" / "build-test-image.sh")],
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0 or not done.stdout.split():
        raise BenchError(f"build-test-image.sh failed: {done.stderr[-500:]}")
    return Path(done.stdout.split()[0]).parent


def random_mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in os.urandom(3))


# -- the floor: the driver's command line, started by hand ---------------------------------
async def floor_run(root: Path, image: Path, index: int) -> dict[str, Any]:
    work = Path(mkdtemp(prefix=f"floor-{index}-", dir=root))
    guest = str(uuid.uuid4())
    hostname = f"floor-{index}"
    layout = Layout(work / "instances", guest)
    layout.dir.mkdir(parents=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    RUN_DIRS.add(layout.run.parent)
    launch = Launch(uuid=guest, name=hostname, project_id="bench", vcpus=GUEST_VCPUS,
                    memory_mb=GUEST_RAM_MB, config_drive=True,
                    nics=[Nic(port_id=str(uuid.uuid4()), mac=random_mac(), mode="user")])
    out: dict[str, Any] = {}
    started = time.perf_counter()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    str(image), str(layout.disk), f"{GUEST_DISK_GB}G"], check=True)
    out["prep_overlay_ms"] = ms(time.perf_counter() - started)
    started = time.perf_counter()
    meta = {"uuid": guest, "name": hostname, "hostname": hostname, "launch_index": 0,
            "availability_zone": "nova", "project_id": "bench", "meta": {}}
    await write_config_drive({"openstack/latest/meta_data.json": json.dumps(meta).encode()},
                             layout.config_iso)
    out["prep_config_drive_ms"] = ms(time.perf_counter() - started)
    args = command_line(QEMU, launch, layout, "qemu")
    out["other_guests"] = other_guests(str(root))
    out["load_before"] = loadavg()
    try:
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        ready_task = asyncio.create_task(wait_ready(layout.console_log, started + TIMEOUT))
        _, err = await proc.communicate()  # -daemonize: returns once the guest is set up
        out["daemonized_ms"] = ms(time.perf_counter() - started)
        if proc.returncode != 0:
            ready_task.cancel()
            raise BenchError(f"QEMU failed: {err.decode(errors='replace')[-400:]}")
        ready, seen = await ready_task
        out["ready_ms"] = ms(ready - started)
        out["qemu_cpu_ms"] = qemu_cpu(layout.pidfile)
        out["guest"] = guest_marks(layout.console_log)
        if seen != hostname:
            raise BenchError(f"floor guest said hostname={seen}, wanted {hostname}")
    finally:
        kill_pids(pids_mentioning(str(work)), "floor QEMU")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(layout.run.parent, ignore_errors=True)
    return out


# -- ours: an in-process cloud with the qemu driver -----------------------------------------
