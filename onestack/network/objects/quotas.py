"""Quotas per project: configured defaults, overridden per project by an admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.network.models import quota
from onestack.network.objects import common
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
    if await common.count(conn, resource, project_id) + adding > limit:
        raise conflict(f"Quota exceeded for resources: ['{resource}'].", "OverQuota")
