"""OS-OAUTH1 consumers: third parties that may ask users for delegated access. The
consumer secret signs OAuth requests (HMAC-SHA1), so it is stored encrypted with the
credential key repository and only shown once, when the consumer is created."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import consumer
from onestack.identity.objects.common import new_id, not_found
from onestack.kernel.tokens import KeyRepository


def _row(found: Any) -> dict[str, Any]:
    row = dict(found._mapping)
    row.pop("encrypted_secret", None)
    return row


async def get(conn: AsyncConnection, consumer_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(consumer).where(consumer.c.id == consumer_id))
             ).first()
    if found is None:
        raise not_found("consumer", consumer_id)
    return _row(found)


async def secret_of(conn: AsyncConnection, keys: KeyRepository, consumer_id: str
                    ) -> str | None:
    """The consumer's secret in clear, to check a signature; None if unknown."""
    found = (await conn.execute(sa.select(consumer.c.encrypted_secret).where(
        consumer.c.id == consumer_id))).first()
    if found is None:
        return None
    try:
        return keys.fernet().decrypt(found[0].encode()).decode()
    except InvalidToken:
        return None


async def list_all(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(consumer).order_by(consumer.c.id))
    return [_row(r) for r in rows]


async def create(conn: AsyncConnection, keys: KeyRepository, description: str | None,
                 extra: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A new consumer and its secret (shown to the creator, then never again)."""
    secret = secrets.token_urlsafe(24)
    values = {"id": new_id(), "description": description, "extra": extra}
    await conn.execute(sa.insert(consumer).values(
        **values, encrypted_secret=keys.fernet().encrypt(secret.encode()).decode()))
    return values, secret


async def update(conn: AsyncConnection, current: dict[str, Any], changes: dict[str, Any],
                 extra: dict[str, Any]) -> dict[str, Any]:
    values = {"description": changes.get("description", current["description"]),
              "extra": {**(current["extra"] or {}), **extra}}
    await conn.execute(sa.update(consumer).where(consumer.c.id == current["id"])
                       .values(**values))
    return {**current, **values}


async def delete(conn: AsyncConnection, consumer_id: str) -> None:
    result = await conn.execute(sa.delete(consumer).where(consumer.c.id == consumer_id))
    if not result.rowcount:
        raise not_found("consumer", consumer_id)
