"""onestack under cProfile (--profile): one profile per bench phase, summarised per
package and per function in ms per request."""

from __future__ import annotations

import os
import pstats
import re
import shutil
import signal
import sys
import time
from pathlib import Path

from benchlib import REPO, BenchError

# Runs onestack's own main() under cProfile with a thread-CPU timer, so time spent
# waiting (epoll, the aiosqlite queue) does not count: SIGUSR2 starts a fresh profile,
# SIGUSR1 writes it to PREFIX.N. (py-spy misreads this process: its idle detection
# counts the blocked aiosqlite threads as busy, and SQLAlchemy's greenlets confuse
# its stacks.)
PROFILE_HARNESS = """\
import cProfile, signal, sys, time
prefix = sys.argv.pop(1)
state = {"prof": None, "n": 0}
def start(*_):
    if state["prof"] is not None:
        state["prof"].disable()
    state["prof"] = cProfile.Profile(time.thread_time)
    state["prof"].enable()
def dump(*_):
    prof = state["prof"]
    if prof is None:
        return
    prof.disable()
    state["n"] += 1
    prof.dump_stats(f"{prefix}.{state['n']}")
    state["prof"] = None
signal.signal(signal.SIGUSR2, start)
signal.signal(signal.SIGUSR1, dump)
from onestack.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


class Profiler:
    """Writes the harness into root; kept profiles go to outdir as
    <file_prefix>-cprofile-<phase>.prof."""

    def __init__(self, root: Path, outdir: Path, file_prefix: str) -> None:
        self.harness = root / "onestack_profiled.py"
        self.harness.write_text(PROFILE_HARNESS)
        self.prefix = root / "cprofile"
        self.outdir = outdir
        self.file_prefix = file_prefix
        self.count = 0
        self.pid = 0

    def command(self) -> str:
        """What to run instead of the onestack script."""
        return f"{sys.executable} {self.harness} {self.prefix}"

    def start(self, pid: int) -> None:
        self.pid = pid
        os.kill(pid, signal.SIGUSR2)
        time.sleep(0.2)

    def stop(self, label: str) -> Path:
        os.kill(self.pid, signal.SIGUSR1)
        self.count += 1
        written = Path(f"{self.prefix}.{self.count}")
        deadline = time.monotonic() + 30
        size = -1
        while time.monotonic() < deadline:
            if written.exists() and written.stat().st_size == size > 0:
                break
            size = written.stat().st_size if written.exists() else -1
            time.sleep(0.2)
        else:
            raise BenchError(f"the profile {written} was not written")
        kept = self.outdir / f"{self.file_prefix}-cprofile-{label}.prof"
        shutil.copyfile(written, kept)
        return kept


def package_of(filename: str) -> str:
    if filename == "~":
        return "C builtins"
    for pattern in (r"/(onestack/[^/]+(?:/[^/.]+)?)", r"site-packages/([^/]+)",
                    r"python3\.\d+/([^/]+?)(?:\.py)?(?:/|$)"):
        found = re.search(pattern, filename)
        if found:
            return found.group(1)
    return filename


def summarize_profile(path: Path, requests: int, top: int = 25) -> dict:
    """Main-thread CPU of one phase: per package and per function, in ms per request."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt
    per = max(1, requests)
    packages: dict[str, float] = {}
    functions = []
    for (filename, line, function), (_, calls, self_s, _, _) in stats.stats.items():
        key = package_of(filename)
        packages[key] = packages.get(key, 0.0) + self_s
        where = re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", filename)
        where = where.split(str(REPO) + "/")[-1]
        functions.append((self_s, calls, f"{where}:{line}({function})"))
    functions.sort(reverse=True)
    return {
        "requests": requests,
        "main_thread_cpu_ms_per_op_profiled": round(1e3 * total / per, 3),
        "calls_per_op": round(stats.total_calls / per),
        "packages": [{"package": k, "pct": round(100 * v / total, 1),
                      "ms_per_op": round(1e3 * v / per, 3)}
                     for k, v in sorted(packages.items(), key=lambda kv: -kv[1])[:top]],
        "functions": [{"function": f, "pct": round(100 * t / total, 1),
                       "ms_per_op": round(1e3 * t / per, 3), "calls_per_op": round(c / per, 1)}
                      for t, c, f in functions[:top]],
    }


def profile_report(report: dict, top: int) -> str:
    """Markdown: the top packages and functions of every profiled phase."""
    out = []
    for phase in report["phases"]:
        prof = phase.get("profile")
        if not prof:
            continue
        split = phase.get("server_cpu_threads") or {}
        out += ["", f"### cProfile, onestack {phase['op']} c={phase['concurrency']}: "
                f"main thread {prof['main_thread_cpu_ms_per_op_profiled']} ms/op under "
                f"cProfile, {prof['calls_per_op']} Python calls/op "
                f"({prof['file']})",
                f"threads (with profiler): main {split.get('main_ms_per_op')} ms/op, "
                f"others {split.get('other_ms_per_op')} ms/op", "",
                "| package | self % | ms/op |", "|---|---:|---:|"]
        out += [f"| {p['package']} | {p['pct']} | {p['ms_per_op']} |"
                for p in prof["packages"][:top]]
        out += ["", "| function | self % | ms/op | calls/op |", "|---|---:|---:|---:|"]
        out += [f"| {f['function']} | {f['pct']} | {f['ms_per_op']} | {f['calls_per_op']} |"
                for f in prof["functions"][:top]]
    return "\n".join(out)
