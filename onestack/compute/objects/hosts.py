"""Compute services and their hypervisors (compute nodes): registered by agents
through the conductor, kept alive by heartbeats; a service is up when it was seen
within ``service_down_time`` and is not forced down."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.compute.naming import node_uuid, service_uuid


def is_up(service: dict[str, Any], down_time: float, now: float | None = None) -> bool:
    if service["forced_down"] or service["last_seen_up"] is None:
        return False
    return (now or time.time()) - service["last_seen_up"] <= down_time


async def register_services(conn: AsyncConnection, binary: str, hosts: list[str],
                            topic: str | None = None) -> dict[str, int]:
    """Make sure each host has its ``binary`` service (seen now); answers their ids."""
    now = time.time()
    rows = (await conn.execute(sa.select(m.compute_service.c.host, m.compute_service.c.id)
                               .where(m.compute_service.c.binary == binary,
                                      m.compute_service.c.host.in_(hosts)))).all()
    ids = {host: ident for host, ident in rows}
    missing = [h for h in hosts if h not in ids]
    if missing:
        await conn.execute(m.compute_service.insert(), [
            {"uuid": service_uuid(h, binary), "host": h, "binary": binary,
             "topic": topic or binary.removeprefix("nova-"), "disabled": False,
             "forced_down": False, "last_seen_up": now, "report_count": 0, "version": 1,
             "created_at": now, "updated_at": now} for h in missing])
        rows = (await conn.execute(sa.select(m.compute_service.c.host, m.compute_service.c.id)
                                   .where(m.compute_service.c.binary == binary,
                                          m.compute_service.c.host.in_(missing)))).all()
        ids.update({host: ident for host, ident in rows})
    await heartbeat(conn, binary, [h for h in hosts if h not in missing], now)
    return ids


async def register_nodes(conn: AsyncConnection, nodes: list[dict[str, Any]]) -> None:
    """Create or refresh compute nodes from agents' reports (one per host)."""
    if not nodes:
        return
    now = time.time()
    service_ids = await register_services(conn, "nova-compute", [n["host"] for n in nodes],
                                          topic="compute")
    existing = {r.hypervisor_hostname: r for r in (await conn.execute(
        sa.select(m.compute_node).where(m.compute_node.c.hypervisor_hostname.in_(
            [n["hypervisor_hostname"] for n in nodes])))).all()}
    new = []
    for node in nodes:
        values = {"service_id": service_ids[node["host"]], "host": node["host"],
                  "hypervisor_type": node["hypervisor_type"],
                  "hypervisor_version": node["hypervisor_version"],
                  "host_ip": node["host_ip"], "vcpus": node["vcpus"],
                  "memory_mb": node["memory_mb"], "local_gb": node["local_gb"],
                  "cpu_info": node["cpu_info"], "updated_at": now}
        row = existing.get(node["hypervisor_hostname"])
        if row is None:
            new.append({**values, "uuid": node_uuid(node["hypervisor_hostname"]),
                        "hypervisor_hostname": node["hypervisor_hostname"],
                        "created_at": now})
        elif any(getattr(row, k) != v for k, v in values.items() if k != "updated_at"):
            await conn.execute(m.compute_node.update()
                               .where(m.compute_node.c.id == row.id).values(**values))
    if new:
        await conn.execute(m.compute_node.insert(), new)


async def heartbeat(conn: AsyncConnection, binary: str, hosts: list[str],
                    now: float | None = None) -> None:
    if not hosts:
        return
    await conn.execute(m.compute_service.update()
                       .where(m.compute_service.c.binary == binary,
                              m.compute_service.c.host.in_(hosts))
                       .values(last_seen_up=now or time.time(),
                               report_count=m.compute_service.c.report_count + 1))


async def availability_zones(conn: AsyncConnection) -> dict[str, str]:
    """host -> availability zone, from the aggregates' ``availability_zone`` metadata
    (hosts in none are in the default zone, which callers supply)."""
    rows = (await conn.execute(
        sa.select(m.aggregate_host.c.host, m.aggregate_metadata.c.value)
        .join(m.aggregate_metadata,
              m.aggregate_metadata.c.aggregate_id == m.aggregate_host.c.aggregate_id)
        .where(m.aggregate_metadata.c.key == "availability_zone"))).all()
    return {host: zone for host, zone in rows}
