"""Hypervisors (compute nodes) as the API reads them: each with its host's compute
service, and its usage counted from the instances the database places on the host
(as Nova's resource tracker counts them), so no placement call is needed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.compute.objects import states
from onestack.compute.objects.services import COMPUTE, is_uuid

Node = dict[str, Any]

# What counts toward a host's current_workload (Nova's "io_workload").
_BUSY_TASKS = (states.RESIZE_MIGRATING, states.REBUILDING, states.RESIZE_PREP,
               states.IMAGE_SNAPSHOT, states.IMAGE_BACKUP, states.RESCUING,
               states.UNSHELVING)


@dataclass
class Usage:
    vcpus: int = 0
    memory_mb: int = 0
    local_gb: int = 0
    running_vms: int = 0
    current_workload: int = 0


async def _with_services(conn: AsyncConnection, nodes: list[Node]) -> list[Node]:
    """Each node with ``service``: its host's compute service, or None (deleted)."""
    hosts = sorted({n["host"] for n in nodes})
    rows = (await conn.execute(sa.select(m.compute_service).where(
        m.compute_service.c.binary == COMPUTE,
        m.compute_service.c.host.in_(hosts)))).all() if hosts else []
    by_host = {r.host: dict(r._mapping) for r in rows}
    return [{**n, "service": by_host.get(n["host"])} for n in nodes]


async def list_all(conn: AsyncConnection, pattern: str | None = None) -> list[Node]:
    """Every node by id, or those whose hypervisor hostname contains ``pattern`` (a
    SQL LIKE fragment, as Nova matches it)."""
    query = sa.select(m.compute_node).order_by(m.compute_node.c.id)
    if pattern is not None:
        query = query.where(m.compute_node.c.hypervisor_hostname.like(f"%{pattern}%"))
    nodes = [dict(r._mapping) for r in (await conn.execute(query)).all()]
    return await _with_services(conn, nodes)


async def get(conn: AsyncConnection, ident: str) -> Node | None:
    """By uuid or integer id."""
    if is_uuid(ident):
        where = m.compute_node.c.uuid == ident
    else:
        try:
            where = m.compute_node.c.id == int(ident)
        except ValueError:
            return None
    row = (await conn.execute(sa.select(m.compute_node).where(where))).first()
    if row is None:
        return None
    return (await _with_services(conn, [dict(row._mapping)]))[0]


async def _instances_on(conn: AsyncConnection, hosts: list[str], *columns: Any) -> list[Any]:
    if not hosts:
        return []
    query = sa.select(m.instance.c.host, *columns).where(
        m.instance.c.host.in_(hosts), m.instance.c.deleted_at.is_(None))
    return list((await conn.execute(query.order_by(m.instance.c.created_at))).all())


async def usage(conn: AsyncConnection, hosts: list[str]) -> dict[str, Usage]:
    found = {h: Usage() for h in hosts}
    rows = await _instances_on(conn, hosts, m.instance.c.flavor, m.instance.c.vm_state,
                               m.instance.c.task_state)
    for host, flavor, vm_state, task_state in rows:
        used = found[host]
        flavor = flavor or {}
        used.vcpus += int(flavor.get("vcpus") or 0)
        used.memory_mb += int(flavor.get("memory_mb") or 0)
        used.local_gb += int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0)
        used.running_vms += 1
        if vm_state == states.BUILDING or task_state in _BUSY_TASKS:
            used.current_workload += 1
    return found


async def servers_on(conn: AsyncConnection, hosts: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {h: [] for h in hosts}
    for host, uuid in await _instances_on(conn, hosts, m.instance.c.uuid):
        found[host].append({"uuid": uuid})
    return found


def uptime(node: Node, service: dict[str, Any], now: float | None = None) -> str:
    """What ``uptime`` prints on the host: the driver's report when it made one, else
    counted from when the compute service first registered."""
    if node.get("uptime"):
        return str(node["uptime"])
    now = now or time.time()
    up = max(0, int(now - service["created_at"]))
    days, rest = divmod(up, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    clock = time.strftime("%H:%M:%S", time.gmtime(now))
    span = f"{days} day{'s' if days != 1 else ''}, " if days else ""
    return (f" {clock} up {span}{hours:2d}:{minutes:02d},  0 users,  "
            "load average: 0.00, 0.00, 0.00")
