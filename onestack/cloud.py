"""The all-in-one cloud: every service built from one configuration and served from
one process, one asyncio loop. ``onestack up`` and the test fixtures both use it."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from onestack.identity.bootstrap import register_service
from onestack.kernel.api.app import ASGIApp, ServiceApp
from onestack.kernel.api.server import HttpServer
from onestack.kernel.config import Config
from onestack.kernel.service import Runtime, ServiceModule, extra_apps

log = logging.getLogger("onestack")
MARKER = ".onestack-state"


class StateDirError(RuntimeError):
    pass


def prepare_state_dir(path: Path, reset: bool) -> None:
    """Create the state directory; with ``reset``, wipe it first, but only if it is
    one of ours (so a mistyped path never deletes someone's files)."""
    if reset and path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise StateDirError(f"refusing to reset {path}: it is not an onestack state "
                                f"directory (no {MARKER} file)")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    (path / MARKER).touch()


def admin_password(config: Config) -> str:
    """The configured admin password, else the one generated at first start."""
    if config.identity.admin_password:
        return config.identity.admin_password
    stored = config.state_dir / "admin-password"
    if stored.exists():
        return stored.read_text().strip()
    password = secrets.token_urlsafe(18)
    fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


def write_client_files(config: Config, password: str) -> tuple[Path, Path]:
    settings = config.identity
    auth_url = config.public_url("identity") + "/v3"
    openrc = config.state_dir / "admin-openrc"
    openrc.write_text(
        "# onestack admin credentials: source this file, then use the openstack client\n"
        f"export OS_AUTH_URL={auth_url}\n"
        f"export OS_USERNAME={settings.admin_user}\n"
        f"export OS_PASSWORD={password}\n"
        f"export OS_PROJECT_NAME={settings.admin_project}\n"
        "export OS_USER_DOMAIN_NAME=Default\n"
        "export OS_PROJECT_DOMAIN_NAME=Default\n"
        f"export OS_REGION_NAME={settings.region}\n"
        "export OS_IDENTITY_API_VERSION=3\n"
        "export OS_AUTH_TYPE=password\n"
        "export OS_INTERFACE=public\n")
    os.chmod(openrc, 0o600)
    clouds = config.state_dir / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"onestack": {
        "auth": {"auth_url": auth_url, "username": settings.admin_user,
                 "password": password, "project_name": settings.admin_project,
                 "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": settings.region, "interface": "public",
        "identity_api_version": 3}}}, sort_keys=False))
    os.chmod(clouds, 0o600)
    return openrc, clouds


# Every service run by `onestack up`, in start order (identity first: it provides the
# token validator and the catalog the others register in).
SERVICE_MODULES = (
    "onestack.identity.service",
    "onestack.image.service",
    "onestack.network.service",
    "onestack.placement.service",
    "onestack.compute.service",
)


@dataclass
class Cloud:
    config: Config
    services: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, ServiceModule] = field(default_factory=dict)
    apps: dict[str, ServiceApp] = field(default_factory=dict)
    # what services serve beside their APIs (metadata, console proxies), by port name
    extra_apps: dict[str, ASGIApp] = field(default_factory=dict)
    server: HttpServer | None = None
    password: str = ""

    async def build(self) -> None:
        """Open databases, migrate, bootstrap and build every service's app."""
        config = self.config
        self.password = admin_password(config)
        config.identity.admin_password = self.password
        runtime = Runtime(config)
        for path in SERVICE_MODULES:
            module: ServiceModule = importlib.import_module(path)  # type: ignore[assignment]
            state = await module.build(runtime)
            assert runtime.validator is not None, "identity must start first"
            self.services[module.NAME] = state
            self.modules[module.NAME] = module
            self.apps[module.NAME] = ServiceApp(
                module.spec(state), runtime.validator, state,
                max_body=config.api.max_request_body_size, log_requests=config.api.access_log)
            self.extra_apps.update(extra_apps(module, state))
        identity = self.services["identity"]
        for name, module in self.modules.items():
            for service_type, suffix in module.CATALOG:
                await register_service(identity, service_type,
                                       config.public_url(name) + suffix)

    def start_background(self) -> list[asyncio.Task[None]]:
        """Start every service's loops (bus endpoints, agents, heartbeats); the caller
        cancels the tasks when done (``stop_background``)."""
        return [asyncio.create_task(module.periodic(self.services[name]),
                                    name=f"{name}-periodic")
                for name, module in self.modules.items()]

    @staticmethod
    async def stop_background(tasks: list[asyncio.Task[None]]) -> None:
        """Stop the loops last-started first, one service at a time: a service's
        in-flight work may still call the services it depends on (started earlier)."""
        for task in reversed(tasks):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        apps: dict[str, ASGIApp] = {**self.apps, **self.extra_apps}
        ports = {self.config.api.ports[name]: app for name, app in apps.items()}
        self.server = HttpServer(self.config.api.host, ports)
        task = asyncio.create_task(self.server.serve())
        periodic = self.start_background()
        try:
            if ready is not None:
                await self.server.started()
                ready.set()
            await task
        finally:
            await self.stop_background(periodic)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def close(self) -> None:
        for name, module in reversed(self.modules.items()):
            await module.close(self.services[name])
