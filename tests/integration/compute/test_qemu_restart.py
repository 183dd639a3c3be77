"""``kill -9`` of the onestack process in the middle of a boot: once it is started
again, the server ends ACTIVE (or ERROR) with one guest or none, and deleting it
leaves no QEMU process, no guest file and no port behind. Guests themselves outlive
the process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from onestack.compute.drivers.qemu_guest import Layout
from onestack.kernel.config import SERVICE_PORTS
from tests.conftest import free_port, password_auth
from tests.guest import DISK, guest_image_dir
from tests.integration.compute.conftest import BOOT_TIMEOUT, qemu_processes


class Onestack:
    """``onestack up`` as a separate process, as a user runs it."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.ports = {name: free_port() for name in SERVICE_PORTS}
        self.config = state.parent / "onestack.toml"
        ports = "\n".join(f"{name} = {port}" for name, port in self.ports.items())
        self.config.write_text(f"[api.ports]\n{ports}\n[identity]\npassword_hash_rounds = 4\n"
                               "[compute]\nvirt_driver = \"qemu\"\nreconcile_interval = 1\n")
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        log = open(self.state.parent / "onestack.log", "ab")  # noqa: SIM115 (the child's)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "onestack.cli.main", "up", "--state-dir", str(self.state),
             "--config", str(self.config)], stdout=subprocess.PIPE, stderr=log)
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 60)
        assert b"is up" in line, (self.state.parent / "onestack.log").read_text()[-3000:]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def password(self) -> str:
        for line in (self.state / "admin-openrc").read_text().splitlines():
            if line.startswith("export OS_PASSWORD="):
                return line.split("=", 1)[1].strip("'\"")
        raise AssertionError("no password in admin-openrc")


@pytest.fixture
async def onestack(tmp_path: Path) -> AsyncIterator[Onestack]:
    cloud = Onestack(tmp_path / "state")
    try:
        yield cloud
    finally:
        if cloud.process is not None and cloud.process.poll() is None:
            cloud.process.terminate()
            cloud.process.wait(30)
        for pid in qemu_processes(str(cloud.state)):
            os.kill(pid, signal.SIGKILL)


async def _client(cloud: Onestack) -> httpx.AsyncClient:
    identity = httpx.AsyncClient(base_url=cloud.url("identity"))
    token = await identity.post("/v3/auth/tokens", json=password_auth(
        "admin", cloud.password(), project="admin"))
    await identity.aclose()
    assert token.status_code == 201, token.text
    return httpx.AsyncClient(headers={"X-Auth-Token": token.headers["X-Subject-Token"]},
                             timeout=30)


async def _setup(cloud: Onestack, http: httpx.AsyncClient) -> dict[str, Any]:
    image = (await http.post(cloud.url("image") + "/v2/images", json={
        "name": "guest", "disk_format": "qcow2", "container_format": "bare"})).json()
    uploaded = await http.put(cloud.url("image") + f"/v2/images/{image['id']}/file",
                              content=(guest_image_dir() / DISK).read_bytes(),
                              headers={"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 204, uploaded.text
    net = (await http.post(cloud.url("network") + "/v2.0/networks",
                           json={"network": {"name": "n1"}})).json()["network"]
    subnet = await http.post(cloud.url("network") + "/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}})
    assert subnet.status_code == 201, subnet.text
    flavor = (await http.post(cloud.url("compute") + "/v2.1/flavors", json={"flavor": {
        "name": "tiny", "ram": 128, "vcpus": 1, "disk": 1}})).json()["flavor"]
    return {"name": "survivor", "imageRef": image["id"], "flavorRef": flavor["id"],
            "networks": [{"uuid": net["id"]}], "config_drive": True}


async def _status(cloud: Onestack, http: httpx.AsyncClient, sid: str) -> str | None:
    reply = await http.get(cloud.url("compute") + f"/v2.1/servers/{sid}")
    return None if reply.status_code == 404 else str(reply.json()["server"]["status"])


async def test_a_boot_interrupted_by_kill_ends_active_or_error_and_leaks_nothing(
        onestack: Onestack) -> None:
    await onestack.start()
    http = await _client(onestack)
    body = await _setup(onestack, http)
    created = await http.post(onestack.url("compute") + "/v2.1/servers",
                              json={"server": body})
    assert created.status_code == 202, created.text
    sid = created.json()["server"]["id"]
    # kill as soon as the guest's QEMU exists (or the boot has gone further)
    for _ in range(3000):
        if qemu_processes(sid) or await _status(onestack, http, sid) != "BUILD":
            break
        await asyncio.sleep(0.01)
    onestack.kill()
    await http.aclose()

    await onestack.start()
    http = await _client(onestack)
    status = None
    for _ in range(int(BOOT_TIMEOUT)):
        status = await _status(onestack, http, sid)
        if status in ("ACTIVE", "ERROR"):
            break
        await asyncio.sleep(1)
    assert status in ("ACTIVE", "ERROR"), status
    assert len(qemu_processes(sid)) == (1 if status == "ACTIVE" else 0)

    # a restart while the guest runs: the guest is found again, not booted twice
    pids = qemu_processes(sid)
    onestack.kill()
    await http.aclose()
    await onestack.start()
    http = await _client(onestack)
    await asyncio.sleep(2)  # a reconcile pass or two
    assert qemu_processes(sid) == pids
    if status == "ACTIVE":  # and its way to the metadata service is back
        assert Layout(onestack.state / "instances", sid).metadata.exists()
    assert await _status(onestack, http, sid) == status

    assert (await http.delete(onestack.url("compute") + f"/v2.1/servers/{sid}")
            ).status_code == 204
    for _ in range(int(BOOT_TIMEOUT)):
        if await _status(onestack, http, sid) is None:
            break
        await asyncio.sleep(0.5)
    assert await _status(onestack, http, sid) is None
    assert qemu_processes(sid) == []
    instances = onestack.state / "instances"
    assert sorted(p.name for p in instances.iterdir()) == ["_base"]
    ports = await http.get(onestack.url("network") + f"/v2.0/ports?device_id={sid}")
    assert ports.json()["ports"] == []
    await http.aclose()
