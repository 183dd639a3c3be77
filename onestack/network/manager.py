"""The networking service's bus endpoints: what compute calls (through rpcapi.py) to
create, bind, unbind and delete the ports of its servers; and the heartbeats of the
backend's agents."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from onestack.kernel.bus import Target, connect
from onestack.kernel.db.retry import retry_on_deadlock
from onestack.network.objects import agents, common, ports

if TYPE_CHECKING:
    from onestack.network.service import Networking

log = logging.getLogger(__name__)
TOPIC = "network"


def _port_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "project_id", "network_id", "mac_address", "fixed_ips", "device_id",
            "device_owner", "status", "security_groups", "binding:host_id",
            "binding:vif_type", "binding:vif_details")
    return {key: row.get(key) for key in keys}


class NetworkEndpoints:
    """Served at Target("network"); every method takes the caller's context first."""

    def __init__(self, net: Networking) -> None:
        self.net = net

    async def get_network(self, ctx: dict[str, Any], network_id: str) -> dict[str, Any]:
        async with self.net.db.reader() as conn:
            row = await common.get(conn, "network", network_id)
        return {k: row.get(k) for k in ("id", "name", "project_id", "mtu", "shared",
                                        "router:external", "provider:network_type",
                                        "provider:segmentation_id")}

    @retry_on_deadlock
    async def create_port(self, ctx: dict[str, Any], network_id: str, project_id: str,
                          device_id: str, host: str = "",
                          device_owner: str = "compute:nova",
                          fixed_ips: list[dict[str, str]] | None = None,
                          security_groups: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"device_id": device_id, "device_owner": device_owner,
                                "binding:host_id": host}
        if fixed_ips is not None:
            body["fixed_ips"] = fixed_ips
        if security_groups is not None:
            body["security_groups"] = security_groups
        async with self.net.db.writer() as conn:
            network = await common.get(conn, "network", network_id)
            row = await ports.create(self.net, conn, network, project_id, body)
        return _port_view(row)

    @retry_on_deadlock
    async def bind_port(self, ctx: dict[str, Any], port_id: str, host: str,
                        device_id: str = "") -> dict[str, Any]:
        changes: dict[str, Any] = {"binding:host_id": host}
        if device_id:
            changes.update(device_id=device_id, device_owner="compute:nova")
        async with self.net.db.writer() as conn:
            current = await common.get(conn, "port", port_id)
            row = await ports.update(self.net, conn, current, changes)
        return _port_view(row)

    @retry_on_deadlock
    async def unbind_port(self, ctx: dict[str, Any], port_id: str) -> dict[str, Any]:
        async with self.net.db.writer() as conn:
            current = await common.get(conn, "port", port_id)
            row = await ports.update(self.net, conn, current, {
                "binding:host_id": "", "device_id": "", "device_owner": ""})
        return _port_view(row)

    @retry_on_deadlock
    async def delete_port(self, ctx: dict[str, Any], port_id: str) -> None:
        async with self.net.db.writer() as conn:
            found = await common.find(conn, "port", id=port_id)
            if found:
                await ports.delete(self.net, conn, found[0])

    async def list_ports(self, ctx: dict[str, Any], device_id: str) -> list[dict[str, Any]]:
        async with self.net.db.reader() as conn:
            rows = await common.find(conn, "port", device_id=device_id)
        return [_port_view(r) for r in sorted(rows, key=lambda r: r["created_at"])]


async def heartbeats(net: Networking, interval: float = agents.REPORT_INTERVAL) -> None:
    """The backend's agents report while the service runs (a failed report is logged
    and the next one tried: a missed heartbeat or two is what agent_down_time allows)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await agents.report(net)
        except Exception:
            log.exception("agent heartbeat failed")


async def run_periodic(net: Networking) -> None:
    """Serve the bus endpoints and send the agents' heartbeats while the service runs."""
    bus = connect(net.config.bus.url, exchange=net.config.bus.exchange)
    server = await bus.serve(Target(TOPIC), NetworkEndpoints(net))
    try:
        await heartbeats(net)
    finally:
        await server.stop()
        await bus.close()
