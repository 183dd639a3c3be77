"""Processes: trees read from /proc, helper subprocesses, stopping what is left over."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from benchlib import BenchError, log


def descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as handle:
                    kids = [int(x) for x in handle.read().split()]
            except OSError:
                kids = []
            out.extend(kids)
            stack.extend(kids)
    return out


def process_tree(roots: list[int]) -> list[int]:
    """The live roots and all their descendants, sorted."""
    pids: set[int] = set()
    for root in roots:
        if Path(f"/proc/{root}").exists():
            pids.add(root)
            pids.update(descendants(root))
    return sorted(pids)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait up to timeout s for pids to exit; return those still alive."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if is_alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if is_alive(p)]
    return left


def pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line contains marker (our unique temp dir)."""
    needle = marker.encode()
    found = []
    me = {os.getpid(), os.getppid()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if needle in handle.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def kill_pids(pids: list[int], what: str) -> None:
    """SIGTERM the live pids, then SIGKILL those still there after 10 s."""
    pids = [p for p in pids if is_alive(p)]
    if not pids:
        return
    log(f"stopping leftover {what}: {pids}")
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    for pid in wait_gone(pids, 10):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    wait_gone(pids, 5)


class HelperProcesses:
    """Every helper subprocess runs in its own session; on exit we kill the groups."""

    def __init__(self) -> None:
        self.running: dict[int, subprocess.Popen] = {}

    def run(self, argv: list[str], *, env: dict[str, str] | None = None,
            timeout: float | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True, text=True)
        self.running[proc.pid] = proc
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(proc)
            raise BenchError(f"timed out after {timeout}s: {' '.join(argv)}") from None
        except BaseException:  # Ctrl-C: leave nothing behind
            self.kill(proc)
            raise
        self.running.pop(proc.pid, None)
        result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise BenchError(f"failed ({proc.returncode}): {' '.join(argv)}\n"
                             f"{out[-2000:]}\n{err[-3000:]}")
        return result

    def kill(self, proc: subprocess.Popen) -> None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        self.running.pop(proc.pid, None)

    def kill_all(self) -> None:
        for proc in list(self.running.values()):
            self.kill(proc)


HELPERS = HelperProcesses()


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without OS_*, ONESTACK_* and KS_* (they would change the servers
    or the client's credentials), plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OS_", "ONESTACK_", "KS_"))}
    env.update(extra)
    return env
