"""Revocation events: written to the database (so they survive restarts and reach
other processes) and added to the in-memory list every validator consults."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import revocation_event
from onestack.identity.objects.common import now
from onestack.kernel.auth import RevocationEvent

if TYPE_CHECKING:
    from onestack.identity.service import Identity

FIELDS = ("user_id", "project_id", "domain_id", "role_id", "trust_id", "audit_id",
          "audit_chain_id", "app_cred_id", "expires_at")


async def revoke(identity: Identity, conn: AsyncConnection, **match: Any) -> RevocationEvent:
    moment = now()
    event = RevocationEvent(revoked_at=moment, issued_before=moment, **match)
    await conn.execute(sa.insert(revocation_event).values(**asdict(event)))
    identity.revocations.add(event)
    return event


def _horizon(identity: Identity) -> float:
    settings = identity.settings
    return now() - settings.token_expiration - settings.allow_expired_window


def _event(row: Any) -> RevocationEvent:
    return RevocationEvent(**{k: v for k, v in row._mapping.items() if k != "id"})


async def load(identity: Identity) -> None:
    """At start: forget events past any token's lifetime, load the rest."""
    async with identity.db.writer() as conn:
        horizon = _horizon(identity)
        await conn.execute(sa.delete(revocation_event)
                           .where(revocation_event.c.revoked_at < horizon))
        rows = list(await conn.execute(sa.select(revocation_event)))
    identity.revocations.replace([_event(r) for r in rows])
    identity.revocation_cursor = max((r.id for r in rows), default=0)


async def refresh(identity: Identity) -> int:
    """Take in events other processes wrote since the last look; returns how many."""
    async with identity.db.reader() as conn:
        rows = list(await conn.execute(
            sa.select(revocation_event).where(revocation_event.c.id > identity.revocation_cursor)
            .order_by(revocation_event.c.id)))
    known = set(identity.revocations.events)
    added = 0
    for row in rows:
        event = _event(row)
        if event not in known:  # this process's own events are already in the list
            identity.revocations.add(event)
            added += 1
        identity.revocation_cursor = row.id
    return added


async def since(conn: AsyncConnection, moment: float) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(revocation_event)
                              .where(revocation_event.c.revoked_at >= moment)
                              .order_by(revocation_event.c.revoked_at))
    return [{k: v for k, v in r._mapping.items() if k != "id"} for r in rows]
