"""``/servers/{id}/migrations``: a server's live migrations in progress (2.23), forcing
one to complete (2.22) and aborting one (2.24). On the fake driver a live migration
finishes at once, so these mostly answer what Nova answers for a migration that is
not (or no longer) in progress."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute import moves
from onestack.compute.handlers import server_actions as actions
from onestack.compute.handlers.common import (
    at_least,
    authorize,
    bus_context,
    isotime_micro,
    state,
    target_of,
)
from onestack.compute.handlers.servers import check_locked, owned
from onestack.compute.objects import instances, states
from onestack.kernel.api.faults import BadRequest, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable
from onestack.kernel.api.validation import validate

RULE = "os_compute_api:servers:migrations:%s"
FORCE_COMPLETE = {"type": "object", "properties": {"force_complete": {"type": "null"}},
                  "required": ["force_complete"], "additionalProperties": False}
_PROGRESS = ("disk_processed_bytes", "disk_remaining_bytes", "disk_total_bytes",
             "memory_processed_bytes", "memory_remaining_bytes", "memory_total_bytes")


def _since(req: Request, minor: int) -> None:
    if not at_least(req, minor):
        raise NotFound("The resource could not be found.")


def render(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "created_at": isotime_micro(row["created_at"]), "dest_compute": row["dest_compute"],
        "dest_host": row["dest_host"], "dest_node": row["dest_node"], "id": row["id"],
        "server_uuid": row["instance_uuid"], "source_compute": row["source_compute"],
        "source_node": row["source_node"], "status": row["status"],
        "updated_at": isotime_micro(row["updated_at"]),
        # the fake driver reports no progress; Nova's null when a driver does not
        **dict.fromkeys(_PROGRESS)}
    if at_least(req, 59):
        out["uuid"] = row["uuid"]
    if at_least(req, 80):
        out["user_id"], out["project_id"] = row["user_id"], row["project_id"]
    return out


def _ident(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


async def _migration(req: Request, uuid: str, raw: str) -> dict[str, Any] | None:
    ident = _ident(raw)
    if ident is None:
        return None
    async with state(req).db.reader() as conn:
        return await moves.find_migration(conn, uuid, ident=ident)


async def index(req: Request) -> Response:
    _since(req, 23)
    instance = await owned(req, req.params["server_id"])
    authorize(req, RULE % "index", target_of(req, instance["project_id"]))
    async with state(req).db.reader() as conn:
        rows = await moves.live_in_progress(conn, instance["uuid"])
    return json_response({"migrations": [render(req, r) for r in rows]})


async def show(req: Request) -> Response:
    _since(req, 23)
    instance = await owned(req, req.params["server_id"])
    authorize(req, RULE % "show", target_of(req, instance["project_id"]))
    raw, uuid = req.params["migration_id"], instance["uuid"]
    row = await _migration(req, uuid, raw)
    if row is None:
        raise NotFound(f"In-progress live migration {raw} is not found for server {uuid}.")
    if row["migration_type"] != "live-migration":
        raise NotFound(f"Migration {raw} for server {uuid} is not live-migration.")
    if row["status"] not in moves.LIVE_IN_PROGRESS:
        raise NotFound(f"Live migration {raw} for server {uuid} is not in progress.")
    return json_response({"migration": render(req, row)})


async def action(req: Request) -> Response:
    _since(req, 22)
    validate(FORCE_COMPLETE, await req.json())
    instance = await owned(req, req.params["server_id"])
    authorize(req, RULE % "force_complete", target_of(req, instance["project_id"]))
    check_locked(req, instance)
    actions.check_state(instance, "force_complete", {states.ACTIVE}, {states.MIGRATING})
    return await _act(req, instance, "force complete", ["running"],
                      "live_migration_force_complete")


async def abort(req: Request) -> Response:
    _since(req, 24)
    instance = await owned(req, req.params["server_id"])
    authorize(req, RULE % "delete", target_of(req, instance["project_id"]))
    check_locked(req, instance)
    actions.check_state(instance, "abort live migration", None, {states.MIGRATING})
    allowed = ["running", "queued", "preparing"] if at_least(req, 65) else ["running"]
    return await _act(req, instance, "abort live migration", allowed,
                      "live_migration_cancel")


async def _act(req: Request, instance: dict[str, Any], method: str, allowed: list[str],
               record: str) -> Response:
    raw, uuid = req.params["migration_id"], instance["uuid"]
    row = await _migration(req, uuid, raw)
    if row is None:
        missing = f"Migration {raw} not found for instance {uuid}"
        if record == "live_migration_cancel":
            raise NotFound(missing)
        raise BadRequest(missing)
    if row["status"] not in allowed:
        raise BadRequest(f"Migration {raw} state of instance {uuid} is {row['status']}. "
                         f"Cannot {method} while the migration is in this state.")
    async with state(req).db.writer() as conn:
        await instances.record_action(conn, instance, record, bus_context(req))
    await state(req).agents.cast(row["source_compute"], record, bus_context(req),
                                 instance=instance, migration=row)
    return empty_response(202)


ROUTES: RouteTable = {
    "/servers/{server_id}/migrations": {"GET": index},
    "/servers/{server_id}/migrations/{migration_id}": {"GET": show, "DELETE": abort},
    "/servers/{server_id}/migrations/{migration_id}/action": {"POST": action},
}
