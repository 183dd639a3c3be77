"""``/os-migrations``: every server move (cold migration, resize, live migration,
evacuation) with Nova's filters. 2.23 adds the type and links to live migrations in
progress; 2.59 uuids, paging (newest first) and changes-since; 2.66 changes-before;
2.80 the owner (user_id, project_id), also as filters."""

from __future__ import annotations

import datetime
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    allowed,
    at_least,
    authorize,
    context_of,
    isotime_micro,
    limit_of,
    links,
    state,
)
from onestack.compute.handlers.hypervisors import next_page_links
from onestack.compute.handlers.services import reject_unknown
from onestack.compute.objects import migration_list
from onestack.compute.objects.migration_list import Filters, Migration
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-migrations:%s"
MAX_LIMIT = 1000
LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")
_HOST_FIELDS = ("source_compute", "dest_compute", "source_node", "dest_node", "dest_host")
_FILTERS = {"hidden", "host", "instance_uuid", "source_compute", "status", "migration_type"}


def _allowed_query(req: Request) -> set[str]:
    names = _FILTERS | {"limit", "marker", "changes-since"}
    if at_least(req, 66):
        names.add("changes-before")
    if at_least(req, 80):
        names |= {"user_id", "project_id"}
    return names


def _time_query(req: Request, name: str) -> float | None:
    raw = req.query(name)
    if raw is None:
        return None
    try:
        if len(raw) <= 10:  # a date alone is not a date-time
            raise ValueError(raw)
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {raw}. "
                         f"'{raw}' is not a 'date-time'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _filters(req: Request) -> Filters:
    filters = Filters(status=req.query("status"), host=req.query("host"),
                      source_compute=req.query("source_compute"),
                      instance_uuid=req.query("instance_uuid"),
                      migration_type=req.query("migration_type"),
                      user_id=req.query("user_id"), project_id=req.query("project_id"))
    if at_least(req, 59):
        filters.changes_since = _time_query(req, "changes-since")
    if at_least(req, 66):
        filters.changes_before = _time_query(req, "changes-before")
        if (filters.changes_since is not None and filters.changes_before is not None
                and filters.changes_before < filters.changes_since):
            raise BadRequest("The value of changes-since must be less than or equal to "
                             "changes-before.")
    return filters


def render(req: Request, row: Migration, flavors: dict[str, int],
           show_hosts: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"], "instance_uuid": row["instance_uuid"], "status": row["status"],
        **{key: row[key] if show_hosts else None for key in _HOST_FIELDS},
        "old_instance_type_id": flavors.get(row["old_flavor_id"] or ""),
        "new_instance_type_id": flavors.get(row["new_flavor_id"] or ""),
        "created_at": isotime_micro(row["created_at"]),
        "updated_at": isotime_micro(row["updated_at"])}
    if at_least(req, 23):
        out["migration_type"] = row["migration_type"]
        if (row["migration_type"] == "live-migration"
                and row["status"] in LIVE_IN_PROGRESS):
            out["links"] = links(req, f"servers/{row['instance_uuid']}/migrations",
                                 row["id"])
    if at_least(req, 59):
        out["uuid"] = row["uuid"]
    if at_least(req, 80):
        out["user_id"], out["project_id"] = row["user_id"], row["project_id"]
    return out


def _page(req: Request, rows: list[Migration]) -> tuple[list[Migration], int]:
    start = 0
    marker = req.query("marker")
    if marker is not None:
        for index, row in enumerate(rows):
            if row["uuid"] == marker:
                start = index + 1
                break
        else:
            raise BadRequest(f"Marker {marker} could not be found.")
    limit = limit_of(req)
    limit = MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)
    return rows[start:start + limit], limit


async def list_migrations(req: Request) -> Response:
    paged = at_least(req, 59)
    if paged:
        reject_unknown(req, _allowed_query(req))
        limit_of(req)
    authorize(req, RULE % "index")
    project_id = req.query("project_id")
    if not project_id or project_id != context_of(req).project_id:
        authorize(req, RULE % "index:all_projects")
    show_hosts = allowed(req, RULE % "index:host")
    filters = _filters(req)
    limit = 0
    async with state(req).db.reader() as conn:
        rows = await migration_list.select(conn, filters, newest_first=paged)
        if paged:
            rows, limit = _page(req, rows)
        refs = {r[key] for r in rows for key in ("old_flavor_id", "new_flavor_id") if r[key]}
        flavors = await migration_list.flavor_ids(conn, refs)
    found = [render(req, r, flavors, show_hosts) for r in rows]
    reply: dict[str, Any] = {"migrations": found}
    page_links = next_page_links(req, "os-migrations", found, limit, "uuid") if paged else []
    if page_links:
        reply["migrations_links"] = page_links
    return json_response(reply)


ROUTES: RouteTable = {
    "/os-migrations": {"GET": list_migrations},
}
