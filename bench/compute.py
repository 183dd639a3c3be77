#!/usr/bin/env python3
"""Compute on the fake driver: `onestack up` with many fake hosts, driven over HTTP.

    bench/compute.py                         # 1,000 hosts, 1,000 servers, 30 latency runs
    bench/compute.py --hosts 100 --servers 100 --latency-runs 10
    bench/compute.py --placement             # + bench/placement.py (candidates and claims
                                             #   at 1,000 and 10,000 providers, side by side
                                             #   with upstream Placement)

Measures (1) N servers booted concurrently onto N fake hosts: time until all are
ACTIVE, spread over hosts, process RSS before and after; (2) single server create ->
ACTIVE latency (POST, then GET every 2 ms until ACTIVE), p50/p90 over runs, with the
boot flow's server CPU per server. Fresh state dir and free ports; stopped on exit.
Upstream Nova is not installed here, so there is no side-by-side for these two; the
placement part is side by side (bench/placement.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import mkdtemp

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import BenchError, log, set_log_tag  # noqa: E402
from benchlib.ports import pick_port  # noqa: E402
from benchlib.processes import process_tree  # noqa: E402
from benchlib.sampling import cpu_seconds  # noqa: E402
from benchlib.servers import OnestackServer, cleanup  # noqa: E402


class OnestackCompute(OnestackServer):
    api_path = "/v2.1"
    setup = "onestack up (all services, one process), SQLite, fake virt driver"

    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        super().__init__(root, args)
        self.ports = {name: pick_port(base) for name, base in (
            ("identity", 5701), ("image", 5702), ("network", 5703), ("placement", 5704),
            ("volume", 5705), ("object", 5706), ("dashboard", 5707))}

    def config_text(self) -> str:
        ports = ", ".join(f"{k} = {v}" for k, v in {**self.ports, "compute": self.port}.items())
        return ("[api]\naccess_log = false\n"
                f"ports = {{ {ports} }}\n"
                "[identity]\npassword_hash_rounds = 4\n"
                f"[compute]\nfake_hosts = {self.args.hosts}\nhost = \"bench\"\n"
                "report_interval = 10.0\nreconcile_interval = 60.0\n")

    def url_of(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


def rss_mib(roots: list[int]) -> float:
    total = 0
    for pid in process_tree(roots):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


async def token(client: httpx.AsyncClient, identity: str, password: str) -> str:
    response = await client.post(f"{identity}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}})
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


async def prepare(client: httpx.AsyncClient, server: OnestackCompute) -> dict[str, str]:
    image = server.url_of("image")
    created = (await client.post(f"{image}/v2/images", json={
        "name": "bench", "disk_format": "raw", "container_format": "bare",
        "visibility": "public"})).json()
    (await client.put(f"{image}/v2/images/{created['id']}/file", content=b"x" * 4096,
                      headers={"Content-Type": "application/octet-stream"})
     ).raise_for_status()
    net = server.url_of("network")
    network = (await client.post(f"{net}/v2.0/networks", json={"network": {
        "name": "bench-net"}})).json()["network"]
    (await client.post(f"{net}/v2.0/subnets", json={"subnet": {
        "network_id": network["id"], "cidr": "10.64.0.0/16", "ip_version": 4}})
     ).raise_for_status()
    # an admin project: raise the quotas so that N servers fit
    compute = server.url
    project = (await client.get(f"{server.url_of('identity')}/v3/auth/tokens",
                                headers={"X-Subject-Token": client.headers["X-Auth-Token"]})
               ).json()["token"]["project"]["id"]
    (await client.put(f"{compute}/os-quota-sets/{project}", json={"quota_set": {
        "instances": -1, "cores": -1, "ram": -1}})).raise_for_status()
    (await client.put(f"{net}/v2.0/quotas/{project}", json={"quota": {"port": -1}})
     ).raise_for_status()
    flavor = (await client.post(f"{compute}/flavors", json={"flavor": {
        "name": "bench", "ram": 64, "vcpus": 1, "disk": 1}})).json()["flavor"]
    return {"image": created["id"], "network": network["id"], "flavor": flavor["id"]}


async def create(client: httpx.AsyncClient, url: str, kit: dict[str, str], name: str) -> str:
    response = await client.post(f"{url}/servers", json={"server": {
        "name": name, "imageRef": kit["image"], "flavorRef": kit["flavor"],
        "networks": [{"uuid": kit["network"]}]}})
    if response.status_code != 202:
        raise BenchError(f"create failed: {response.status_code} {response.text[:300]}")
    return str(response.json()["server"]["id"])


async def many(client: httpx.AsyncClient, server: OnestackCompute, kit: dict[str, str],
               count: int, concurrency: int) -> dict:
    url = server.url
    rss_before = rss_mib(server.roots())
    cpu_before = cpu_seconds(server.roots())
    started = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with gate:
            return await create(client, url, kit, f"many-{i}")

    ids = await asyncio.gather(*(one(i) for i in range(count)))
    accepted = time.perf_counter() - started
    pending = set(ids)
    hosts: dict[str, int] = {}
    errors = 0
    while pending:
        listing = (await client.get(f"{url}/servers/detail?limit=1000&name=many-",
                                    timeout=120)).json()  # one poll a second: cheap
        for item in listing["servers"]:
            if item["id"] in pending and item["status"] in ("ACTIVE", "ERROR"):
                pending.discard(item["id"])
                errors += item["status"] == "ERROR"
                host = item.get("OS-EXT-SRV-ATTR:host") or "-"
                hosts[host] = hosts.get(host, 0) + 1
        if pending:
            await asyncio.sleep(1.0)
        if time.perf_counter() - started > 600:
            raise BenchError(f"{len(pending)} servers still not ACTIVE after 600 s")
    elapsed = time.perf_counter() - started
    return {"servers": count, "concurrency": concurrency,
            "all_accepted_s": round(accepted, 2), "all_active_s": round(elapsed, 2),
            "errors": errors, "hosts_used": len(hosts), "max_per_host": max(hosts.values()),
            "server_cpu_ms_per_server": round(
                (cpu_seconds(server.roots()) - cpu_before) * 1000 / count, 2),
            "rss_mib_before": rss_before, "rss_mib_after": rss_mib(server.roots())}


async def latency(client: httpx.AsyncClient, server: OnestackCompute, kit: dict[str, str],
                  runs: int) -> dict:
    url = server.url
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        sid = await create(client, url, kit, f"latency-{i}")
        while True:
            status = (await client.get(f"{url}/servers/{sid}")).json()["server"]["status"]
            if status in ("ACTIVE", "ERROR"):
                break
            await asyncio.sleep(0.002)
        if status != "ACTIVE":
            raise BenchError(f"latency server {sid} went to {status}")
        samples.append((time.perf_counter() - started) * 1000)
        await client.delete(f"{url}/servers/{sid}")
        await asyncio.sleep(0.05)
    samples.sort()
    return {"runs": runs, "p50_ms": round(statistics.median(samples), 1),
            "p90_ms": round(samples[int(len(samples) * 0.9) - 1], 1),
            "min_ms": round(samples[0], 1)}


async def drive(server: OnestackCompute, args: argparse.Namespace) -> dict:
    limits = httpx.Limits(max_connections=args.concurrency + 4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        client.headers["X-Auth-Token"] = await token(client, server.url_of("identity"),
                                                     server.password())
        client.headers["OpenStack-API-Version"] = "compute 2.1"
        # wait until every host has registered (the agents start with the cloud)
        deadline = time.time() + 300
        while True:
            found = (await client.get(f"{server.url}/os-hypervisors")).json()["hypervisors"]
            if len(found) >= args.hosts:
                break
            if time.time() > deadline:
                raise BenchError(f"only {len(found)} of {args.hosts} hosts registered")
            await asyncio.sleep(0.5)
        kit = await prepare(client, server)
        result = {"hosts": args.hosts, "idle_rss_mib": rss_mib(server.roots())}
        result["latency"] = await latency(client, server, kit, args.latency_runs)
        result["concurrent"] = await many(client, server, kit, args.servers, args.concurrency)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50,
                        help="create requests in flight at once")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--placement", action="store_true",
                        help="also run bench/placement.py (side by side with upstream)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--onestack-cmd", default="")
    parser.add_argument("--onestack-toml", default="")
    args = parser.parse_args()
    set_log_tag("compute")
    root = Path(mkdtemp(prefix="bench-compute-"))
    server = OnestackCompute(root, args)
    server.port = pick_port(5700)
    try:
        server.prepare()
        started = time.perf_counter()
        server.launch(root / "state", "onestack")
        ready_s = time.perf_counter() - started
        result = asyncio.run(drive(server, args))
        result["ready_s"] = round(ready_s, 2)
        result["date"] = time.strftime("%Y-%m-%d %H:%M")
        print(json.dumps(result, indent=2))
        out = HERE / "results" / f"compute-{time.strftime('%Y%m%d-%H%M')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        log(f"wrote {out}")
    finally:
        cleanup([server], root, args.keep)
    if args.placement:
        return subprocess.call([sys.executable, str(HERE / "placement.py")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
