#!/usr/bin/env python3
"""The Linux network dataplane (`[network] backend = linux`), measured with stand-in
guests (namespaces plugged like QEMU taps; see tests/integration/network/guests.py).
Run as root, by hand (not part of the tests):

    bench/dataplane.py                      # 10 wiring runs, 5 s iperf3 per direction
    bench/dataplane.py --runs 20 --seconds 10 --results   # + a section in RESULTS.md

Measures (1) the time to wire a port: POST /v2.0/ports bound to the host -> tap
plugged -> port ACTIVE -> DHCP lease -> first ping answered by a guest already
there; (2) guest-to-guest TCP throughput (iperf3, else a Python socket blaster) on
one host through the bridge, and between two hosts over VXLAN (two host namespaces
joined by a veth underlay), with the security groups' stateful filtering on.
Everything lives under a fresh prefix and is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from onestack.cloud import Cloud, prepare_state_dir  # noqa: E402
from onestack.network.drivers.linux import cleanup  # noqa: E402
from onestack.network.service import close, open_networking  # noqa: E402
from tests.conftest import admin_api  # noqa: E402
from tests.integration.network.conftest import (  # noqa: E402
    create,
    guest_port,
    linux_config,
    show,
)
from tests.integration.network.guests import Guest, ip, plug_fake_guest, run  # noqa: E402

UNDERLAY = "10.251.0."
BLASTER = r"""
import socket, sys, time
if sys.argv[1] == "serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5201)); s.listen(1); print("ready", flush=True)
    c, _ = s.accept(); total = 0
    while (d := c.recv(1 << 20)): total += len(d)
    print(total)
else:
    c = socket.create_connection((sys.argv[2], 5201)); buf = b"x" * (1 << 20)
    end = time.monotonic() + float(sys.argv[3]); sent = 0; start = time.monotonic()
    while time.monotonic() < end: c.sendall(buf); sent += len(buf)
    c.close(); print(sent * 8 / (time.monotonic() - start))
