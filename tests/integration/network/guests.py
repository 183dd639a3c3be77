"""Stand-in guests for the Linux dataplane stories: a guest is a network namespace
whose ``eth0`` is one end of a veth pair; the other end, named like the port's tap,
is plugged into the binding's bridge in the binding's namespace, as the QEMU driver
plugs a tap. Guests get their address by DHCP (busybox udhcpc) and talk with ping,
small TCP listeners and wget."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc's hook: configure eth0 from the lease, keep what was offered in $LEASE_ENV
case "$1" in
  deconfig)
    ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
    elif [ -n "$router" ]; then
      for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    env > "$LEASE_ENV" ;;
esac
exit 0
"""

LISTENER = r"""
import socket, sys
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1]))); server.listen(16)
print("ready", flush=True)
while True:
    conn, peer = server.accept()
    conn.sendall(f"hello from {sys.argv[1]} to {peer[0]}\n".encode()); conn.close()
"""

CONNECT = r"""
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        s.settimeout(float(sys.argv[3])); print(s.recv(200).decode().strip())
except OSError as error:
    print("failed:", error); sys.exit(1)
"""


async def run(*argv: str, timeout: float = 20, stdin: bytes | None = None
              ) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, "timeout"
    return proc.returncode or 0, out.decode(errors="replace")


async def ip(*args: str) -> str:
    code, out = await run("ip", *args)
    assert code == 0, f"ip {' '.join(args)}: {out}"
    return out


def _n(ns: str) -> list[str]:
    return ["-n", ns] if ns else []


@dataclass
class Guest:
    ns: str
    mac: str
    workdir: Path
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def sh(self, *argv: str, timeout: float = 20) -> tuple[int, str]:
        return await run("ip", "netns", "exec", self.ns, *argv, timeout=timeout)

    async def dhcp(self, tries: int = 3) -> dict[str, str]:
        """Ask for a lease (udhcpc); what was offered, as the hook saw it."""
        script = self.workdir / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o755)
        lease = self.workdir / f"{self.ns}.lease"
        lease.unlink(missing_ok=True)
        code, out = await run(
            "ip", "netns", "exec", self.ns, "env", f"LEASE_ENV={lease}",
            "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", str(tries * 2),
            "-T", "1", "-A", "1", "-O", "staticroutes", "-O", "mtu", "-s", str(script),
            timeout=30)
        assert code == 0 and lease.exists(), f"no DHCP lease for {self.ns}: {out}"
        values = {}
        for line in lease.read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value
        return values

    async def ping(self, address: str, count: int = 1, wait: int = 1) -> bool:
        code, _ = await self.sh("busybox", "ping", "-c", str(count), "-W", str(wait),
                                address, timeout=count * wait + 5)
        return code == 0

    async def reaches(self, address: str, attempts: int = 10) -> bool:
        for _ in range(attempts):
            if await self.ping(address):
                return True
            await asyncio.sleep(0.3)
        return False

    async def listen(self, port: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.ns, sys.executable, "-c", LISTENER, str(port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert line.startswith(b"ready"), line
        self.processes.append(proc)

    async def connect(self, address: str, port: int, timeout: float = 2) -> str | None:
        code, out = await self.sh(sys.executable, "-c", CONNECT, address, str(port),
                                  str(timeout), timeout=timeout + 10)
        return out.strip() if code == 0 else None

    async def stop(self) -> None:
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self.processes.clear()


async def plug_fake_guest(vif_details: dict[str, Any], mac: str, name: str,
                          workdir: Path) -> Guest:
    """What the QEMU driver does with a tap, done with a veth: ``tap_name`` in
    ``netns``, in ``bridge``, at ``mtu``, up; the guest's end (``eth0`` in namespace
    ``name``) carries the port's MAC, as the guest's NIC would."""
    host_ns, tap = vif_details["netns"], vif_details["tap_name"]
    mtu = str(vif_details["mtu"])
    await ip("netns", "add", name)
    await ip("-n", name, "link", "set", "lo", "up")
    await ip(*_n(host_ns), "link", "add", tap, "type", "veth", "peer", "name", "eth0",
             "netns", name)
    await ip("-n", name, "link", "set", "eth0", "address", mac, "mtu", mtu, "up")
    await ip(*_n(host_ns), "link", "set", tap, "mtu", mtu, "master", vif_details["bridge"],
             "up")
    workdir.mkdir(parents=True, exist_ok=True)
    return Guest(name, mac, workdir)


async def outside(name: str, bridge: str, bridge_ns: str, address: str, gateway: str = ""
                  ) -> Guest:
    """A namespace on the external network (a veth into its bridge), not a port."""
    await ip("netns", "add", name)
    await ip("-n", name, "link", "set", "lo", "up")
    peer = "x" + name[-14:]
    await ip(*_n(bridge_ns), "link", "add", peer[:15], "type", "veth", "peer", "name", "eth0",
             "netns", name)
    await ip(*_n(bridge_ns), "link", "set", peer[:15], "master", bridge, "up")
    await ip("-n", name, "addr", "add", address, "dev", "eth0")
    await ip("-n", name, "link", "set", "eth0", "up")
    if gateway:
        await ip("-n", name, "route", "add", "default", "via", gateway)
    return Guest(name, "", Path("/tmp"))
