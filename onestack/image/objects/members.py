"""Image members: the projects a shared image is offered to, and their answers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.image.models import member
from onestack.image.objects.images import now
from onestack.kernel.api.faults import Conflict, NotFound


async def list_for(conn: AsyncConnection, image_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(member).where(member.c.image_id == image_id)
                              .order_by(member.c.created_at))
    return [dict(r._mapping) for r in rows]


async def get(conn: AsyncConnection, image_id: str, member_id: str) -> dict[str, Any]:
    row = (await conn.execute(sa.select(member).where(
        member.c.image_id == image_id, member.c.member_id == member_id))).first()
    if row is None:
        raise NotFound(f"Member {member_id} not found for image {image_id}.")
    return dict(row._mapping)


async def add(conn: AsyncConnection, image_id: str, member_id: str) -> dict[str, Any]:
    exists = (await conn.execute(sa.select(member.c.status).where(
        member.c.image_id == image_id, member.c.member_id == member_id))).first()
    if exists is not None:
        raise Conflict(f"Member {member_id} already exists for image {image_id}.")
    moment = now()
    row = {"image_id": image_id, "member_id": member_id, "status": "pending",
           "created_at": moment, "updated_at": moment}
    await conn.execute(sa.insert(member).values(**row))
    return row


async def set_status(conn: AsyncConnection, image_id: str, member_id: str, status: str
                     ) -> dict[str, Any]:
    await get(conn, image_id, member_id)
    await conn.execute(sa.update(member).where(
        member.c.image_id == image_id, member.c.member_id == member_id)
        .values(status=status, updated_at=now()))
    return await get(conn, image_id, member_id)


async def remove(conn: AsyncConnection, image_id: str, member_id: str) -> None:
    await get(conn, image_id, member_id)
    await conn.execute(sa.delete(member).where(
        member.c.image_id == image_id, member.c.member_id == member_id))
