"""Quotas per project: configured defaults, overridden per project by an admin.

A check counts what the project has and the caller then creates, in one
transaction; with concurrent writers (PostgreSQL, MariaDB) the check first takes the
project's turn for the resource (locks.py), so the counts of concurrent creations
see each other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.db import MYSQL_BACKENDS
from onestack.network.models import TABLES, quota
from onestack.network.objects import common, locks
from onestack.network.objects.common import conflict

if TYPE_CHECKING:
    from onestack.network.service import Networking

RESOURCES = ("network", "subnet", "subnetpool", "port", "router", "floatingip",
             "security_group", "security_group_rule")


def defaults(net: Networking) -> dict[str, int]:
    return {name: int(getattr(net.settings, f"quota_{name}")) for name in RESOURCES}


async def limits(net: Networking, conn: AsyncConnection, project_id: str) -> dict[str, int]:
    found = defaults(net)
    rows = await conn.execute(sa.select(quota.c.resource, quota.c.limit)
                              .where(quota.c.project_id == project_id))
    for resource, limit in rows:
        found[resource] = limit
    return found


async def overridden_projects(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(sa.select(quota.c.project_id).distinct())
    return sorted(r[0] for r in rows)


async def set_limits(conn: AsyncConnection, project_id: str, values: dict[str, int]) -> None:
    for resource, limit in values.items():
        await conn.execute(sa.delete(quota).where(quota.c.project_id == project_id,
                                                  quota.c.resource == resource))
        await conn.execute(sa.insert(quota).values(project_id=project_id, resource=resource,
                                                   limit=limit))


async def reset(conn: AsyncConnection, project_id: str) -> None:
    await conn.execute(sa.delete(quota).where(quota.c.project_id == project_id))


async def usage(conn: AsyncConnection, project_id: str) -> dict[str, int]:
    return {name: await common.count(conn, name, project_id) for name in RESOURCES}


async def check(net: Networking, conn: AsyncConnection, project_id: str, resource: str,
                adding: int = 1) -> None:
    if not project_id:
        return
    limit = (await limits(net, conn, project_id))[resource]
    if limit < 0:
        return
    await locks.take_turn(conn, project_id, resource)
    if await _latest_count(conn, resource, project_id) + adding > limit:
        raise conflict(f"Quota exceeded for resources: ['{resource}'].", "OverQuota")


async def _latest_count(conn: AsyncConnection, resource: str, project_id: str) -> int:
    """The count as committed now: MariaDB's repeatable reads would otherwise count
    from a snapshot older than the lock (a locking read reads the latest rows);
    PostgreSQL reads committed rows at every statement."""
    table = TABLES[resource]
    query = sa.select(sa.func.count()).select_from(table).where(
        table.c.project_id == project_id)
    if conn.dialect.name in MYSQL_BACKENDS:
        query = query.with_for_update(read=True)
    return int(await conn.scalar(query) or 0)
