#!/usr/bin/env python3
"""Identity benchmark: upstream Keystone and onestack side by side, in one run.

What it does, in order:

 1. Picks free ports (upstream prefers 25000, plus 25001 for its memcached;
    onestack prefers 15000; never 5000 or 35357) and a private temp dir.
 2. Startup: for each server, `launch_probe.py` times launch -> first good
    `GET /v3`, once on fresh state (first-start bootstrap included: for
    upstream that is db_sync, fernet_setup, credential_setup, bootstrap and
    memcached; for onestack the migrations and bootstrap it does in process)
    and once as a restart on the existing state. After each launch the server
    idles for --settle s, then RSS/PSS of its whole process tree is summed.
 3. Load: `bench_keystone.py` (unchanged, called by path) runs token issue
    and validate at each concurrency level (default 1 and 8 clients,
    --duration 10 s each), one short unmeasured warm-up run per server first.
    Phases alternate between the servers (issue c=1 upstream, issue c=1
    onestack, ...), so both see similar background load.
 4. Server CPU: utime+stime of each server's process tree, read from /proc
    before and after every phase.  CPU ms/op = CPU delta / requests served.
    This is the figure to compare on a shared, noisy machine; wall-clock
    rates and latencies move with the load of other jobs.
 5. Stops everything, also on failure or Ctrl-C (gunicorn, memcached and
    onestack are found by their temp paths and killed), prints a markdown
    table (measure | upstream | onestack | ratio), and saves the raw JSON and
    the table under bench/results/ (gitignored).

Ratio: onestack / upstream for rates, upstream / onestack for times, CPU and
memory; so above 1 always means onestack is better.

Both identity servers hash passwords with --rounds bcrypt rounds (default 4,
as the upstream anchor and devstack).  Upstream runs as the anchor script
starts it: gunicorn with 2 sync workers, SQLite (WAL), fernet tokens and a
private memcached.  onestack runs as `onestack up` with a TOML config that
only sets the port and the rounds.

Each bench phase runs bench_keystone.py with --warmup 0 (the warm-up is the
separate run before), so the requests a phase serves are exactly its ok +
errors, plus the two tokens the client issues before it starts.  Those two
issues are counted in the issue phases; in the validate phases their CPU is
subtracted, using the CPU ms/op of the issue phase with 1 client.

Examples:
  bench/identity.py                         # full run, ~3 min + upstream startup
  bench/identity.py --only onestack --duration 3     # quick iteration
  bench/identity.py --only onestack --profile        # + cProfile per phase
  bench/identity.py --startup-runs 3 --concurrency 1,4,8

Needs: curl, memcached on PATH (for upstream).  The
upstream venv (~/.anchors/keystone-venv) is created on first use by the
anchor script; that takes a few minutes and is not timed.
Stdlib only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

# benchlib sits beside this file: Python puts a script's own directory on sys.path
from benchlib import BenchError, log, set_log_tag
from benchlib.environment import machine_info, onestack_source_digest, onestack_source_state
from benchlib.identity import START_KEYSTONE, KeystoneUpstream, OnestackIdentity, render_table
from benchlib.ports import pick_port
from benchlib.profiling import Profiler, profile_report, summarize_profile
from benchlib.report import write_results
from benchlib.sampling import LoadSampler, cpu_seconds, loadavg
from benchlib.servers import Server, cleanup
from benchlib.upstream_tools import BENCH_KEYSTONE, LAUNCH_PROBE, bench_phase, measure_memory

HERE = Path(__file__).resolve().parent


# --- the run ---------------------------------------------------------------------------

def create_servers(root: Path, args: argparse.Namespace) -> list[Server]:
    """The servers of --only (default both), each on its port."""
    servers: list[Server] = []
    if args.only in (None, "upstream"):
        servers.append(KeystoneUpstream(root, args))
    if args.only in (None, "onestack"):
        servers.append(OnestackIdentity(root, args))
    taken: set[int] = set()
    for server in servers:
        if server.name == "upstream":
            server.port = args.upstream_port or pick_port(25000, span=2, taken=taken)
            taken |= {server.port, server.port + 1}
        else:
            server.port = args.onestack_port or pick_port(15000, taken=taken)
            taken.add(server.port)
    return servers


def measure_startup(server: Server, root: Path, args: argparse.Namespace) -> list[dict]:
    """Launch on fresh state, then restart on that state, --startup-runs times; after
    each launch, idle CPU over --settle s and memory."""
    runs = []
    for i in range(args.startup_runs):
        state = root / f"{server.name}-state-{i + 1}"
        entry: dict = {}
        for kind in ("fresh", "restart"):
            if kind == "restart":
                server.stop()
            log(f"{server.name}: launch on {kind} state ({i + 1}/{args.startup_runs})")
            code = onestack_source_state() if server.name == "onestack" else None
            data = server.launch(state, f"{server.name}-{kind}")
            cpu0 = cpu_seconds(server.roots())
            time.sleep(args.settle)
            idle_cpu = cpu_seconds(server.roots()) - cpu0
            mem = measure_memory(root / f"{server.name}-mem", server.roots(),
                                 f"{server.name}-{kind}-idle")
            entry[kind] = {"ready_s": data["ready_s"],
                           "probe_tries": data.get("probe_tries"),
                           "idle_processes": mem["processes"],
                           "idle_rss_mib": mem["rss_mib"],
                           "idle_pss_mib": mem["pss_mib"],
                           "idle_cpu_ms_per_s": round(1e3 * idle_cpu / args.settle, 2)
                           if args.settle else None, "code": code,
                           "detail": mem["detail"]}
            log(f"{server.name}: {kind}: ready in {data['ready_s']} s, idle RSS "
                f"{mem['rss_mib']} MiB / PSS {mem['pss_mib']} MiB in "
                f"{mem['processes']} processes")
        runs.append(entry)
        if i + 1 < args.startup_runs:
            server.stop()
    return runs


def run_phases(servers: list[Server], root: Path, args: argparse.Namespace,
               profiler: Profiler | None) -> list[dict]:
    """Every op at every concurrency, alternating between the servers."""
    phases = []
    issue_cpu: dict[str, float] = {}  # server CPU s per issue, from its first issue phase
    for op in args.ops:
        for conc in args.concurrency:
            for server in servers:
                label = f"{op}-c{conc}"
                profiled = bool(profiler and server.name == "onestack")
                if profiled:
                    profiler.start(server.roots()[0])
                data = bench_phase(server, op, conc, args.duration,
                                   root / f"{server.name}-{label}.json")
                data["server"] = server.name
                data["profiled"] = profiled
                served = data["ok"] + data["errors"]
                if profiled:
                    kept = profiler.stop(label)
                    data["profile"] = summarize_profile(kept, served + 2)
                    data["profile"]["file"] = str(kept)
                cpu = data["server_cpu_s"]
                if op == "issue":
                    served += 2  # the client's two setup tokens
                elif server.name in issue_cpu:
                    cpu -= 2 * issue_cpu[server.name]
                data["requests_served"] = served
                data["cpu_ms_per_op"] = round(1e3 * cpu / served, 3) if served else None
                if op == "issue" and server.name not in issue_cpu and served:
                    issue_cpu[server.name] = data["server_cpu_s"] / served
                phases.append(data)
                log(f"{server.name}: {op} c={conc}: {data['rps']:.1f} req/s, p50 "
                    f"{data['p50_ms']:.1f} ms, p99 {data['p99_ms']:.1f} ms, CPU "
                    f"{data['cpu_ms_per_op']} ms/op, {data['errors']} errors, load "
                    f"{loadavg().split()[0]}")
    return phases


def note_code_changes(report: dict) -> None:
    """Record the onestack code the bench phases measured, and warn if it changed."""
    if not report["servers"].get("onestack", {}).get("startup"):
        return
    # a process runs the code that was on disk when it started: the bench phases
    # measured the last launch's code
    launches = [e[k]["code"] for e in report["servers"]["onestack"]["startup"]
                for k in ("fresh", "restart") if k in e]
    report["onestack_measured_code"] = launches[-1]
    if len({c["source_digest"] for c in launches}) > 1:
        report["warning"] = ("onestack/ changed between launches (source digests "
                             f"{', '.join(c['source_digest'] for c in launches)}): the "
                             "startup figures mix versions; the bench phases ran "
                             f"{launches[-1]['git']}, digest "
                             f"{launches[-1]['source_digest']}")
        log("WARNING: " + report["warning"])
    now_digest = onestack_source_digest()
    if now_digest != launches[-1]["source_digest"]:
        report["note_code"] = ("onestack/ changed after the last launch (digest now "
                               f"{now_digest}); the running server was not affected")
        log(report["note_code"])


def run_benchmark(args: argparse.Namespace) -> int:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = Path(args.results_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="idbench-", dir=args.tmp_dir))
    os.chmod(root, 0o755)
    log(f"work dir {root}")
    loads = LoadSampler()
    loads.start()
    loads.mark("start")
    if args.onestack_toml:
        log(f"onestack config extra: {args.onestack_toml!r}")
    report: dict = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                    "args": dict(vars(args)), "machine": machine_info(), "servers": {},
                    "phases": [], "load_before": loadavg()}
    servers = create_servers(root, args)
    profiler = None
    if args.profile:
        profiler = Profiler(root, outdir, f"identity-{stamp}")
        for server in servers:
            if isinstance(server, OnestackIdentity):
                server.profiler = profiler
    try:
        for server in servers:
            server.prepare()
            info = report["servers"].setdefault(server.name, {})
            info["port"] = server.port
            info["versions"] = server.versions()
            log(f"{server.name}: port {server.port}, {info['versions']}")

        for server in servers:
            report["servers"][server.name]["startup"] = measure_startup(server, root, args)

        loads.mark("bench_start")
        for server in servers:  # warm-up, unmeasured
            log(f"{server.name}: warm-up {args.warmup:g} s")
            bench_phase(server, "issue,validate", max(args.concurrency), args.warmup,
                        root / f"{server.name}-warmup.json")
        report["phases"] = run_phases(servers, root, args, profiler)
        loads.mark("bench_end")

        for server in servers:
            mem = measure_memory(root / f"{server.name}-mem", server.roots(),
                                 f"{server.name}-after-bench")
            report["servers"][server.name]["after_bench"] = {
                "processes": mem["processes"], "rss_mib": mem["rss_mib"],
                "pss_mib": mem["pss_mib"], "detail": mem["detail"]}
    finally:
        loads.mark("end")
        loads.halt.set()
        cleanup(servers, root, keep=args.keep_state)

    report["load_after"] = loadavg()
    note_code_changes(report)
    report["load_during_bench"] = loads.summary("bench_start", "bench_end")
    report["load_whole_run"] = loads.summary()
    report["load_samples"] = loads.samples
    table = render_table(report, [s.name for s in servers])
    report["table_md"] = table
    raw = write_results(outdir / f"identity-{stamp}{'-' + args.only if args.only else ''}",
                        report)
    print(table)
    if args.profile:
        print(profile_report(report, args.profile_top))
    log(f"raw results: {raw}")
    errors = sum(p["errors"] for p in report["phases"])
    return 1 if errors and args.fail_on_errors else 0


# --- main -------------------------------------------------------------------------------

def positive_list(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("a comma list of positive integers")
    return values


def op_list(text: str) -> list[str]:
    values = [x.strip() for x in text.split(",") if x.strip()]
    if not values or any(v not in ("issue", "validate") for v in values):
        raise argparse.ArgumentTypeError("a comma list of issue, validate")
    return values


def main(argv: list[str] | None = None) -> int:
    set_log_tag("identity-bench")
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["onestack", "upstream"],
                    help="run one server only (e.g. --only onestack for quick iterations)")
    ap.add_argument("--duration", type=float, default=10.0,
                    help="measured seconds per phase (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds of the unmeasured warm-up run per server (default 2)")
    ap.add_argument("--concurrency", type=positive_list, default=[1, 8],
                    help="comma list of client counts (default 1,8)")
    ap.add_argument("--ops", type=op_list, default=["issue", "validate"],
                    help="comma list of issue,validate (default both)")
    ap.add_argument("--startup-runs", type=int, default=1,
                    help="fresh+restart launches per server; the table shows the median "
                         "(default 1)")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="idle seconds after ready before measuring memory (default 5)")
    ap.add_argument("--rounds", type=int, default=4,
                    help="bcrypt rounds for both servers (default 4, as the upstream anchor)")
    ap.add_argument("--upstream-port", type=int, default=0,
                    help="upstream Keystone port; memcached uses port+1 "
                         "(default: 25000 if free, else any free port)")
    ap.add_argument("--onestack-port", type=int, default=0,
                    help="onestack identity port (default: 15000 if free, else any free)")
    ap.add_argument("--keystone-venv",
                    default=os.environ.get("KEYSTONE_VENV", "~/.anchors/keystone-venv"),
                    help="upstream venv (default $KEYSTONE_VENV or ~/.anchors/keystone-venv)")
    ap.add_argument("--onestack-cmd",
                    help="command that runs onestack (default: the onestack script beside "
                         "this Python)")
    ap.add_argument("--onestack-toml", metavar="TOML",
                    help="extra TOML tables appended to onestack's config, for what-if runs, "
                         "e.g. '[api]\\naccess_log = false' (not [api.ports] or [identity])")
    ap.add_argument("--results-dir", default=str(HERE / "results"),
                    help="where the raw JSON and the table go (default bench/results)")
    ap.add_argument("--tmp-dir", help="parent of the temp work dir (default $TMPDIR or /tmp)")
    ap.add_argument("--keep-state", action="store_true",
                    help="keep the temp work dir (state dirs, server logs) afterwards")
    ap.add_argument("--profile", action="store_true",
                    help="run onestack's main() under cProfile (thread CPU time, so waits "
                         "do not count), one profile per phase: the .prof files go to the "
                         "results dir, the top packages and functions are printed. Its "
                         "CPU figures then include the profiler's overhead (3-5x)")
    ap.add_argument("--profile-top", type=int, default=15,
                    help="rows printed per profiled phase (default 15)")
    ap.add_argument("--fail-on-errors", action="store_true",
                    help="exit 1 if any request failed")
    args = ap.parse_args(argv)
    for needed in (LAUNCH_PROBE, BENCH_KEYSTONE, START_KEYSTONE):
        if not needed.exists():
            ap.error(f"{needed} is missing (set BENCH_UPSTREAM_DIR)")
    if args.profile and args.onestack_cmd:
        ap.error("--profile runs onestack.cli.main under this Python: drop --onestack-cmd")
    if args.startup_runs < 1:
        ap.error("--startup-runs must be at least 1")

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # also SIGINT: a shell starts background jobs with it ignored, which Python keeps
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # nohup
        signal.signal(sig, interrupted)
    try:
        return run_benchmark(args)
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'SIGINT'}); everything was stopped")
        return 130
    except BenchError as exc:
        log(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
