"""Compute agents: one per host, each a bus server at Target("compute", host) over its
VirtDriver. Agents never touch the database: they report through the conductor,
ask network for ports, image for images and placement for their inventory. A process
runs one or many agents (``AgentHost``: thousands of fake hosts share one heartbeat
and one reconcile pass)."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import shutil
import socket
from typing import Any

from onestack.compute.agent_moves import AgentMoves
from onestack.compute.drivers.base import VirtDriver
from onestack.compute.naming import node_uuid
from onestack.compute.rpcapi import AGENT_TOPIC, ConductorAPI
from onestack.image.rpcapi import ImageAPI
from onestack.kernel.bus import Bus, Server, Target
from onestack.kernel.config import ComputeConfig, Config
from onestack.network.rpcapi import NetworkAPI
from onestack.placement.rpcapi import PlacementAPI

log = logging.getLogger(__name__)
DRIVERS = {"fake": "onestack.compute.drivers.fake", "qemu": "onestack.compute.drivers.qemu"}
SYSTEM_CONTEXT: dict[str, Any] = {"user_id": "nova", "roles": ["admin", "service"],
                                  "project_id": None, "request_id": ""}


def host_names(settings: ComputeConfig) -> list[str]:
    first = settings.host or socket.gethostname()
    return [first] + [f"{first}-{i}" for i in range(2, settings.fake_hosts + 1)]


def build_driver(host: str, config: Config) -> VirtDriver:
    """The driver module's ``build(host, config)``; the module is one of DRIVERS or
    a dotted path."""
    name = config.compute.virt_driver
    if name == "auto":
        name = "qemu" if shutil.which(config.compute.qemu_binary) else "fake"
        if name == "fake":
            log.warning("%s is not installed: host %s runs the fake hypervisor",
                        config.compute.qemu_binary, host)
    module = DRIVERS.get(name, name)
    try:
        return importlib.import_module(module).build(host, config)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise ValueError(f"[compute] virt_driver {name!r} is not available: {exc}") from None


class ComputeAgent(AgentMoves):
    """The bus endpoints of one host; the operations themselves are in agent_ops.py
    and agent_moves.py."""

    def __init__(self, host: str, driver: VirtDriver, settings: ComputeConfig,
                 conductor: ConductorAPI, network: NetworkAPI, image: ImageAPI,
                 placement: PlacementAPI, work_dir: str,
                 network_names: dict[str, tuple[str, float]] | None = None) -> None:
        self.host = host
        self.driver = driver
        self.settings = settings
        self.conductor = conductor
        self.network = network
        self.image = image
        self.placement = placement
        self.work_dir = work_dir
        self.network_names = network_names if network_names is not None else {}
        # uuids with an operation in flight here: the reconcile pass leaves them alone
        self.busy: set[str] = set()

    def node_report(self) -> dict[str, Any]:
        res = self.driver.resources()
        return {"host": self.host, "hypervisor_hostname": self.host,
                "hypervisor_type": res.hypervisor_type,
                "hypervisor_version": res.hypervisor_version, "host_ip": res.host_ip,
                "vcpus": res.vcpus, "memory_mb": res.memory_mb, "local_gb": res.local_gb,
                "cpu_info": json.dumps(res.cpu_info)}

    async def report_inventory(self) -> None:
        res = self.driver.resources()
        s = self.settings
        inventories = {
            "VCPU": {"total": res.vcpus, "allocation_ratio": s.cpu_allocation_ratio,
                     "max_unit": res.vcpus},
            "MEMORY_MB": {"total": res.memory_mb, "reserved": s.reserved_host_memory_mb,
                          "allocation_ratio": s.ram_allocation_ratio,
                          "max_unit": res.memory_mb},
            "DISK_GB": {"total": res.local_gb, "allocation_ratio": s.disk_allocation_ratio,
                        "max_unit": res.local_gb},
        }
        await self.placement.ensure_provider(SYSTEM_CONTEXT, node_uuid(self.host), self.host,
                                             inventories, traits=res.traits)


class AgentHost:
    """This process's compute agents: registration, bus servers, one batched heartbeat
    and one reconcile pass for all of them."""

    def __init__(self, config: Config, bus: Bus, work_dir: str) -> None:
        settings = config.compute
        self.settings = settings
        self.bus = bus
        self.conductor = ConductorAPI(bus)
        self.agents: dict[str, ComputeAgent] = {}
        network, image, placement = NetworkAPI(bus), ImageAPI(bus), PlacementAPI(bus)
        names: dict[str, tuple[str, float]] = {}
        for host in host_names(settings):
            self.agents[host] = ComputeAgent(host, build_driver(host, config), settings,
                                             self.conductor, network, image, placement,
                                             work_dir, names)
        self.servers: list[Server] = []
        self.ready = asyncio.Event()

    @classmethod
    def from_config(cls, config: Config, bus: Bus) -> AgentHost:
        work_dir = config.state_dir / "compute"
        work_dir.mkdir(parents=True, exist_ok=True)
        return cls(config, bus, str(work_dir))

    async def start(self) -> None:
        agents = list(self.agents.values())
        for agent in agents:
            await agent.report_inventory()
        await self.conductor.register_hosts(SYSTEM_CONTEXT, [a.node_report() for a in agents])
        for agent in agents:
            self.servers.append(await self.bus.serve(Target(AGENT_TOPIC, server=agent.host),
                                                     agent))
        self.ready.set()

    async def run(self) -> None:
        await self.start()
        await asyncio.gather(self._heartbeats(), self._reconcile_loop())

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.report_interval)
            try:
                await self.conductor.heartbeat(SYSTEM_CONTEXT, list(self.agents))
            except Exception:
                log.exception("compute heartbeat failed")

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconcile pass failed")
            await asyncio.sleep(self.settings.reconcile_interval)

    async def reconcile(self) -> None:
        """Desired state (the database, through the conductor) against actual state
        (each driver): finish what a restart interrupted, sync power states, remove
        guests nobody owns."""
        desired = await self.conductor.instances_on(SYSTEM_CONTEXT, list(self.agents))
        by_host: dict[str, list[dict[str, Any]]] = {}
        for instance in desired:
            by_host.setdefault(instance["host"], []).append(instance)
        for host, agent in self.agents.items():
            await agent.reconcile(by_host.get(host, []))

    async def stop(self) -> None:
        """Stop taking work; what is in flight finishes first."""
        servers, self.servers = self.servers, []
        await asyncio.gather(*(server.stop() for server in servers))

    async def close(self) -> None:
        await self.stop()
        for agent in self.agents.values():
            await agent.driver.close()

