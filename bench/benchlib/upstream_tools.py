"""The shared bench tools in $BENCH_UPSTREAM_DIR, called by path and unchanged, so
upstream and onestack are measured the same way: launch_probe.py (launch -> first good
probe, memory of a process tree) and bench_keystone.py (token issue and validate)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib import BenchError
from benchlib.processes import HELPERS, clean_env
from benchlib.sampling import cpu_seconds, cpu_split

if TYPE_CHECKING:
    from benchlib.servers import Server

UPSTREAM_DIR = Path(os.environ.get("BENCH_UPSTREAM_DIR", "/work/shared/bench/upstream"))
LAUNCH_PROBE = UPSTREAM_DIR / "launch_probe.py"
BENCH_KEYSTONE = UPSTREAM_DIR / "bench_keystone.py"


def last_json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"no JSON in output: {text[-500:]!r}")


def launch_probe(state: Path, cmd: str, probe: str, env: dict[str, str],
                 timeout: float, label: str) -> dict:
    """Run cmd, time it to the first good probe; launch_probe.py keeps its pids in state."""
    argv = [sys.executable, str(LAUNCH_PROBE), "--state", str(state), "--cmd", cmd,
            "--probe", probe, "--settle", "0", "--timeout", str(timeout), "--label", label]
    result = HELPERS.run(argv, env=env, timeout=timeout + 60, check=False)
    try:
        data = last_json_line(result.stdout)
    except BenchError:
        data = {"error": result.stdout + result.stderr}
    if result.returncode != 0 or not data.get("ready_s"):
        tail = ""
        for logfile in sorted(state.glob("launch-*.log")):
            tail += logfile.read_text(errors="replace")[-3000:]
        raise BenchError(f"{label}: server did not come up: {data}\n{tail}")
    return data


def stop_launched(state: Path) -> None:
    """Stop what launch_probe started with this state dir."""
    HELPERS.run([sys.executable, str(LAUNCH_PROBE), "--stop", "--state", str(state)],
                timeout=60, check=False)


def measure_memory(state: Path, roots: list[int], label: str) -> dict:
    """RSS and PSS of the process trees of roots."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "pids").write_text(" ".join(map(str, roots)) + "\n")
    result = HELPERS.run([sys.executable, str(LAUNCH_PROBE), "--measure-only", "--state",
                          str(state), "--label", label], timeout=60)
    return last_json_line(result.stdout)


def bench_phase(server: Server, op: str, conc: int, duration: float, outfile: Path
                ) -> dict:
    """One bench_keystone.py run against server, plus the server's CPU time over it."""
    roots = server.roots()
    argv = [sys.executable, str(BENCH_KEYSTONE), "--auth-url", server.url,
            # one argument: a generated password may start with "-"
            f"--password={server.password()}", "--user", "admin", "--project", "admin",
            "--user-domain", "Default", "--project-domain", "Default",
            "--duration", str(duration), "--warmup", "0", "--concurrency", str(conc),
            "--ops", op, "--json", str(outfile)]
    split0, cpu0, t0 = cpu_split(roots), cpu_seconds(roots), time.monotonic()
    result = HELPERS.run(argv, env=clean_env(), timeout=duration + 300, check=False)
    wall, cpu1, split1 = time.monotonic() - t0, cpu_seconds(roots), cpu_split(roots)
    try:
        data = json.loads(outfile.read_text())[0]
    except (OSError, ValueError, IndexError):
        raise BenchError(f"{server.name} {op} c={conc}: bench_keystone failed:\n"
                         f"{result.stdout[-1500:]}\n{result.stderr[-1500:]}") from None
    data["server_cpu_s"] = round(cpu1 - cpu0, 3)
    data["invocation_wall_s"] = round(wall, 3)
    data["server_cores_busy"] = round((cpu1 - cpu0) / wall, 2) if wall else None
    data["client_stdout"] = result.stdout
    served = data.get("ok", 0) + data.get("errors", 0) + (2 if op == "issue" else 0)
    data["server_cpu_threads"] = {
        "main_s": round(split1[0] - split0[0], 3), "other_s": round(split1[1] - split0[1], 3),
        "main_ms_per_op": round(1e3 * (split1[0] - split0[0]) / served, 3) if served else None,
        "other_ms_per_op": round(1e3 * (split1[1] - split0[1]) / served, 3) if served else None}
    return data
