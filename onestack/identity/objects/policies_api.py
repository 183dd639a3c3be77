"""Policy documents stored for other services (``/v3/policies``): an opaque blob and
its MIME type. Identity does not interpret them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import policy
from onestack.identity.objects.common import new_id, not_found, split_extra
from onestack.kernel.api.faults import BadRequest

COLUMNS = {"id", "type", "blob"}


async def get(conn: AsyncConnection, policy_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(policy).where(policy.c.id == policy_id))).first()
    if found is None:
        raise not_found("policy", policy_id)
    return dict(found._mapping)


async def list_all(conn: AsyncConnection, type_: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(policy).order_by(policy.c.id)
    if type_ is not None:
        query = query.where(policy.c.type == type_)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def create(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, COLUMNS)
    # As Keystone, the server names the policy: a client's ``id`` is ignored.
    values = {"id": new_id(), "type": known["type"], "blob": known["blob"], "extra": extra}
    await conn.execute(sa.insert(policy).values(**values))
    return values


async def update(conn: AsyncConnection, current: dict[str, Any], body: dict[str, Any]
                 ) -> dict[str, Any]:
    known, extra = split_extra(body, COLUMNS)
    if "id" in known and known["id"] != current["id"]:
        raise BadRequest("Cannot change the id of a policy.")
    values: dict[str, Any] = {k: known[k] for k in ("type", "blob") if k in known}
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        await conn.execute(sa.update(policy).where(policy.c.id == current["id"])
                           .values(**values))
    return await get(conn, current["id"])


async def delete(conn: AsyncConnection, policy_id: str) -> None:
    await get(conn, policy_id)
    await conn.execute(sa.delete(policy).where(policy.c.id == policy_id))
