"""Sampling from /proc: CPU time of server process trees, and the load average."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from pathlib import Path

from benchlib.processes import process_tree

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_split(roots: list[int]) -> tuple[float, float]:
    """(main threads, other threads) CPU seconds over the process trees of roots."""
    main = other = 0
    for pid in process_tree(roots):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                ticks = int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
            if int(tid) == pid:
                main += ticks
            else:
                other += ticks
    return main / CLK_TCK, other / CLK_TCK


def cpu_seconds(roots: list[int]) -> float:
    """utime + stime (all threads) summed over the process trees of roots."""
    ticks = 0
    for pid in process_tree(roots):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / CLK_TCK


def loadavg() -> str:
    """/proc/loadavg as it is: "load1 load5 load15 running/total last_pid"."""
    return Path("/proc/loadavg").read_text().strip()


class LoadSampler(threading.Thread):
    """Samples the load average every interval s; marks name the parts of the run."""

    def __init__(self, interval: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, float, float, float]] = []
        self.marks: dict[str, float] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            with contextlib.suppress(OSError, ValueError):
                parts = loadavg().split()
                self.samples.append((time.time(), float(parts[0]), float(parts[1]),
                                     float(parts[2])))
            self.halt.wait(self.interval)

    def mark(self, name: str) -> None:
        self.marks[name] = time.time()

    def summary(self, start: str | None = None, end: str | None = None) -> dict:
        """1-minute load between the marks start and end (default: the whole run)."""
        lo = self.marks.get(start, 0) if start else 0
        hi = self.marks.get(end, float("inf")) if end else float("inf")
        one = [s[1] for s in self.samples if lo <= s[0] <= hi]
        if not one:
            return {}
        return {"load1_min": min(one), "load1_mean": round(statistics.fmean(one), 2),
                "load1_max": max(one), "samples": len(one)}
