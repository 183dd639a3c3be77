"""Server groups: a project's named placement policy (affinity, anti-affinity and their
soft forms) over its members, the servers booted into it. Members whose server has
been deleted no longer count."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.kernel.api.faults import NotFound

Group = dict[str, Any]
POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def not_found(uuid: str) -> NotFound:
    return NotFound(f"Instance group {uuid} could not be found.")


async def create(conn: AsyncConnection, project_id: str, user_id: str, name: str,
                 policy: str, rules: dict[str, Any]) -> Group:
    row = {"uuid": str(uuidlib.uuid4()), "name": name, "project_id": project_id,
           "user_id": user_id, "policy": policy, "rules": rules, "created_at": time.time(),
           "updated_at": None}
    await conn.execute(m.server_group.insert().values(**row))
    return {**row, "members": []}


async def members_of(conn: AsyncConnection, uuids: list[str]) -> dict[str, list[str]]:
    """The live members of each group. A member without a server row yet (still being
    recorded) counts."""
    found: dict[str, list[str]] = {uuid: [] for uuid in uuids}
    if not uuids:
        return found
    member, instance = m.server_group_member, m.instance
    rows = await conn.execute(
        sa.select(member.c.group_uuid, member.c.instance_uuid)
        .select_from(member.outerjoin(instance,
                                      instance.c.uuid == member.c.instance_uuid))
        .where(member.c.group_uuid.in_(uuids), instance.c.deleted_at.is_(None))
        .order_by(member.c.instance_uuid))
    for group_uuid, instance_uuid in rows:
        found[group_uuid].append(instance_uuid)
    return found


async def find(conn: AsyncConnection, uuid: str) -> Group | None:
    row = (await conn.execute(sa.select(m.server_group).where(
        m.server_group.c.uuid == uuid))).first()
    if row is None:
        return None
    group = dict(row._mapping)
    group["members"] = (await members_of(conn, [uuid]))[uuid]
    return group


async def get(conn: AsyncConnection, uuid: str) -> Group:
    group = await find(conn, uuid)
    if group is None:
        raise not_found(uuid)
    return group


async def listing(conn: AsyncConnection, project_id: str | None) -> list[Group]:
    """A project's groups (all projects' when ``project_id`` is None), oldest first."""
    table = m.server_group
    query = sa.select(table).order_by(table.c.created_at, table.c.uuid)
    if project_id is not None:
        query = query.where(table.c.project_id == project_id)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def delete(conn: AsyncConnection, uuid: str) -> None:
    await conn.execute(m.server_group_member.delete().where(
        m.server_group_member.c.group_uuid == uuid))
    result = await conn.execute(m.server_group.delete().where(m.server_group.c.uuid == uuid))
    if not result.rowcount:
        raise not_found(uuid)


async def group_of(conn: AsyncConnection, instance_uuid: str) -> Group | None:
    """The group a server belongs to, if any (for the scheduler and server views)."""
    uuid = await conn.scalar(sa.select(m.server_group_member.c.group_uuid).where(
        m.server_group_member.c.instance_uuid == instance_uuid))
    return None if uuid is None else await find(conn, uuid)
