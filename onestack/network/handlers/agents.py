"""``/v2.0/agents``: the backend's agents, as their heartbeats recorded them. Only
those the get_agent rule allows see them (a project lists none, as upstream)."""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response
from onestack.network.handlers.common import allowed, authorize, body_of, listing, net_of, one
from onestack.network.objects import agents
from onestack.network.objects.common import Row

FIELDS = ("id", "agent_type", "binary", "topic", "host", "admin_state_up", "description",
          "availability_zone", "configurations")


def _stamp(moment: float) -> str:
    """Neutron's agent timestamps: UTC, to the second, without a zone."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))


def render_agent(row: Row, now: float) -> dict[str, Any]:
    out = {key: row[key] for key in FIELDS}
    out.update(created_at=_stamp(row["created_at"]), started_at=_stamp(row["started_at"]),
               heartbeat_timestamp=_stamp(row["heartbeat_timestamp"]),
               alive=now - row["heartbeat_timestamp"] <= agents.AGENT_DOWN_TIME,
               resources_synced=None)
    return out


def _target(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "host": row["host"], "agent_type": row["agent_type"]}


async def _visible(req: Request, conn: Any) -> Row:
    row = await agents.get(conn, req.params["agent_id"])
    if not allowed(req, "get_agent", _target(row)):
        raise agents.not_found(row["id"])
    return row


async def list_agents(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        rows = await agents.list_all(conn)
    now = time.time()
    return listing(req, "agents", [render_agent(r, now) for r in rows
                                   if allowed(req, "get_agent", _target(r))])


async def get_agent(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        row = await _visible(req, conn)
    return one(req, "agent", render_agent(row, time.time()))


async def update_agent(req: Request) -> Response:
    body = await body_of(req, "agent")
    async with net_of(req).db.writer() as conn:
        current = await _visible(req, conn)
        authorize(req, "update_agent", _target(current))
        row = await agents.update(conn, current, body)
    return one(req, "agent", render_agent(row, time.time()))


async def delete_agent(req: Request) -> Response:
    async with net_of(req).db.writer() as conn:
        current = await _visible(req, conn)
        authorize(req, "delete_agent", _target(current))
        await agents.delete(conn, current["id"])
    return empty_response()
