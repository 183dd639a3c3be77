"""A private, throw-away RabbitMQ node for the test session.

It listens on 127.0.0.1 only, on free ports, with its own node name, data, logs,
Erlang cookie and no plugins, so it never touches a system broker. Only the shared
epmd daemon (port 4369) is common to all nodes of the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
# Debian's /usr/sbin wrappers re-run the scripts as the rabbitmq user through su; the
# scripts they wrap run as the caller, who owns the private directory.
DEBIAN_SCRIPTS_DIR = Path("/usr/lib/rabbitmq/bin")
AMQP_0_9_1_HEADER = b"AMQP\x00\x00\x09\x01"


class BrokerStartError(RuntimeError):
    pass


@dataclass
class PrivateBroker:
    node: str
    url: str
    workdir: Path
    env: dict[str, str]

    @property
    def pid_file(self) -> Path:
        return self.workdir / "rabbitmq.pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def log_excerpt(self, lines: int = 25) -> str:
        """The node's first error lines (the cause, before the shutdown noise), else its last."""
        logs = sorted((self.workdir / "log").glob("*.log"))
        text = [line for path in logs for line in path.read_text(errors="replace").splitlines()]
        errors = [line for line in text if "[error]" in line]
        return "\n".join(errors[:lines] or text[-lines:])


def script(name: str) -> str:
    candidate = DEBIAN_SCRIPTS_DIR / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BrokerStartError(f"{name} not found: install the rabbitmq-server package")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A detached node that has exited stays a zombie until init reaps it.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True


def _speaks_amqp(port: int) -> bool:
    """True once the node answers the AMQP header with a Connection.Start method frame."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(AMQP_0_9_1_HEADER)
            return conn.recv(1) == b"\x01"
    except OSError:
        return False


def start(timeout: float = START_TIMEOUT_SECONDS) -> PrivateBroker:
    """Start a detached node and wait until it speaks AMQP; stop it again on failure."""
    server_script = script("rabbitmq-server")
    workdir = Path(tempfile.mkdtemp(prefix="onestack-rabbitmq-"))
    node = f"onestack-test-{uuid.uuid4().hex[:8]}@localhost"
    amqp_port = free_port()
    (workdir / "enabled_plugins").write_text("[].\n")
    (workdir / "rabbitmq-env.conf").write_text("")
    env = {
        **os.environ,
        "HOME": str(workdir),  # a private Erlang cookie, shared by rabbitmqctl below
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        # The CLI's own distribution port defaults to DIST_PORT + 10000, past 65535 for
        # high ephemeral ports.
        "RABBITMQ_CTL_DIST_PORT_MIN": str(ctl_port := free_port()),
        "RABBITMQ_CTL_DIST_PORT_MAX": str(ctl_port),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
    }
    broker = PrivateBroker(node, f"amqp://guest:guest@127.0.0.1:{amqp_port}/", workdir, env)
    try:
        subprocess.run(
            [server_script, "-detached"], env=env, cwd=workdir, check=True, capture_output=True
        )
        _wait_until_ready(broker, amqp_port, timeout)
    except (subprocess.CalledProcessError, BrokerStartError) as exc:
        output = (getattr(exc, "stderr", None) or b"").decode(errors="replace")
        log_excerpt = broker.log_excerpt()
        stop(broker)
        raise BrokerStartError(f"{exc}\n{output}\nnode log:\n{log_excerpt}") from exc
    except BaseException:
        stop(broker)
        raise
    return broker


def _wait_until_ready(broker: PrivateBroker, amqp_port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _speaks_amqp(amqp_port):
            return
        pid = broker.pid()
        if pid is not None and not _pid_alive(pid):
            raise BrokerStartError(f"RabbitMQ node {broker.node} exited while starting")
        time.sleep(0.25)
    raise BrokerStartError(f"RabbitMQ node {broker.node} did not accept AMQP in {timeout:.0f} s")


def stop(broker: PrivateBroker) -> None:
    """Stop the node (politely, then by SIGKILL) and delete its directory."""
    try:
        pid = broker.pid()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [script("rabbitmqctl"), "-n", broker.node, "stop"],
                env=broker.env,
                cwd=broker.workdir,
                capture_output=True,
                timeout=STOP_TIMEOUT_SECONDS,
            )
        if pid is not None:
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    finally:
        shutil.rmtree(broker.workdir, ignore_errors=True)