"""


async def throughput(server: Guest, client: Guest, address: str, seconds: int) -> float:
    """Bits per second from ``client`` to ``server``."""
    if shutil.which("iperf3"):
        listener = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", server.ns, "iperf3", "-s", "-1",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await asyncio.sleep(0.5)
        code, out = await client.sh("iperf3", "-c", address, "-t", str(seconds), "-J",
                                    timeout=seconds + 30)
        await listener.wait()
        assert code == 0, out
        return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])
    listener = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", server.ns, sys.executable, "-c", BLASTER, "serve",
        stdout=asyncio.subprocess.PIPE)
    assert listener.stdout is not None
    await listener.stdout.readline()
    code, out = await client.sh(sys.executable, "-c", BLASTER, "send", address,
                                str(seconds), timeout=seconds + 30)
    await listener.wait()
    assert code == 0, out
    return float(out.strip())


async def wire_once(api: Any, plane: Any, net_id: str, target: str, index: int,
                    workdir: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    port = await guest_port(api, net_id)
    t_bound = time.perf_counter()
    guest = await plug_fake_guest(port["binding:vif_details"], port["mac_address"],
                                  f"{plane.prefix}w{index}", workdir)
    t_plugged = time.perf_counter()
    while (await show(api, "ports", "port", port["id"]))["status"] != "ACTIVE":
        await asyncio.sleep(0.005)
    t_active = time.perf_counter()
    await guest.dhcp()
    t_lease = time.perf_counter()
    while not await guest.ping(target, wait=1):
        pass
    t_ping = time.perf_counter()
    return {"bind": t_bound - t0, "plug": t_plugged - t_bound,
            "active": t_active - t_plugged, "lease": t_lease - t_active,
            "ping": t_ping - t_lease, "total": t_ping - t0}


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.0f} / {p90 * 1000:.0f}"


class Plane:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--results", action="store_true",
                        help="append a section to bench/RESULTS.md")
    args = parser.parse_args()
    prefix = "b" + uuid.uuid4().hex[:4] + "-"
    base = Path(mkdtemp(prefix="onestack-dataplane-"))
    config = linux_config(base / "state", prefix, local_ip=UNDERLAY + "1",
                          status_interval=0.05)
    prepare_state_dir(config.state_dir, reset=False)
    cloud = Cloud(config)
    second = None
    plane = Plane(prefix)
    results: dict[str, Any] = {}
    try:
        await cloud.build()
        other = linux_config(config.state_dir, prefix, host="host2",
                             host_namespace=prefix + "h2", local_ip=UNDERLAY + "2",
                             dhcp_agent=False, l3_agent=False, status_interval=0.05)
        other.database = config.database
        second = await open_networking(other)
        await ip("-n", prefix + "h1", "link", "add", prefix + "u1", "type", "veth", "peer",
                 "name", prefix + "u2", "netns", prefix + "h2")
        for end, host in (("1", "h1"), ("2", "h2")):
            await ip("-n", prefix + host, "addr", "add", UNDERLAY + end + "/24", "dev",
                     prefix + "u" + end)
            await ip("-n", prefix + host, "link", "set", prefix + "u" + end, "up")
        async with admin_api(cloud, "network") as api:
            net = await create(api, "networks", "network", name="bench")
            await create(api, "subnets", "subnet", network_id=net["id"],
                         cidr="10.60.0.0/16", ip_version=4)
            ports = [await guest_port(api, net["id"], host=h) for h in
                     ("host1", "host1", "host2")]
            await cloud.services["network"].backend.sync()
            await second.backend.sync()
            guests = [await plug_fake_guest(p["binding:vif_details"], p["mac_address"],
                                            f"{prefix}g{i}", base / "guests")
                      for i, p in enumerate(ports)]
            for guest in guests:
                await guest.dhcp()
            addresses = [p["fixed_ips"][0]["ip_address"] for p in ports]
            assert await guests[0].reaches(addresses[2]), "no path over VXLAN"
            # a background sync per change, as in service: the status loop picks taps up
            runs = [await wire_once(api, plane, net["id"], addresses[0], i, base / "guests")
                    for i in range(args.runs)]
            results["wiring"] = runs
            results["same_host_bps"] = await throughput(guests[1], guests[0], addresses[1],
                                                        args.seconds)
            results["vxlan_bps"] = await throughput(guests[2], guests[0], addresses[2],
                                                    args.seconds)
    finally:
        if second is not None:
            await close(second)
        await cloud.close()
        await cleanup.remove_all(prefix, config.state_dir)
        left = await cleanup.remaining(prefix)
        shutil.rmtree(base, ignore_errors=True)
        assert not left, left
    _, load = await run("cat", "/proc/loadavg")
    report(results, args, load.split()[0], shutil.which("iperf3") is not None)


def report(results: dict[str, Any], args: argparse.Namespace, load: str, iperf: bool
           ) -> None:
    runs = results["wiring"]
    rows = [("POST /v2.0/ports (bind, bridge, firewall queued)", "bind"),
            ("plug the tap (the test's veth, as QEMU's tap)", "plug"),
            ("tap in bridge -> port ACTIVE", "active"),
            ("DHCP lease (udhcpc, discover -> bound)", "lease"),
            ("first ping answered", "ping"),
            ("**bind -> reachable, total**", "total")]
    lines = [
        "## Linux dataplane: wiring and guest throughput (`bench/dataplane.py`)", "",
        f"**Latest run:** {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"`bench/dataplane.py --runs {args.runs} --seconds {args.seconds}`; load average "
        f"(1 min) after the run: {load}. Guests are namespaces plugged like QEMU taps "
        "(veth named tap…, in the binding's bridge); two hosts are two host namespaces "
        "joined by a veth underlay (MTU 1500, VXLAN network MTU 1450); stateful security "
        "groups (the default group) on every guest port. Machine: 2 vCPU (shared).", "",
        "| step of wiring a port | median / p90 (ms) |", "|---|---:|"]
    for label, key in rows:
        lines.append(f"| {label} | {summary([r[key] for r in runs])} |")
    tool = "iperf3" if iperf else "Python socket blaster"
    lines += ["", f"| guest → guest TCP ({tool}, {args.seconds} s, 1 stream) | Gbit/s |",
              "|---|---:|",
              f"| same host, through the bridge | {results['same_host_bps'] / 1e9:.2f} |",
              f"| two hosts, over VXLAN | {results['vxlan_bps'] / 1e9:.2f} |", ""]
    text = "\n".join(lines)
    print(text)
    if args.results:
        path = HERE / "RESULTS.md"
        current = path.read_text()
        header = lines[0]
        if header in current:
            start = current.index(header)
            rest = current[start + len(header):]
            following = rest.find("\n## ")
            end = start + len(header) + following + 1 if following >= 0 else len(current)
            current = current[:start] + text + "\n" + current[end:]
        else:
            current = current.rstrip("\n") + "\n\n" + text
        path.write_text(current)


if __name__ == "__main__":
    asyncio.run(main())
