"""Identity: upstream Keystone as the anchor script starts it, onestack's identity
config, and the identity table with its targets."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
from pathlib import Path

from benchlib import BenchError, log
from benchlib.environment import pkg_versions
from benchlib.ports import pick_port
from benchlib.processes import HELPERS, clean_env, is_alive, kill_pids, process_tree, wait_gone
from benchlib.report import Row, comparison_table, median
from benchlib.servers import OnestackServer, Server
from benchlib.upstream_tools import UPSTREAM_DIR, launch_probe

START_KEYSTONE = UPSTREAM_DIR / "start_keystone.sh"
UPSTREAM_PASSWORD = "secretadmin"  # the anchor script's admin password


class KeystoneUpstream(Server):
    """start_keystone.sh: gunicorn with 2 sync workers, SQLite WAL, fernet, memcached."""

    name = "upstream"
    api_path = "/v3"

    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        super().__init__(root, args)
        self.venv = Path(args.keystone_venv).expanduser()
        self.state: Path | None = None

    def env(self, state: Path, port: int) -> dict[str, str]:
        return clean_env(KS_PORT=str(port), KS_STATE_DIR=str(state), KS_CACHE="memcached",
                         KS_HASH_ROUNDS=str(self.args.rounds), KS_WORKERS="2",
                         KEYSTONE_VENV=str(self.venv))

    def venv_ready(self) -> bool:
        python = self.venv / "bin" / "python"
        if not ((self.venv / "bin" / "keystone-manage").exists()
                and (self.venv / "bin" / "gunicorn").exists() and python.exists()):
            return False
        return subprocess.run([str(python), "-c", "import memcache"],
                              capture_output=True).returncode == 0

    def prepare(self) -> None:
        if not shutil.which("memcached"):
            raise BenchError("memcached is not on PATH (the upstream anchor runs Keystone "
                             "with memcached, as devstack does): apt-get install memcached")
        if self.venv_ready():
            return
        log(f"preparing the upstream venv {self.venv} (first use: a few minutes, untimed)")
        scratch = self.root / "upstream-venv-setup"
        port = pick_port(0, span=2, taken={self.port, self.port + 1})
        env = self.env(scratch, port)
        try:
            HELPERS.run([str(START_KEYSTONE), "start"], env=env, timeout=1800)
        finally:
            HELPERS.run([str(START_KEYSTONE), "reset"], env=env, timeout=120, check=False)

    def launch(self, state: Path, label: str) -> dict:
        self.state = state
        self.launches += 1
        probe_dir = self.root / f"upstream-launch-{self.launches}"
        data = launch_probe(probe_dir, f"{START_KEYSTONE} start", self.probe(),
                            self.env(state, self.port), 900, label)
        # the anchor script daemonises gunicorn and memcached and exits: wait for it
        wait_gone(data["root_pids"], 60)
        if not self.roots():
            raise BenchError(f"{label}: no gunicorn/memcached pid files in {state}")
        return data

    def _pid_from_file(self, name: str) -> int | None:
        if self.state is None:
            return None
        try:
            pid = int((self.state / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if is_alive(pid) else None

    def roots(self) -> list[int]:
        pids = (self._pid_from_file("gunicorn.pid"), self._pid_from_file("memcached.pid"))
        return [p for p in pids if p]

    def stop(self) -> None:
        if self.state is None:
            return
        pids = process_tree(self.roots())
        HELPERS.run([str(START_KEYSTONE), "stop"], env=self.env(self.state, self.port),
                    timeout=60, check=False)
        kill_pids(wait_gone(pids, 15), "upstream processes")

    def password(self) -> str:
        return UPSTREAM_PASSWORD

    def versions(self) -> dict:
        out = pkg_versions(str(self.venv / "bin" / "python"),
                           ["keystone", "gunicorn", "SQLAlchemy", "oslo.cache",
                            "dogpile.cache", "python-memcached", "cryptography", "bcrypt"])
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out["memcached"] = subprocess.run(["memcached", "-V"], capture_output=True,
                                              text=True).stdout.split()[-1]
        out["setup"] = "gunicorn 2 sync workers, SQLite WAL, fernet, memcached"
        return out


class OnestackIdentity(OnestackServer):
    """onestack with a config that only sets the identity port and the bcrypt rounds."""

    api_path = "/v3"
    setup = "onestack up: one process, one asyncio loop, SQLite WAL, fernet"

    def config_text(self) -> str:
        return (f"[api.ports]\nidentity = {self.port}\n\n"
                f"[identity]\npassword_hash_rounds = {self.args.rounds}\n")


# --- the table ---------------------------------------------------------------------

def render_table(report: dict, names: list[str]) -> str:
    """The markdown table for the servers in names, its notes, and the targets."""
    def startup(name: str, kind: str, key: str) -> float | None:
        runs = report["servers"].get(name, {}).get("startup", [])
        return median([r[kind][key] for r in runs if kind in r])

    def after(name: str, key: str) -> float | None:
        return report["servers"].get(name, {}).get("after_bench", {}).get(key)

    def phase(name: str, op: str, conc: int) -> dict:
        for p in report["phases"]:
            if p["server"] == name and p["op"] == op and p["concurrency"] == conc:
                return p
        return {}

    rows: list[Row] = []

    def add(label, getter, higher_better, digits=1):
        up = getter("upstream") if "upstream" in names else None
        ours = getter("onestack") if "onestack" in names else None
        rows.append((label, up, ours, higher_better, digits))

    runs = report["args"]["startup_runs"]
    suffix = f" (median of {runs})" if runs > 1 else ""
    add(f"launch → first good GET /v3, fresh state (s){suffix}",
        lambda n: startup(n, "fresh", "ready_s"), False, 2)
    add(f"launch → first good GET /v3, restart (s){suffix}",
        lambda n: startup(n, "restart", "ready_s"), False, 2)
    add("idle processes", lambda n: startup(n, "restart", "idle_processes"), False, 0)
    add("idle CPU after restart (ms per s)",
        lambda n: startup(n, "restart", "idle_cpu_ms_per_s"), False)
    for kind, when in (("fresh", "fresh start"), ("restart", "restart")):
        for memory in ("RSS", "PSS"):
            add(f"idle {memory} after {when} (MiB)",
                lambda n, k=kind, m=memory: startup(n, k, f"idle_{m.lower()}_mib"), False)
    for op in report["args"]["ops"]:
        for conc in report["args"]["concurrency"]:
            what = f"{op}, {conc} client{'s' if conc > 1 else ''}"
            add(f"{what}: req/s", lambda n, o=op, c=conc: phase(n, o, c).get("rps"), True)
            add(f"{what}: p50 ms", lambda n, o=op, c=conc: phase(n, o, c).get("p50_ms"),
                False)
            add(f"{what}: p99 ms", lambda n, o=op, c=conc: phase(n, o, c).get("p99_ms"),
                False)
            add(f"**{what}: server CPU ms/op**",
                lambda n, o=op, c=conc: phase(n, o, c).get("cpu_ms_per_op"), False, 2)
    add("errors (all phases)", lambda n: sum(p["errors"] for p in report["phases"]
                                            if p["server"] == n), None, 0)
    add("RSS after bench (MiB)", lambda n: after(n, "rss_mib"), False)
    add("PSS after bench (MiB)", lambda n: after(n, "pss_mib"), False)

    lines = comparison_table(rows)
    lines.append("")
    lines.append("ratio: onestack ÷ upstream for req/s, upstream ÷ onestack for times, CPU "
                 "and memory (above 1 = onestack better). CPU ms/op = server process-tree "
                 "utime+stime per request served.")
    load = report.get("load_during_bench") or {}
    if load:
        lines.append(f"Load average (1 min) during the bench phases: min {load['load1_min']}, "
                     f"mean {load['load1_mean']}, max {load['load1_max']} "
                     f"({report['machine'].get('host_cores')} cores).")
    code = report.get("onestack_measured_code")
    if code:
        lines.append(f"onestack code measured: {code['git']}, source digest "
                     f"{code['source_digest']}.")
    if report.get("warning"):
        lines.append(f"**Warning: {report['warning']}.**")
    if any(p.get("profiled") for p in report["phases"]):
        lines.append("onestack ran under cProfile (--profile): its figures include that "
                     "overhead.")
    if "upstream" in names and "onestack" in names:
        lines += ["", render_targets(report, phase, startup)]
    return "\n".join(lines)


def render_targets(report: dict, phase, startup) -> str:
    """The onestack targets (rate, CPU, startup, memory) and whether the run met them."""
    out = ["| target | measured | met |", "|---|---|---|"]

    def check(label: str, measured: str, met: bool) -> None:
        out.append(f"| {label} | {measured} | {'yes' if met else 'no'} |")

    for op, goal in (("issue", 20), ("validate", 50)):
        for conc in report["args"]["concurrency"]:
            up, ours = phase("upstream", op, conc), phase("onestack", op, conc)
            if up.get("rps") and ours.get("rps"):
                value = ours["rps"] / up["rps"]
                check(f"{op} rate ≥ {goal}× upstream, {conc} client(s)", f"{value:.1f}×",
                      value >= goal)
            if up.get("cpu_ms_per_op") and ours.get("cpu_ms_per_op"):
                value = up["cpu_ms_per_op"] / ours["cpu_ms_per_op"]
                check(f"{op} CPU per op ≤ 1/{goal} of upstream, {conc} client(s)",
                      f"{value:.1f}× less", value >= goal)
    for kind in ("fresh", "restart"):
        value = startup("onestack", kind, "ready_s")
        if value is not None:
            check(f"onestack ready < 2 s ({kind} state)", f"{value:.2f} s", value < 2)
    for kind in ("fresh", "restart"):
        value = startup("onestack", kind, "idle_rss_mib")
        if value is not None:
            mb = value * 1.048576
            check(f"onestack idle RSS < 100 MB ({kind} state)",
                  f"{mb:.0f} MB ({value:.1f} MiB)", mb < 100)
    return "\n".join(out)
