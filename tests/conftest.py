"""Fixtures: a whole cloud in the test process, reached over HTTP through its ASGI
apps (fast), or served on real ports for the stock clients (``live_cloud``)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from onestack.cloud import Cloud, prepare_state_dir, write_client_files
from onestack.kernel.auth import RequestContext
from onestack.kernel.bus import Bus, connect
from onestack.kernel.config import SERVICE_PORTS, Config, load

ADMIN_PASSWORD = "test-admin-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_config(state_dir: Path, **identity: Any) -> Config:
    config = load(environ={}, state_dir=state_dir)
    config.api.ports = {name: free_port() for name in SERVICE_PORTS}
    config.api.access_log = False
    # A bus of its own: the clouds of one test process (a live cloud in a thread, the
    # test's own) must not serve each other's topics on the shared local:// broker.
    config.bus.url = f"local://cloud-{uuid.uuid4().hex}"
    config.identity.admin_password = ADMIN_PASSWORD
    config.identity.password_hash_rounds = 4
    # instant guests; the stories of real QEMU guests choose "qemu" themselves
    config.compute.virt_driver = "fake"
    for key, value in identity.items():
        setattr(config.identity, key, value)
    return config


def password_auth(user: str, password: str, *, project: str | None = None,
                  domain: str = "Default", scope: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": domain}, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
    elif scope is not None:
        body["auth"]["scope"] = scope
    return body


@dataclass
class Api:
    """An HTTP client for one service of an in-process cloud."""

    cloud: Cloud
    service: str
    token: str | None = None
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def http(self) -> httpx.AsyncClient:
        if self.service not in self.clients:
            app = self.cloud.apps[self.service]
            base = self.cloud.config.public_url(self.service)
            self.clients[self.service] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=base)
        return self.clients[self.service]

    def as_token(self, token: str | None) -> Api:
        """The same client (and class, and settings) as another caller."""
        other = copy.copy(self)
        other.token = token
        return other

    async def request(self, method: str, path: str, *, token: str | None = None,
                      headers: dict[str, str] | None = None, **kwargs: Any
                      ) -> httpx.Response:
        all_headers = dict(headers or {})
        use = token if token is not None else self.token
        if use:
            all_headers.setdefault("X-Auth-Token", use)
        return await self.http.request(method, path, headers=all_headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, json=json, **kwargs)

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, json=json, **kwargs)

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, json=json, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("HEAD", path, **kwargs)

    async def token_for(self, user: str, password: str, project: str | None = None,
                        **kwargs: Any) -> str:
        response = await self.post("/v3/auth/tokens",
                                   json=password_auth(user, password, project=project,
                                                      **kwargs), token="")
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]


@contextlib.asynccontextmanager
async def admin_api(cloud: Cloud, service: str, api_class: type[Api] = Api
                    ) -> AsyncIterator[Api]:
    """``service``'s API as the bootstrap admin; its HTTP clients closed afterwards."""
    identity = Api(cloud, "identity")
    api = api_class(cloud, service, clients=identity.clients)
    api.token = await identity.token_for("admin", ADMIN_PASSWORD, "admin")
    try:
        yield api
    finally:
        for client in api.clients.values():
            await client.aclose()


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    """A fresh all-in-one cloud (fake drivers, SQLite in tmp_path), not listening."""
    config = test_config(tmp_path / "state")
    prepare_state_dir(config.state_dir, reset=False)
    built = Cloud(config)
    await built.build()
    yield built
    await built.close()


@dataclass
class Tenants:
    """Two projects with a member each, as clients of one service's API."""

    alice: Any  # member of project one (the API client's class)
    bob: Any  # member of project two
    one: dict[str, Any]
    two: dict[str, Any]


async def two_tenants(api: Api, prefix: str) -> Tenants:
    """Projects ``PREFIX-one`` and ``PREFIX-two`` with members alice and bob, and
    ``api`` (a service's client) as each of them."""
    from tests.api.identity.helpers import make_project, member_token

    identity = Api(api.cloud, "identity", clients=api.clients)
    identity.token = await identity.token_for("admin", ADMIN_PASSWORD, "admin")
    one = await make_project(identity, f"{prefix}-one")
    two = await make_project(identity, f"{prefix}-two")
    alice = api.as_token(await member_token(identity, "alice", one))
    bob = api.as_token(await member_token(identity, "bob", two))
    return Tenants(alice, bob, one, two)


@pytest.fixture
async def running(cloud: Cloud) -> AsyncIterator[Cloud]:
    """The cloud with every service's loops running (bus endpoints, agents,
    heartbeats), not listening on ports."""
    tasks = cloud.start_background()
    await asyncio.sleep(0)
    try:
        yield cloud
    finally:
        await cloud.stop_background(tasks)


@contextlib.asynccontextmanager
async def cloud_bus(cloud: Cloud) -> AsyncIterator[Bus]:
    """A connection to the cloud's own bus (for a service's rpcapi client)."""
    bus = connect(cloud.config.bus.url, exchange=cloud.config.bus.exchange)
    try:
        yield bus
    finally:
        await bus.close()


def bus_context(project_id: str, *roles: str) -> dict[str, Any]:
    """What a caller's context looks like on the bus (a member unless roles say)."""
    return RequestContext(user_id="someone", roles=frozenset(roles or ("member",)),
                          project_id=project_id).to_dict()


@pytest.fixture
async def identity(cloud: Cloud) -> AsyncIterator[Api]:
    """The identity API, authenticated as the bootstrap admin."""
    async with admin_api(cloud, "identity") as api:
        yield api


@dataclass
class LiveCloud:
    config: Config
    openrc: Path
    clouds_yaml: Path

    def env(self, **overrides: str) -> dict[str, str]:
        """An environment as after ``source admin-openrc``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        for line in self.openrc.read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                env[key] = value
        env.update(overrides)
        return env


@pytest.fixture(scope="session")
def live_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCloud]:
    """A cloud served on real loopback ports from a thread, for stock clients."""
    config = test_config(tmp_path_factory.mktemp("live") / "state")
    prepare_state_dir(config.state_dir, reset=False)
    cloud = Cloud(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            await cloud.build()
            started = asyncio.Event()
            serving = asyncio.create_task(cloud.serve(started))
            await started.wait()
            ready.set()
            await serving
            await cloud.close()
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported to the test that waits
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="live-cloud", daemon=True)
    thread.start()
    assert ready.wait(60), "the live cloud did not start within 60 s"
    if failure:
        raise failure[0]
    openrc, clouds = write_client_files(config, cloud.password)
    yield LiveCloud(config, openrc, clouds)
    loop.call_soon_threadsafe(cloud.stop)
    thread.join(30)
