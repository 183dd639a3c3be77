"""``onestack up`` as a user runs it: a real process, ready quickly, data kept across a
restart, wiped by --reset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from onestack.kernel.config import SERVICE_PORTS
from tests.conftest import free_port


def start(state: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    config = state.parent / "onestack.toml"
    others = "".join(f"{name} = {free_port()}\n" for name in SERVICE_PORTS if name != "identity")
    config.write_text(f"[api.ports]\nidentity = {port}\n{others}"
                      "[identity]\npassword_hash_rounds = 4\n")
    return subprocess.Popen([sys.executable, "-m", "onestack.cli.main", "up", "--state-dir",
                             str(state), "--config", str(config), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert "is up in" in banner, banner + (process.stderr.read() if process.poll() else "")
    return banner


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def token_status(port: int, password: str, project: str = "admin") -> int:
    body = ('{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin",'
            f'"domain":{{"id":"default"}},"password":"{password}"}}}}}},"scope":{{"project":'
            f'{{"name":"{project}","domain":{{"id":"default"}}}}}}}}}}')
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v3/auth/tokens",
                                     data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_up_writes_client_files_and_keeps_data_across_restart(state: Path) -> None:
    port = free_port()
    process = start(state, port)
    try:
        banner = wait_ready(process)
        seconds = float(banner.split("is up in ")[1].split("s")[0])
        assert seconds < 5
        openrc = (state / "admin-openrc").read_text()
        assert f"OS_AUTH_URL=http://127.0.0.1:{port}/v3" in openrc
        assert oct((state / "admin-openrc").stat().st_mode)[-3:] == "600"
        assert "auth_url" in (state / "clouds.yaml").read_text()
        password = (state / "admin-password").read_text().strip()
        assert token_status(port, password) == 201
    finally:
        stop(process)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    again = start(state, port)
    try:
        wait_ready(again)
        assert (state / "admin-password").read_text().strip() == password
        assert token_status(port, password) == 201
    finally:
        stop(again)


def test_reset_wipes_state_and_refuses_foreign_directories(state: Path, tmp_path: Path
                                                            ) -> None:
    port = free_port()
    first = start(state, port)
    try:
        wait_ready(first)
    finally:
        stop(first)
    old_password = (state / "admin-password").read_text()
    fresh = start(state, port, "--reset")
    try:
        wait_ready(fresh)
        assert (state / "admin-password").read_text() != old_password
    finally:
        stop(fresh)
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("do not delete")
    refused = start(foreign, free_port(), "--reset")
    refused.wait(30)
    assert refused.returncode == 2
    assert (foreign / "thesis.txt").exists()


def test_port_in_use_is_a_clear_error(state: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = start(state, busy.getsockname()[1])
        process.wait(30)
        assert process.returncode == 2
        assert "cannot listen on" in (process.stderr.read() if process.stderr else "")
        time.sleep(0)
