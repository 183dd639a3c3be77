"""Commands run inside a namespace (``ip netns exec``): nftables rulesets applied
atomically, sysctls, and the processes living in a namespace."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path


class CommandFailed(RuntimeError):
    pass


def in_ns(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else list(argv)


async def run(argv: list[str], stdin: str | None = None, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if check and proc.returncode:
        raise CommandFailed(f"{' '.join(argv[:6])}: exit {proc.returncode}: "
                            f"{err.decode(errors='replace').strip()[:2000]}")
    return out.decode(errors="replace")


async def nft(ns: str, script: str) -> None:
    """Apply an nftables script in one transaction (all of it, or nothing)."""
    await run(in_ns(ns, "nft", "-f", "-"), stdin=script)


async def nft_tables(ns: str) -> list[tuple[str, str]]:
    """(family, name) of every table in ``ns``."""
    out = await run(in_ns(ns, "nft", "list", "tables"), check=False)
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            found.append((parts[1], parts[2]))
    return found


async def delete_tables(ns: str, tables: list[tuple[str, str]]) -> None:
    if tables:
        await run(in_ns(ns, "nft", "-f", "-"), check=False,
                  stdin="".join(f"delete table {family} {name}\n" for family, name in tables))


async def sysctl(ns: str, values: dict[str, str]) -> None:
    script = "; ".join(f"echo {value} > /proc/sys/{key.replace('.', '/')}"
                       for key, value in values.items())
    await run(in_ns(ns, "sh", "-c", script), check=False)


def ns_pids(ns: str) -> list[int]:
    """The processes whose network namespace is ``ns`` (as ``ip netns pids``)."""
    try:
        target = os.stat(f"/run/netns/{ns}")
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            mine = os.stat(entry / "ns" / "net")
        except OSError:
            continue
        if (mine.st_dev, mine.st_ino) == (target.st_dev, target.st_ino):
            found.append(int(entry.name))
    return found


def kill(pid: int, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def kill_ns_processes(ns: str) -> None:
    for pid in ns_pids(ns):
        kill(pid, signal.SIGKILL)
