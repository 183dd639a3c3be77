"""The compute service at run time (Nova's API on port 8774, with its conductor and
scheduler; in the all-in-one cloud also this process's compute agents), handed to
every handler as ``req.app``."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onestack.compute import policies
from onestack.compute.rpcapi import AgentAPI, ConductorAPI
from onestack.image.rpcapi import ImageAPI
from onestack.kernel.api.app import ServiceSpec
from onestack.kernel.bus import Bus, connect
from onestack.kernel.config import ComputeConfig, Config
from onestack.kernel.db import Database
from onestack.kernel.db.migrate import upgrade
from onestack.kernel.policy import Enforcer
from onestack.kernel.service import Runtime
from onestack.network.rpcapi import NetworkAPI
from onestack.placement.rpcapi import PlacementAPI

if TYPE_CHECKING:
    from onestack.compute.manager import AgentHost

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Compute:
    config: Config
    db: Database
    policy: Enforcer
    base_url: str
    bus: Bus
    placement: PlacementAPI
    network: NetworkAPI
    image: ImageAPI
    conductor: ConductorAPI
    agents: AgentAPI
    # this process's compute agents (the all-in-one cloud runs them beside the API)
    hosts: AgentHost | None = None
    # builds waiting for the scheduler: it takes them in batches (conductor.py)
    build_queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    # moves on every change of hosts, zones or aggregates made in this process; the
    # scheduler's host snapshot is reloaded then (and at least every few seconds)
    hosts_version: int = 0
    # (hosts_version, monotonic time, snapshot) as the conductor last loaded it
    host_snapshot: tuple[int, float, dict[str, Any]] | None = None

    def hosts_changed(self) -> None:
        self.hosts_version += 1

    @property
    def settings(self) -> ComputeConfig:
        return self.config.compute


async def open_compute(config: Config, run_agents: bool = True) -> Compute:
    db = Database(config.database_url("compute"), echo=config.database.echo,
                  pool_size=config.database.pool_size)
    await upgrade(db, "compute", MIGRATIONS)
    bus = connect(config.bus.url, exchange=config.bus.exchange)
    compute = Compute(
        config=config, db=db, policy=Enforcer(policies.DEFAULTS, config.api.policy_file or None),
        base_url=config.public_url("compute"), bus=bus, placement=PlacementAPI(bus),
        network=NetworkAPI(bus), image=ImageAPI(bus), conductor=ConductorAPI(bus),
        agents=AgentAPI(bus))
    if run_agents:
        from onestack.compute.manager import AgentHost

        compute.hosts = AgentHost.from_config(config, bus)
    return compute


# -- the service module shape (onestack/kernel/service.py) -----------------------------
NAME = "compute"
CATALOG = (("compute", "/v2.1"),)


async def build(runtime: Runtime) -> Compute:
    return await open_compute(runtime.config)


def spec(state: Compute) -> ServiceSpec:
    from onestack.compute.api import ROUTES
    from onestack.compute.microversions import SPEC

    return ServiceSpec(NAME, ROUTES, fault_style="nova", microversions=SPEC,
                       auth_uri=state.config.public_url("identity") + "/v3",
                       request_id_header="x-compute-request-id")


async def periodic(state: Compute) -> None:
    from onestack.compute.conductor import run_conductor

    conductor = asyncio.create_task(run_conductor(state))
    agents = asyncio.create_task(state.hosts.run()) if state.hosts is not None else None
    try:
        # asyncio.wait leaves the tasks running when this one is cancelled, so that
        # the agents stop (finishing their work) while the conductor still answers
        await asyncio.wait([t for t in (conductor, agents) if t is not None],
                           return_when=asyncio.FIRST_EXCEPTION)
    finally:
        if agents is not None:
            agents.cancel()
            await asyncio.gather(agents, return_exceptions=True)
            await state.hosts.stop()  # type: ignore[union-attr]
        conductor.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(conductor, return_exceptions=True)


def extra_apps(state: Compute) -> dict[str, Any]:
    """What compute serves beside its API, by port name (config.api.ports)."""
    from onestack.compute import consoleproxy
    from onestack.compute.metadata import app as metadata

    return {
        "compute-metadata": metadata.build(state),
        **consoleproxy.build(state),
    }


async def close(state: Compute) -> None:
    if state.hosts is not None:
        await state.hosts.close()
    await state.bus.close()
    await state.db.close()
