"""Shared parts of the side-by-side benchmarks (bench/identity.py and the ones to come).

Stdlib only.  Modules:

  processes       /proc process trees, helper subprocesses, stopping leftovers
  ports           free port selection
  sampling        server CPU time from /proc, load average
  upstream_tools  launch_probe.py and bench_keystone.py, called by path
  servers         the server interface, `onestack up`, clean-up after a run
  profiling       onestack under cProfile, one profile per phase
  environment     machine, package versions, the onestack code measured
  report          number formatting, the comparison table, result files
  identity        Keystone anchor, onestack identity config, the identity table
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_log_tag = "bench"


class BenchError(RuntimeError):
    """A benchmark step failed: the run stops, cleans up and exits 2."""


def set_log_tag(tag: str) -> None:
    """Name the benchmark in the log lines, e.g. "identity-bench"."""
    global _log_tag
    _log_tag = tag


def log(message: str) -> None:
    print(f"[{_log_tag} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
