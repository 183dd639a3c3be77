#!/usr/bin/env python3
"""Placement side by side: upstream Placement (uWSGI, SQLite, noauth2) and `onestack up`,
measured by the same client (`bench_placement.py`: setup rate, allocation candidates
latency at each limit, claims with 1 and 8 clients, server CPU per operation).

    bench/placement.py                          # N=1000 and N=10000, both sides
    bench/placement.py --providers 1000 --only onestack --runs 1
    bench/placement.py --only onestack --ac-after-writes 100   # + candidates after claims

Each side and each N gets a fresh server (temp state dir, free ports in the 56xx/86xx
range); everything is stopped on exit. Prints one JSON summary per side and N, and
writes them to bench/results/placement-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import mkdtemp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import BenchError, log, set_log_tag  # noqa: E402
from benchlib.ports import pick_port  # noqa: E402
from benchlib.processes import HELPERS, clean_env  # noqa: E402
from benchlib.servers import OnestackServer, cleanup  # noqa: E402
from benchlib.upstream_tools import UPSTREAM_DIR, last_json_line, stop_launched  # noqa: E402

BENCH_PLACEMENT = UPSTREAM_DIR / "bench_placement.py"
START_PLACEMENT = UPSTREAM_DIR / "placement" / "start_placement.sh"


class OnestackPlacement(OnestackServer):
    api_path = ""
    setup = "onestack up (all services, one process), SQLite"

    def config_text(self) -> str:
        identity = pick_port(5601)
        return ("[api]\naccess_log = false\n"
                f"ports = {{ identity = {identity}, placement = {self.port}, "
                "network = 9601, image = 9602, compute = 5602, volume = 5604, "
                "object = 5605, dashboard = 5606 }\n"
                "[identity]\npassword_hash_rounds = 4\n")

    def token(self) -> str:
        text = self.config.read_text()
        identity = int(text.split("identity = ")[1].split(",")[0])
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": self.password()}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        request = urllib.request.Request(
            f"http://127.0.0.1:{identity}/v3/auth/tokens", json.dumps(body).encode(),
            {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.headers["X-Subject-Token"])


def run_client(url: str, token: str, pids: Path, args: argparse.Namespace, n: int,
               out: Path) -> dict:
    argv = [sys.executable, str(BENCH_PLACEMENT), "--base-url", url, "--token", token,
            "--microversion", "1.39", "--providers", str(n), "--runs", str(args.runs),
            "--claim-seconds", str(args.claim_seconds), "--ac-calls", str(args.ac_calls),
            "--json", str(out), "--server-pids", str(pids)]
    result = HELPERS.run(argv, env=clean_env(), timeout=3600, check=False)
    if result.returncode != 0:
        raise BenchError(f"bench_placement failed: {result.stderr[-2000:]}")
    return last_json_line(result.stdout.replace("SUMMARY ", ""))


def ac_after_writes(url: str, token: str, calls: int) -> dict:
    """GET /allocation_candidates right after a claim each time (no cached answer)."""
    import http.client
    import statistics
    import uuid

    host, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "placement 1.39",
               "Content-Type": "application/json"}

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        conn.request(method, path, json.dumps(body) if body else None, headers)
        response = conn.getresponse()
        return response.status, response.read()

    res = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
    query = "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:1"
    rps = sorted(json.loads(call("GET", query)[1])["provider_summaries"])
    samples, consumers = [], []
    for i in range(calls):
        consumer = str(uuid.uuid4())
        status, _ = call("PUT", f"/allocations/{consumer}", {
            "allocations": {rps[i % len(rps)]: {"resources": res}}, "project_id": consumer,
            "user_id": consumer, "consumer_generation": None, "consumer_type": "INSTANCE"})
        if status == 204:
            consumers.append(consumer)
        started = time.perf_counter()
        status, _ = call("GET", query)
        samples.append((time.perf_counter() - started) * 1000)
    for consumer in consumers:
        call("DELETE", f"/allocations/{consumer}")
    samples.sort()
    return {"calls": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 2)}


def bench_onestack(root: Path, args: argparse.Namespace, n: int) -> dict:
    server = OnestackPlacement(root / f"onestack-{n}", args)
    server.root.mkdir(parents=True)
    server.port = pick_port(8601)
    server.prepare()
    try:
        launch = server.launch(server.root / "state", f"onestack-placement-{n}")
        assert server.probe_dir is not None
        token = server.token()
        summary = run_client(server.url, token, server.probe_dir / "pids", args, n,
                             server.root / "bench.json")
        if args.ac_after_writes:
            summary["ac_after_writes"] = ac_after_writes(server.url, token,
                                                         args.ac_after_writes)
        return {"launch": launch, "summary": summary}
    finally:
        server.stop()


def bench_upstream(root: Path, args: argparse.Namespace, n: int) -> dict:
    state = root / f"upstream-{n}"
    port = pick_port(8778)
    env = clean_env(STATE=str(state), PORT=str(port))
    result = HELPERS.run(["bash", str(START_PLACEMENT)], env=env, timeout=300, check=False)
    if result.returncode != 0:
        raise BenchError(f"start_placement.sh failed: {result.stdout[-1000:]}"
                         f"{result.stderr[-1000:]}")
    try:
        summary = run_client(f"http://127.0.0.1:{port}", "admin", state / "pids", args, n,
                             state / "bench.json")
        return {"launch": last_json_line(result.stdout), "summary": summary}
    finally:
        stop_launched(state)


def main() -> int:
    set_log_tag("placement-bench")
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--providers", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--only", choices=["onestack", "upstream"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ac-calls", type=int, default=100)
    ap.add_argument("--ac-after-writes", type=int, default=0, metavar="CALLS",
                    help="onestack: also time CALLS candidates queries, each after a claim")
    ap.add_argument("--claim-seconds", type=float, default=10)
    ap.add_argument("--onestack-cmd", default="")
    ap.add_argument("--onestack-toml", default="")
    ap.add_argument("--results-dir", default=str(HERE / "results"))
    ap.add_argument("--keep-state", action="store_true")
    args = ap.parse_args()
    root = Path(mkdtemp(prefix="placement-bench-"))
    results: dict[str, dict] = {}
    try:
        for n in args.providers:
            for side, run in (("upstream", bench_upstream), ("onestack", bench_onestack)):
                if args.only and args.only != side:
                    continue
                log(f"{side} N={n}")
                results[f"{side}-{n}"] = run(root, args, n)
                print(json.dumps({side: n, **results[f"{side}-{n}"]["summary"]}), flush=True)
    except BenchError as exc:
        log(str(exc))
        return 2
    finally:
        cleanup([], root, args.keep_state)
        out = Path(args.results_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"placement-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
            json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
