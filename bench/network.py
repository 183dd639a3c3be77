#!/usr/bin/env python3
"""Networking: port create and list rates at 10,000 ports.

Starts a private `onestack up` (free ports, temp state, fake backend), makes one
network with a /18 subnet, creates N ports with C concurrent clients, then times
full port lists (the target: a list of 10,000 ports under 200 ms, also the first one
after a start: the cloud is restarted on the same state and timed again) and a
filtered one.

    bench/network.py                    # 10,000 ports, 8 clients
    bench/network.py --ports 2000 --clients 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SERVICES = ("identity", "compute", "placement", "image", "network", "volume", "object",
            "dashboard")


def free_ports(count: int) -> list[int]:
    socks, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in socks:
        sock.close()
    return ports


def start(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`onestack up` on ``root``'s state (the same ports when started again)."""
    config = root / "onestack.toml"
    if not config.exists():
        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        config.write_text("[api]\naccess_log = false\n[api.ports]\n" + "".join(
            f"{name} = {port}\n" for name, port in ports.items())
            + "[identity]\npassword_hash_rounds = 4\n")
    network_port = next(line.split(" = ")[1] for line in config.read_text().splitlines()
                        if line.startswith("network = "))
    out = root / "out.txt"
    out.write_bytes(b"")
    process = subprocess.Popen(["onestack", "up", "--state-dir", str(root / "state"),
                                "--config", str(config)], stdout=out.open("wb"),
                               stderr=(root / "log.txt").open("wb"))
    for _ in range(150):
        if "is up in" in out.read_text():
            break
        if process.poll() is not None:
            sys.exit((root / "log.txt").read_text())
        time.sleep(0.2)
    env = {}
    for line in (root / "state" / "admin-openrc").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[7:].partition("=")
            env[key] = value
    env["NETWORK_URL"] = f"http://127.0.0.1:{network_port}"
    return process, env


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def timed_lists(base: str, headers: dict[str, str], runs: int) -> tuple[list[float], int]:
    """``runs`` full port lists on a new connection: their times, and the count."""
    times, count = [], 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        for _ in range(runs):
            started = time.perf_counter()
            response = await http.get("/ports")
            times.append(time.perf_counter() - started)
            count = len(response.json()["ports"])
    return times, count


async def run(args: argparse.Namespace, env: dict[str, str], root: Path,
              process: subprocess.Popen[bytes]) -> dict[str, object]:
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": env["OS_USERNAME"], "domain": {"name": "Default"},
        "password": env["OS_PASSWORD"]}}}, "scope": {"project": {
            "name": env["OS_PROJECT_NAME"], "domain": {"name": "Default"}}}}}
    async with httpx.AsyncClient(timeout=120) as client:
        answer = await client.post(env["OS_AUTH_URL"] + "/auth/tokens", json=auth)
        token = answer.headers["X-Subject-Token"]
        project = answer.json()["token"]["project"]["id"]
    headers = {"X-Auth-Token": token}
    base = env["NETWORK_URL"] + "/v2.0"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120,
                                 limits=httpx.Limits(max_connections=args.clients)) as http:
        await http.put(f"/quotas/{project}", json={"quota": {"port": -1}})
        net = (await http.post("/networks", json={"network": {"name": "bench"}})).json()
        network_id = net["network"]["id"]
        await http.post("/subnets", json={"subnet": {
            "network_id": network_id, "cidr": "10.128.0.0/18", "ip_version": 4}})
        latencies: list[float] = []
        queue = iter(range(args.ports))

        async def worker() -> None:
            for index in queue:
                started = time.perf_counter()
                response = await http.post("/ports", json={"port": {
                    "network_id": network_id, "name": f"p{index}",
                    "device_id": f"vm-{index % 500}"}})
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
        began = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(args.clients)])
        create_seconds = time.perf_counter() - began
        lists, count = await timed_lists(base, headers, args.list_runs)
        filtered = []
        for index in range(args.list_runs):
            started = time.perf_counter()
            await http.get(f"/ports?device_id=vm-{index}")
            filtered.append(time.perf_counter() - started)
    # the first lists after a start: nothing of a previous list is left in the process
    stop(process)
    process, _ = start(root)
    try:
        after_start, _ = await timed_lists(base, headers, args.list_runs)
    finally:
        stop(process)
    latencies.sort()
    return {
        "ports": args.ports, "clients": args.clients,
        "create_per_s": round(args.ports / create_seconds, 1),
        "create_p50_ms": round(latencies[len(latencies) // 2] * 1e3, 2),
        "create_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1e3, 2),
        "list_count": count,
        "list_all_first_ms": round(lists[0] * 1e3, 1),
        "list_all_median_ms": round(statistics.median(lists) * 1e3, 1),
        "list_all_max_ms": round(max(lists) * 1e3, 1),
        "after_restart_first_ms": round(after_start[0] * 1e3, 1),
        "after_restart_median_ms": round(statistics.median(after_start) * 1e3, 1),
        "list_by_device_median_ms": round(statistics.median(filtered) * 1e3, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ports", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--list-runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onestack-bench-net-") as tmp:
        process, env = start(Path(tmp))
        try:
            result = asyncio.run(run(args, env, Path(tmp), process))
        finally:
            if process.poll() is None:
                stop(process)
    result["load_avg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
