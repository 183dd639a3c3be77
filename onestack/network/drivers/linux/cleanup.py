"""Remove everything the Linux dataplane made under one prefix: its namespaces
(with the processes in them: dnsmasq), the devices and nftables tables it made in
the root namespace, and optionally its state directory. Guests lose their network:
this is for tests and for taking a host out of service.

    python3 -m onestack.network.drivers.linux.cleanup PREFIX
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

from onestack.network.drivers.linux import firewall, netlink, proc
from onestack.network.drivers.linux.names import Names


async def remove_all(prefix: str, state_dir: Path | None = None) -> None:
    names = Names(prefix)
    for ns in await netlink.run(netlink.namespaces):
        if ns.startswith(prefix):
            proc.kill_ns_processes(ns)
            await netlink.run(netlink.remove_ns, ns)
    marker = f"/network/{names.table}/".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    proc.kill(int(entry.name), 9)
            except OSError:
                continue
    for name in await netlink.run(netlink.links, ""):
        if name.startswith(prefix):
            await netlink.run(netlink.delete_link, "", name)
    have = set(await proc.nft_tables(""))
    await proc.delete_tables("", [t for t in firewall.removal(names) if t in have])
    if state_dir is not None:
        shutil.rmtree(Path(state_dir) / "network" / names.table, ignore_errors=True)


async def remaining(prefix: str) -> list[str]:
    """What is left with ``prefix``: namespaces, root devices and root nft tables."""
    names = Names(prefix)
    found = [f"netns {ns}" for ns in await netlink.run(netlink.namespaces)
             if ns.startswith(prefix)]
    found += [f"link {n}" for n in await netlink.run(netlink.links, "") if n.startswith(prefix)]
    found += [f"table {f} {n}" for f, n in await proc.nft_tables("")
              if (f, n) in firewall.removal(names)]
    marker = f"/network/{names.table}/".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(f"process {entry.name}")
            except OSError:
                continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prefix")
    parser.add_argument("--state-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(remove_all(args.prefix, args.state_dir))
    left = asyncio.run(remaining(args.prefix))
    print("\n".join(left) if left else f"nothing left with prefix {args.prefix!r}")


if __name__ == "__main__":
    main()
