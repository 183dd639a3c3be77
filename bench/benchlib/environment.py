"""What a run measured on: the machine, package versions, and the onestack code."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

from benchlib import REPO, BenchError
from benchlib.processes import HELPERS


def machine_info() -> dict:
    info = {"host_cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        info["mem_gib"] = round(kib / 2**20, 1)
    with contextlib.suppress(OSError):
        info["debian"] = Path("/etc/debian_version").read_text().strip()
    return info


def pkg_versions(python: str, names: list[str]) -> dict[str, str]:
    """The Python version and the installed versions of names, as python sees them."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {'python': sys.version.split()[0]}\n"
            f"for n in {names!r}:\n"
            "    try: out[n] = m.version(n)\n"
            "    except Exception: out[n] = None\n"
            "print(json.dumps(out))")
    try:
        return json.loads(HELPERS.run([python, "-c", code], timeout=60).stdout)
    except (BenchError, ValueError) as exc:
        return {"error": str(exc)[:200]}


def onestack_source_state() -> dict:
    """The onestack code a launch will load: git HEAD and a digest of the files."""
    out = {"git": None, "source_digest": onestack_source_digest()}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--", "onestack"], capture_output=True,
                               text=True).stdout.strip()
        out["git"] = head + (" (+ uncommitted changes under onestack/)" if dirty else "")
    return out


def onestack_source_digest() -> str:
    """A digest of onestack/**/*.py: other people edit the tree, so a run records what
    it measured and notices when the code changed under it."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "onestack").rglob("*.py")):
        with contextlib.suppress(OSError):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
