"""The networking service at run time (Neutron v2 on port 9696): its database,
dataplane backend, policy and allocation cursors, handed to every handler as
``req.app``."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from onestack.kernel.api.app import ServiceSpec
from onestack.kernel.config import Config, NetworkConfig
from onestack.kernel.db import Database
from onestack.kernel.db.migrate import upgrade
from onestack.kernel.policy import Enforcer
from onestack.kernel.service import Runtime
from onestack.network import policies
from onestack.network.drivers.base import NetworkBackend

MIGRATIONS = Path(__file__).parent / "migrations"
BACKENDS = {"fake": "onestack.network.drivers.fake",
            "linux": "onestack.network.drivers.linux"}


@dataclass
class Networking:
    config: Config
    db: Database
    backend: NetworkBackend
    base_url: str
    policy: Enforcer
    # resource kind -> (attribute, rule) pairs: what responses may hide (policies.py)
    guarded_reads: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # subnet id -> the last address this process handed out there (a hint only)
    ip_cursor: dict[str, int] = field(default_factory=dict)
    # when this process's backend (and so its agents) started
    started_at: float = field(default_factory=time.time)

    @property
    def settings(self) -> NetworkConfig:
        return self.config.network


def build_backend(settings: NetworkConfig) -> NetworkBackend:
    module = BACKENDS.get(settings.backend, settings.backend)
    try:
        return importlib.import_module(module).build(settings)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise ValueError(f"[network] backend {settings.backend!r} is not available: "
                         f"{exc}") from None


async def open_networking(config: Config) -> Networking:
    db = Database(config.database_url("network"), echo=config.database.echo,
                  pool_size=config.database.pool_size)
    await upgrade(db, "network", MIGRATIONS)
    from onestack.network.objects import agents

    policy = Enforcer(policies.DEFAULTS, config.api.policy_file or None)
    net = Networking(config=config, db=db, backend=build_backend(config.network),
                     base_url=config.public_url("network"), policy=policy,
                     guarded_reads=policies.guarded_reads(policy.rules))
    start = getattr(net.backend, "start", None)
    if start is not None:  # a backend that reads the database (linux) starts with it
        await start(net)
    await agents.report(net)  # the backend's agents are up from the start
    return net


# -- the service module shape (onestack/kernel/service.py) -----------------------------
NAME = "network"
CATALOG = (("network", ""),)


async def build(runtime: Runtime) -> Networking:
    return await open_networking(runtime.config)


def spec(state: Networking) -> ServiceSpec:
    from onestack.network.api import ROUTES

    return ServiceSpec(NAME, ROUTES, fault_style="neutron",
                       auth_uri=state.config.public_url("identity") + "/v3")


async def periodic(state: Networking) -> None:
    from onestack.network.manager import run_periodic

    await run_periodic(state)


async def close(state: Networking) -> None:
    await state.backend.close()
    await state.db.close()
