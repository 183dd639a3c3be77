"""Servers: list (with Nova's filters, sorting and paging), show, update, delete.
Create lives in server_create.py, actions in server_actions.py."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.compute import models as m
from onestack.compute.handlers import server_create, server_view
from onestack.compute.handlers.common import (
    allowed,
    at_least,
    authorize,
    body,
    bus_context,
    context_of,
    next_link,
    page,
    state,
    target_of,
)
from onestack.compute.objects import hosts, instances, states
from onestack.compute.schemas import servers as schemas
from onestack.kernel.api.faults import BadRequest, Conflict
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

Instance = dict[str, Any]
log = logging.getLogger(__name__)

USER_FILTERS = {"name", "ip", "ip6", "status", "image", "flavor", "changes-since",
                "changes-before", "reservation_id", "tags", "tags-any", "not-tags",
                "not-tags-any", "all_tenants", "sort_key", "sort_dir", "limit", "marker",
                "deleted", "description"}
ADMIN_FILTERS = {"host", "node", "tenant_id", "project_id", "user_id", "availability_zone",
                 "key_name", "locked", "config_drive", "vm_state", "task_state",
                 "power_state", "uuid", "hostname", "launched_at", "terminated_at",
                 "launch_index", "access_ip_v4", "access_ip_v6", "created_at", "updated_at",
                 "progress", "display_name", "display_description", "root_device_name",
                 "pinned_availability_zone"}
# 2.83: what non-admins may filter on besides the user filters
MEMBER_EXTRA_83 = {"availability_zone", "config_drive", "key_name", "created_at",
                   "launched_at", "terminated_at", "power_state", "task_state", "vm_state",
                   "progress", "user_id", "updated_at", "locked"}
SORT_KEYS = {"created_at": "created_at", "display_name": "display_name",
             "updated_at": "updated_at", "uuid": "uuid", "vm_state": "vm_state",
             "task_state": "task_state", "power_state": "power_state",
             "launched_at": "launched_at", "terminated_at": "terminated_at",
             "host": "host", "node": "node", "availability_zone": "availability_zone",
             "key_name": "key_name", "project_id": "project_id", "user_id": "user_id",
             "hostname": "hostname", "launch_index": "launch_index", "locked": "locked_by",
             "config_drive": "config_drive", "display_description": "description",
             "progress": "progress", "image_ref": "image_ref", "instance_type_id": "flavor"}


async def owned(req: Request, uuid: str, rule: str | None = None,
                deleted: bool = False) -> Instance:
    """The server, if the caller may see it (404 otherwise, as Nova), authorized."""
    compute = state(req)
    async with compute.db.reader() as conn:
        instance = await instances.get(conn, uuid, deleted=deleted)
    ctx = context_of(req)
    if instance["project_id"] != ctx.project_id and not ctx.is_admin:
        raise instances.not_found(uuid)
    if rule is not None:
        authorize(req, rule, target_of(req, instance["project_id"], instance["user_id"]))
    return instance


def check_locked(req: Request, instance: Instance) -> None:
    """A locked server takes no action but an admin's, whoever locked it (the owner
    may only unlock what the owner locked)."""
    if instance["locked_by"] is not None and not context_of(req).is_admin:
        raise Conflict(f"Instance {instance['uuid']} is locked")


async def refresh_addresses(req: Request, rows: list[Instance]) -> None:
    """Ports and floating IPs as the network service sees them now (a floating IP
    associated through Neutron shows at once), keeping cached network names."""
    wanted = [r for r in rows if r["network_info"]]
    if not wanted:
        return
    found = await state(req).network.server_addresses(bus_context(req),
                                                      [r["uuid"] for r in wanted])
    for row in wanted:
        names = {v["network_id"]: v.get("network_name") for v in row["network_info"]}
        ports = found.get(row["uuid"])
        if ports is not None:
            row["network_info"] = [{**p, "network_name": names.get(p["network_id"])
                                    or p.get("network_name") or p["network_id"]}
                                   for p in ports]


async def host_status(req: Request, rows: list[Instance]) -> None:
    if not (at_least(req, 16) and allowed(req, "os_compute_api:servers:show:host_status")):
        return
    compute = state(req)
    wanted = {r["host"] for r in rows if r["host"]}
    if not wanted:
        return
    async with compute.db.reader() as conn:
        services = {r.host: dict(r._mapping) for r in (await conn.execute(
            sa.select(m.compute_service).where(m.compute_service.c.binary == "nova-compute",
                                               m.compute_service.c.host.in_(wanted)))).all()}
    for row in rows:
        service = services.get(row["host"])
        if service is None:
            row["_host_status"] = "UNKNOWN"
        elif service["forced_down"]:
            row["_host_status"] = "DOWN"
        elif not hosts.is_up(service, compute.settings.service_down_time):
            row["_host_status"] = "UNKNOWN"
        elif service["disabled"]:
            row["_host_status"] = "MAINTENANCE"
        else:
            row["_host_status"] = "UP"


async def groups_of(req: Request, uuids: list[str]) -> dict[str, list[str]]:
    async with state(req).db.reader() as conn:
        rows = (await conn.execute(sa.select(m.server_group_member).where(
            m.server_group_member.c.instance_uuid.in_(uuids)))).all()
    result: dict[str, list[str]] = {u: [] for u in uuids}
    for row in rows:
        result[row.instance_uuid].append(row.group_uuid)
    return result


# -- list --------------------------------------------------------------------------
def _search_options(req: Request) -> dict[str, list[str]]:
    admin = allowed(req, "os_compute_api:servers:allow_all_filters")
    options: dict[str, list[str]] = {}
    for key, value in req.query_items:
        options.setdefault(key, []).append(value)
    permitted = USER_FILTERS | (ADMIN_FILTERS if admin else set())
    if at_least(req, 83):
        permitted |= MEMBER_EXTRA_83
    if at_least(req, 75):
        unknown = set(options) - USER_FILTERS - ADMIN_FILTERS
        if unknown:
            raise BadRequest(f"Invalid input for query parameters {sorted(unknown)[0]}. "
                             f"Additional properties are not allowed.")
    return {k: v for k, v in options.items() if k in permitted}


def _ips(instance: Instance, version: int) -> list[str]:
    found = []
    for entries in server_view.addresses(instance["network_info"] or []).values():
        found.extend(e["addr"] for e in entries if e["version"] == version)
    return found


def _timestamp(value: str, name: str) -> float:
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {value}. "
                         f"'{value}' is not a 'date-time'") from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")


def _all_tenants(value: str) -> bool:
    """An empty ``all_tenants`` asks for all; anything else is a strict boolean."""
    lowered = value.strip().lower()
    if not value or lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    acceptable = ", ".join(f"'{v}'" for v in sorted(TRUE_STRINGS + FALSE_STRINGS))
    raise BadRequest(f"Unrecognized value '{value}', acceptable values are: {acceptable}")


def _truthy(value: str) -> bool:
    return value.lower() in ("true", "1", "yes")


def _regex(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text


def _tag_set(values: list[str]) -> set[str]:
    return set(",".join(values).split(","))


def _changed(row: Instance) -> float:
    return float(row["updated_at"] or row["created_at"])


def _status_matches(row: Instance, values: list[str]) -> bool:
    for value in values:
        wanted = states.states_for_status(value)
        if wanted and row["vm_state"] in wanted[0] and (
                wanted[1] is None or row["task_state"] in wanted[1]):
            return True
    return False


# filter name -> does the row match the filter's values (the last one given counts,
# except where Nova takes several)
MATCHERS: dict[str, Any] = {
    "name": lambda r, v: _regex(v[-1], r["display_name"]),
    "display_name": lambda r, v: _regex(v[-1], r["display_name"]),
    "status": _status_matches,
    "image": lambda r, v: r["image_ref"] == v[-1].rsplit("/", 1)[-1],
    "flavor": lambda r, v: r["flavor"]["id"] == v[-1].rsplit("/", 1)[-1],
    "ip": lambda r, v: any(_regex(v[-1], ip) for ip in _ips(r, 4)),
    "ip6": lambda r, v: any(_regex(v[-1], ip) for ip in _ips(r, 6)),
    "reservation_id": lambda r, v: r["reservation_id"] == v[-1],
    "tags": lambda r, v: _tag_set(v) <= set(r["tags"]),
    "tags-any": lambda r, v: bool(_tag_set(v) & set(r["tags"])),
    "not-tags": lambda r, v: not _tag_set(v) <= set(r["tags"]),
    "not-tags-any": lambda r, v: not _tag_set(v) & set(r["tags"]),
    "changes-since": lambda r, v: _changed(r) >= _timestamp(v[-1], "changes-since"),
    "changes-before": lambda r, v: _changed(r) <= _timestamp(v[-1], "changes-before"),
    "power_state": lambda r, v: str(r["power_state"]) == v[-1],
    "locked": lambda r, v: (r["locked_by"] is not None) == _truthy(v[-1]),
    "config_drive": lambda r, v: bool(r["config_drive"]) == _truthy(v[-1]),
    **{key: (lambda r, v, k=key: str(r[k]) == v[-1])
       for key in ("host", "node", "user_id", "availability_zone", "key_name", "vm_state",
                   "task_state", "uuid", "hostname")},
}


def _matches(row: Instance, options: dict[str, list[str]]) -> bool:
    return all(MATCHERS[key](row, values) for key, values in options.items()
               if key in MATCHERS)


async def _listing(req: Request, rule: str) -> list[Instance]:
    ctx = context_of(req)
    authorize(req, rule)
    options = _search_options(req)
    all_tenants = "all_tenants" in options and _all_tenants(options.pop("all_tenants")[-1])
    if all_tenants:
        authorize(req, f"{rule}:get_all_tenants")
    if "status" in options and at_least(req, 38):
        for value in options["status"]:
            if states.states_for_status(value) is None:
                raise BadRequest(f"Invalid status value: {value}")
    where: list[Any] = []
    project = (options.pop("project_id", None) or options.pop("tenant_id", None) or [None])[-1]
    # Nova ignores a project filter unless all_tenants is given (lp:#1185290)
    if project is not None and all_tenants:
        where.append(m.instance.c.project_id == project)
    if not all_tenants:
        where.append(m.instance.c.project_id == ctx.project_id)
    deleted: bool | None = False
    if "deleted" in options:
        flag = options.pop("deleted")[-1].lower() in ("true", "1", "yes")
        if ctx.is_admin:
            deleted = flag
    changes_since = "changes-since" in options or "changes-before" in options
    if changes_since and deleted is False and ctx.is_admin:
        deleted = None  # Nova lists deleted servers changed since then too
    async with state(req).db.reader() as conn:
        rows = await instances.select(conn, *where, deleted=deleted)
    rows = [r for r in rows if _matches(r, options)]
    keys = options.get("sort_key") or ["created_at"]
    dirs = options.get("sort_dir") or []
    for key in keys:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid input for query parameters sort_key. Value: {key}.")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid input for query parameters sort_dir. Value: "
                             f"{direction}.")
    pairs = [(k, dirs[i] if i < len(dirs) else (dirs[-1] if dirs else "desc"))
             for i, k in enumerate(keys)]
    if not any(k == "uuid" for k, _ in pairs):
        pairs.append(("uuid", pairs[0][1] if pairs else "desc"))
    for key, direction in reversed(pairs):
        column = SORT_KEYS[key]
        rows.sort(key=lambda r, c=column: _sortable(r.get(c)), reverse=direction == "desc")
    return rows


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, dict):
        return (1, str(value.get("id")))
    return (1, value)


async def list_servers(req: Request) -> Response:
    rows = await _listing(req, "os_compute_api:servers:index")
    chosen, more = page(req, rows, "uuid")
    result: dict[str, Any] = {"servers": [server_view.summary(req, r) for r in chosen]}
    if more and chosen:
        result["servers_links"] = next_link(req, "servers", chosen[-1]["uuid"])
    return json_response(result)


async def list_details(req: Request) -> Response:
    rows = await _listing(req, "os_compute_api:servers:detail")
    chosen, more = page(req, rows, "uuid")
    await refresh_addresses(req, [r for r in chosen if r["deleted_at"] is None])
    await host_status(req, chosen)
    # server_groups (2.71) is shown by show, update and rebuild, not in lists
    result: dict[str, Any] = {"servers": [server_view.detail(req, r) for r in chosen]}
    if more and chosen:
        result["servers_links"] = next_link(req, "servers/detail", chosen[-1]["uuid"])
    return json_response(result)


async def show(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"], "os_compute_api:servers:show")
    await refresh_addresses(req, [instance])
    await host_status(req, [instance])
    groups = await groups_of(req, [instance["uuid"]]) if at_least(req, 71) else {}
    return json_response({"server": server_view.detail(req, instance,
                                                       groups=groups.get(instance["uuid"]))})


async def update(req: Request) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = await body(req, schemas.update(minor))
    instance = await owned(req, req.params["server_id"], "os_compute_api:servers:update")
    changes: dict[str, Any] = {}
    fields = data["server"]
    for source, column in (("name", "display_name"), ("description", "description"),
                           ("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6"),
                           ("hostname", "hostname")):
        if source in fields:
            changes[column] = fields[source]
    if "OS-DCF:diskConfig" in fields:
        changes["request"] = {**instance["request"], "disk_config": fields["OS-DCF:diskConfig"]}
    if changes:
        async with state(req).db.writer() as conn:
            current = await instances.get(conn, instance["uuid"])
            updated = await instances.update(conn, current, changes)
            if updated is None:
                raise Conflict("The server changed while it was being updated; retry.")
            instance = updated
    return json_response({"server": await after_change(req, instance, "update")})


async def after_change(req: Request, instance: Instance, mode: str) -> dict[str, Any]:
    """The server body update and rebuild answer with."""
    await refresh_addresses(req, [instance])
    if at_least(req, 75):
        await host_status(req, [instance])
    groups = await groups_of(req, [instance["uuid"]]) if at_least(req, 71) else {}
    return server_view.detail(req, instance, groups=groups.get(instance["uuid"]), mode=mode)


async def delete(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"], "os_compute_api:servers:delete")
    check_locked(req, instance)
    await delete_instance(req, instance)
    return empty_response(204)


async def delete_instance(req: Request, instance: Instance) -> None:
    """Delete on the host when it is up; locally (ports, allocations, row) when the
    server never reached a host or its host is down."""
    compute = state(req)
    ctx = bus_context(req)
    if instance["task_state"] == states.DELETING and instance["host"]:
        return
    await forget_shelved_snapshot(req, instance)
    async with compute.db.writer() as conn:
        await instances.record_action(conn, instance, "delete", ctx)
        host_up = False
        if instance["host"]:
            service = (await conn.execute(sa.select(m.compute_service).where(
                m.compute_service.c.host == instance["host"],
                m.compute_service.c.binary == "nova-compute"))).first()
            host_up = service is not None and hosts.is_up(dict(service._mapping),
                                                          compute.settings.service_down_time)
        if host_up:
            current = await instances.get(conn, instance["uuid"])
            updated = await instances.update(conn, current, {"task_state": states.DELETING},
                                             expected_task_state=[current["task_state"]])
            if updated is None:
                raise Conflict(f"Cannot delete instance {instance['uuid']}: it changed; retry.")
    if host_up:
        await compute.agents.cast(instance["host"], "terminate_instance", ctx,
                                  instance=updated)
        return
    await _local_delete(req, instance)


async def forget_shelved_snapshot(req: Request, instance: Instance) -> None:
    """A shelved server's snapshot goes with it, as in Nova (a missing one is fine)."""
    snapshot = (instance["system_metadata"] or {}).get("shelved_image_id")
    if snapshot and instance["vm_state"] in (states.SHELVED, states.SHELVED_OFFLOADED):
        try:
            await state(req).image.delete_image(bus_context(req), snapshot)
        except Exception:
            log.warning("could not delete snapshot %s of shelved server %s", snapshot,
                        instance["uuid"])


async def _local_delete(req: Request, instance: Instance) -> None:
    compute = state(req)
    ctx = bus_context(req)
    for port in await compute.network.list_ports(ctx, device_id=instance["uuid"]):
        preexisting = any(v["id"] == port["id"] and v.get("preexisting")
                          for v in instance["network_info"] or [])
        if preexisting:
            await compute.network.unbind_port(ctx, port["id"])
        else:
            await compute.network.delete_port(ctx, port["id"])
    await compute.placement.delete_allocations(ctx, instance["uuid"])
    async with compute.db.writer() as conn:
        await instances.soft_delete(conn, instance["uuid"])
        await conn.execute(m.instance_action.update().where(
            m.instance_action.c.instance_uuid == instance["uuid"],
            m.instance_action.c.finish_time.is_(None)).values(finish_time=time.time()))


ROUTES: RouteTable = {
    "/servers": {"GET": list_servers, "POST": server_create.create},
    "/servers/detail": {"GET": list_details},
    "/servers/{server_id}": {"GET": show, "PUT": update, "DELETE": delete},
}
