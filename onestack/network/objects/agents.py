"""Agents: what the backend runs, one row per agent type and host, kept by its
heartbeats. An agent is alive while its heartbeats keep coming (within
AGENT_DOWN_TIME); an operator may disable it (admin_state_up), describe it, or
delete its row (a running agent registers again at its next heartbeat)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.api.faults import NotFound
from onestack.kernel.db import is_duplicate
from onestack.network.models import agent
from onestack.network.objects.common import Row, bad_request, new_id

if TYPE_CHECKING:
    from onestack.network.service import Networking

# Neutron's defaults: agents report every 30 s and count as down after 75 s of silence.
REPORT_INTERVAL = 30.0
AGENT_DOWN_TIME = 75.0
UPDATABLE = ("admin_state_up", "description")
READ_ONLY = ("id", "agent_type", "binary", "topic", "host", "availability_zone",
             "configurations", "created_at", "started_at", "heartbeat_timestamp", "alive",
             "resources_synced")


def not_found(agent_id: str) -> NotFound:
    return NotFound(f"Agent {agent_id} could not be found.", type="AgentNotFound")


async def report(net: Networking) -> None:
    """One heartbeat of every agent the backend runs (registering new ones)."""
    now = time.time()
    async with net.db.writer() as conn:
        for found in net.backend.agents():
            values = {"binary": found.binary, "topic": found.topic,
                      "availability_zone": found.availability_zone,
                      "configurations": found.configurations, "started_at": net.started_at,
                      "heartbeat_timestamp": now}
            key = (agent.c.agent_type == found.agent_type, agent.c.host == found.host)
            updated = await conn.execute(sa.update(agent).where(*key).values(**values))
            if updated.rowcount:
                continue
            try:
                async with conn.begin_nested():
                    await conn.execute(sa.insert(agent).values(
                        id=new_id(), agent_type=found.agent_type, host=found.host,
                        admin_state_up=True, description=None, created_at=now, **values))
            except sa.exc.IntegrityError as exc:  # another process registered it first
                if not is_duplicate(exc):
                    raise
                await conn.execute(sa.update(agent).where(*key).values(**values))


async def list_all(conn: AsyncConnection) -> list[Row]:
    query = sa.select(agent).order_by(agent.c.host, agent.c.agent_type)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def get(conn: AsyncConnection, agent_id: str) -> Row:
    found = (await conn.execute(sa.select(agent).where(agent.c.id == agent_id))).first()
    if found is None:
        raise not_found(agent_id)
    return dict(found._mapping)


async def update(conn: AsyncConnection, current: Row, body: Row) -> Row:
    for key in body:
        if key in READ_ONLY:
            raise bad_request(f"Cannot update read-only attribute {key}")
        if key not in UPDATABLE:
            raise bad_request(f"Unrecognized attribute(s) '{key}'", "HTTPBadRequest")
    changes: dict[str, Any] = {}
    if "admin_state_up" in body:
        changes["admin_state_up"] = _boolean(body["admin_state_up"])
    if "description" in body:
        description = body["description"]
        if description is not None and (not isinstance(description, str)
                                        or len(description) > 255):
            raise bad_request(f"'{description}' is not a valid string of at most 255 "
                              "characters")
        changes["description"] = description
    if changes:
        await conn.execute(sa.update(agent).where(agent.c.id == current["id"])
                           .values(**changes))
    return {**current, **changes}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise bad_request(f"'{value}' cannot be converted to boolean")


async def delete(conn: AsyncConnection, agent_id: str) -> None:
    deleted = await conn.execute(sa.delete(agent).where(agent.c.id == agent_id))
    if not deleted.rowcount:
        raise not_found(agent_id)
