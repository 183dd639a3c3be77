"""Groups of users within a domain."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import group, user_group
from onestack.identity.objects.common import new_id, not_found, split_extra
from onestack.kernel.api.faults import BadRequest, Conflict
from onestack.kernel.db import is_duplicate

GROUP_COLUMNS = {"id", "name", "domain_id", "description"}


async def get(conn: AsyncConnection, group_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(group).where(group.c.id == group_id))).first()
    if found is None:
        raise not_found("group", group_id)
    return dict(found._mapping)


async def list_all(conn: AsyncConnection, filters: dict[str, Any],
                   ids: set[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(group)
    for key, value in filters.items():
        if value is not None:
            query = query.where(group.c[key] == value)
    if ids is not None:
        query = query.where(group.c.id.in_(ids))
    return [dict(r._mapping) for r in await conn.execute(query.order_by(group.c.name))]


async def create(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, GROUP_COLUMNS)
    values = {"id": new_id(), "name": known["name"], "domain_id": known["domain_id"],
              "description": known.get("description") or "", "extra": extra}
    try:
        await conn.execute(sa.insert(group).values(**values))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise Conflict("Conflict occurred attempting to store group - Duplicate entry "
                           f"found with name {values['name']}.") from None
        raise
    return values


async def update(conn: AsyncConnection, current: dict[str, Any], body: dict[str, Any]
                 ) -> dict[str, Any]:
    known, extra = split_extra(body, GROUP_COLUMNS)
    for immutable in ("id", "domain_id"):
        if immutable in known and known[immutable] != current[immutable]:
            raise BadRequest(f"Cannot change the {immutable} of a group.")
    values = {k: known[k] for k in ("name", "description") if k in known}
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        try:
            await conn.execute(sa.update(group).where(group.c.id == current["id"])
                               .values(**values))
        except sa.exc.IntegrityError as exc:
            if is_duplicate(exc):
                raise Conflict("Conflict occurred attempting to update group - Duplicate "
                               f"entry found with name {values.get('name')}.") from None
            raise
    return await get(conn, current["id"])


async def delete(conn: AsyncConnection, group_id: str) -> None:
    await conn.execute(sa.delete(group).where(group.c.id == group_id))


async def member_ids(conn: AsyncConnection, group_id: str) -> set[str]:
    rows = await conn.execute(sa.select(user_group.c.user_id)
                              .where(user_group.c.group_id == group_id))
    return {r[0] for r in rows}


async def add_member(conn: AsyncConnection, group_id: str, user_id: str) -> None:
    if user_id not in await member_ids(conn, group_id):
        await conn.execute(sa.insert(user_group).values(group_id=group_id, user_id=user_id))


async def remove_member(conn: AsyncConnection, group_id: str, user_id: str) -> bool:
    result = await conn.execute(sa.delete(user_group).where(
        user_group.c.group_id == group_id, user_group.c.user_id == user_id))
    return result.rowcount > 0
