"""The servers under test: the interface the runs use, onestack started as `onestack up`,
and the clean-up that leaves nothing running."""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib import BenchError, log
from benchlib.environment import onestack_source_state, pkg_versions
from benchlib.processes import (
    HELPERS,
    clean_env,
    is_alive,
    kill_pids,
    pids_mentioning,
    process_tree,
    wait_gone,
)
from benchlib.upstream_tools import launch_probe, stop_launched

if TYPE_CHECKING:
    from benchlib.profiling import Profiler


class Server(ABC):
    """One server under test; root is the run's temp dir, args the parsed command line."""

    name = ""
    api_path: str  # probed for readiness, and the clients' endpoint, e.g. "/v3"

    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        self.root = root
        self.args = args
        self.port = 0
        self.launches = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.api_path}"

    def probe(self) -> str:
        """A shell command that succeeds once the server answers GET url."""
        if shutil.which("curl"):
            return f"curl -sf -o /dev/null {self.url}"
        return (f"{sys.executable} -c 'import urllib.request as u; "
                f"u.urlopen(\"{self.url}\", timeout=5)'")

    @abstractmethod
    def prepare(self) -> None:
        """Untimed set-up before the first launch (self.port is set by then)."""

    @abstractmethod
    def launch(self, state: Path, label: str) -> dict:
        """Start on the state dir and wait until ready; launch_probe's figures."""

    @abstractmethod
    def roots(self) -> list[int]:
        """The live root pids of the running server."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server and everything it started."""

    @abstractmethod
    def password(self) -> str:
        """The admin password the bench client logs in with."""

    @abstractmethod
    def versions(self) -> dict:
        """The versions of the server's software, for the report."""


class OnestackServer(Server):
    """`onestack up` with a TOML config from config_text() (and --onestack-toml), under
    cProfile if a profiler is set."""

    name = "onestack"
    setup: str  # how it runs, for the report

    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        super().__init__(root, args)
        self.probe_dir: Path | None = None
        self.state: Path | None = None
        self.cmd = args.onestack_cmd or self.default_cmd()
        self.profiler: Profiler | None = None

    @staticmethod
    def default_cmd() -> str:
        # the console script next to this interpreter, not a pyenv shim (a bash
        # script that would add its own start-up time)
        beside = Path(sys.executable).parent / "onestack"
        if beside.exists():
            return str(beside)
        found = shutil.which("onestack")
        if not found:
            raise BenchError("onestack is not installed (pip install -e .)")
        return found

    @abstractmethod
    def config_text(self) -> str:
        """The service's own TOML tables (its port, its settings)."""

    def prepare(self) -> None:
        self.config = self.root / "onestack.toml"
        text = self.config_text()
        extra = self.args.onestack_toml
        if extra:
            # appended as it is: whole tables only (e.g. "[api]\naccess_log = false")
            text += "\n" + extra.replace("\\n", "\n") + "\n"
        self.config.write_text(text)

    def launch(self, state: Path, label: str) -> dict:
        self.state = state
        self.launches += 1
        self.probe_dir = self.root / f"onestack-launch-{self.launches}"
        program = self.profiler.command() if self.profiler else self.cmd
        cmd = f"{program} up --state-dir {state} --config {self.config}"
        return launch_probe(self.probe_dir, cmd, self.probe(), clean_env(), 120, label)

    def roots(self) -> list[int]:
        if self.probe_dir is None:
            return []
        try:
            return [int(p) for p in (self.probe_dir / "pids").read_text().split()
                    if is_alive(int(p))]
        except (OSError, ValueError):
            return []

    def stop(self) -> None:
        if self.probe_dir is None:
            return
        pids = process_tree(self.roots())
        stop_launched(self.probe_dir)
        kill_pids(wait_gone(pids, 10), "onestack processes")

    def password(self) -> str:
        assert self.state is not None
        text = (self.state / "admin-openrc").read_text()
        match = re.search(r"^export OS_PASSWORD=(.*)$", text, re.M)
        if not match:
            raise BenchError(f"no OS_PASSWORD in {self.state}/admin-openrc")
        return match.group(1).strip().strip("'\"")

    def versions(self) -> dict:
        out = pkg_versions(sys.executable, ["onestack", "starlette", "uvicorn", "uvloop",
                                            "httptools", "SQLAlchemy", "aiosqlite",
                                            "cryptography", "bcrypt"])
        out.update(onestack_source_state())
        out["setup"] = self.setup
        return out


def cleanup(servers: list[Server], root: Path, keep: bool) -> None:
    """Stop the servers and everything still running from the temp dir root, then
    remove root unless keep."""
    # a second Ctrl-C must not stop the clean-up half-way
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    HELPERS.kill_all()
    for server in servers:
        try:
            server.stop()
        except Exception as exc:  # keep cleaning up
            log(f"stopping {server.name}: {exc}")
    # anything still running from our temp dir (gunicorn, memcached, onestack)
    kill_pids(pids_mentioning(str(root)), f"processes of {root}")
    if keep:
        log(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
