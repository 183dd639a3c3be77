"""Fixtures of the Linux dataplane stories (root only): a cloud whose network backend
is ``linux``, under a prefix of its own (so tests run in parallel), with a fake
compute metadata service that echoes the headers it gets. After each test, nothing
with the prefix may remain: no namespace, device, nftables table or dnsmasq."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud, prepare_state_dir
from tests.conftest import Api, admin_api, test_config


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "nft", "dnsmasq", "busybox"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        return "needs pyroute2"
    return ""


@pytest.fixture(autouse=True)
def _dataplane_tools() -> None:
    # the test command runs as root and installs these; without them the dataplane is
    # unproven, which is a failure, not a skip
    reason = _missing()
    assert not reason, f"Linux dataplane: {reason}"


@dataclass
class FakeMetadata:
    """A stand-in for compute's metadata service: answers every request with the
    headers it got, as JSON."""

    port: int
    server: asyncio.Server
    seen: list[dict[str, str]]


async def fake_metadata() -> FakeMetadata:
    seen: list[dict[str, str]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {"request": lines[0]}
        for line in lines[1:]:
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        seen.append(headers)
        body = json.dumps(headers).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                     b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return FakeMetadata(server.sockets[0].getsockname()[1], server, seen)


def linux_config(state_dir: Path, prefix: str, host: str = "host1", **network: Any) -> Any:
    config = test_config(state_dir)
    settings = config.network
    settings.backend = "linux"
    settings.linux_prefix = prefix
    settings.host = host
    settings.host_namespace = prefix + "h1"
    settings.physical_networks = {"physnet1": prefix + "ex"}
    settings.resync_interval = 5.0
    settings.status_interval = 0.2
    for key, value in network.items():
        setattr(settings, key, value)
    return config


@dataclass
class Dataplane:
    cloud: Cloud
    prefix: str
    metadata: FakeMetadata
    workdir: Path

    @property
    def backend(self) -> Any:
        return self.cloud.services["network"].backend

    def name(self, suffix: str) -> str:
        return self.prefix + suffix


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:4] + "-"


@pytest.fixture
def network_settings() -> dict[str, Any]:
    """More [network] settings of the dataplane's cloud (tests parametrize this)."""
    return {}


@pytest.fixture
async def dataplane(tmp_path: Path, prefix: str, network_settings: dict[str, Any]
                    ) -> AsyncIterator[Dataplane]:
    from onestack.network.drivers.linux import cleanup

    metadata = await fake_metadata()
    config = linux_config(tmp_path / "state", prefix,
                          metadata_upstream=f"127.0.0.1:{metadata.port}",
                          **network_settings)
    prepare_state_dir(config.state_dir, reset=False)
    plane = Dataplane(Cloud(config), prefix, metadata, tmp_path / "guests")
    try:
        await plane.cloud.build()
        yield plane
    finally:
        try:
            await plane.cloud.close()  # the one running now (a test may restart it)
        finally:
            metadata.server.close()
            await cleanup.remove_all(prefix, config.state_dir)
            left = await cleanup.remaining(prefix)
            assert left == [], f"left behind with prefix {prefix}: {left}"


@pytest.fixture
async def admin(dataplane: Dataplane) -> AsyncIterator[Api]:
    async with admin_api(dataplane.cloud, "network") as api:
        yield api


async def create(api: Api, collection: str, key: str, **body: Any) -> dict[str, Any]:
    response = await api.post(f"/v2.0/{collection}", json={key: body})
    assert response.status_code == 201, response.text
    return response.json()[key]


async def update(api: Api, collection: str, key: str, ident: str, **body: Any
                 ) -> dict[str, Any]:
    response = await api.put(f"/v2.0/{collection}/{ident}", json={key: body})
    assert response.status_code == 200, response.text
    return response.json()[key]


async def show(api: Api, collection: str, key: str, ident: str) -> dict[str, Any]:
    response = await api.get(f"/v2.0/{collection}/{ident}")
    assert response.status_code == 200, response.text
    return response.json()[key]


async def guest_port(api: Api, network_id: str, host: str = "host1", **body: Any
                     ) -> dict[str, Any]:
    """A port as compute makes one for a server, bound to ``host``."""
    return await create(api, "ports", "port", network_id=network_id,
                        device_id=str(uuid.uuid4()), device_owner="compute:nova",
                        **{"binding:host_id": host}, **body)


async def eventually(check: Any, timeout: float = 10, interval: float = 0.1) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)
