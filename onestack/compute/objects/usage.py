"""Simple tenant usage: the servers that ran within a window, and for how many hours,
from the instance table (deleted servers included: they ran too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m


@dataclass
class ServerUsage:
    instance_id: str
    name: str
    tenant_id: str
    flavor: dict[str, Any]
    vm_state: str
    launched_at: float
    ended_at: float | None
    created_at: float

    def hours(self, start: float, stop: float) -> float:
        """Hours the server ran between ``start`` and ``stop``."""
        if self.ended_at is not None and self.ended_at < start:
            return 0.0
        if self.launched_at > stop:
            return 0.0
        end = stop if self.ended_at is None else min(stop, self.ended_at)
        return (end - max(self.launched_at, start)) / 3600.0


@dataclass
class TenantUsage:
    tenant_id: str
    servers: list[tuple[ServerUsage, float]] = field(default_factory=list)


def _ended(row: Any) -> float | None:
    if row.terminated_at is not None:
        return float(row.terminated_at)
    return None if row.deleted_at is None else float(row.deleted_at)


async def active_in_window(conn: AsyncConnection, start: float, stop: float,
                           project_id: str | None = None) -> list[ServerUsage]:
    """Servers launched before ``stop`` and not ended before ``start``, oldest first."""
    inst = m.instance
    ended = sa.func.coalesce(inst.c.terminated_at, inst.c.deleted_at)
    query = (sa.select(inst.c.uuid, inst.c.display_name, inst.c.project_id, inst.c.flavor,
                       inst.c.vm_state, inst.c.launched_at, inst.c.terminated_at,
                       inst.c.deleted_at, inst.c.created_at)
             .where(inst.c.launched_at.is_not(None), inst.c.launched_at < stop,
                    sa.or_(ended.is_(None), ended > start))
             .order_by(inst.c.created_at, inst.c.uuid))
    if project_id is not None:
        query = query.where(inst.c.project_id == project_id)
    return [ServerUsage(instance_id=r.uuid, name=r.display_name, tenant_id=r.project_id,
                        flavor=r.flavor or {}, vm_state=r.vm_state,
                        launched_at=float(r.launched_at), ended_at=_ended(r),
                        created_at=float(r.created_at))
            for r in await conn.execute(query)]


def by_tenant(servers: list[ServerUsage], start: float, stop: float) -> list[TenantUsage]:
    """The servers grouped by project, in the order each project first appears."""
    tenants: dict[str, TenantUsage] = {}
    for server in servers:
        tenant = tenants.setdefault(server.tenant_id, TenantUsage(server.tenant_id))
        tenant.servers.append((server, server.hours(start, stop)))
    return list(tenants.values())
