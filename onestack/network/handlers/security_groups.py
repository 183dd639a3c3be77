"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.network.handlers.common import (
    authorize,
    body_of,
    caller_of,
    changeable,
    creatable,
    listing,
    net_of,
    one,
    project_target,
    shown,
    standard,
)
from onestack.network.objects import common, security_groups
from onestack.network.objects.common import Row, not_found
from onestack.network.objects.policy import Caller

RULE_ATTRS = ("security_group_id", "direction", "ethertype", "protocol", "port_range_min",
              "port_range_max", "remote_ip_prefix", "remote_group_id",
              "remote_address_group_id", "normalized_cidr")


def render_rule(row: Row, default_ids: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    out = standard(row, named=False)
    for key in RULE_ATTRS:
        out[key] = row.get(key)
    out["belongs_to_default_sg"] = row["security_group_id"] in default_ids
    return out


def render_group(row: Row, rules: list[Row], default_ids: set[str]) -> dict[str, Any]:
    out = standard(row)
    out["stateful"] = row.get("stateful", True)
    out["shared"] = False
    out["security_group_rules"] = [render_rule(r, default_ids) for r in rules]
    return out


async def _ensure_default(req: Request, caller: Caller) -> None:
    """The caller's project gets its default group on first use."""
    if not caller.project_id:
        return
    net = net_of(req)
    async with net.db.reader() as conn:
        found = await security_groups.default_group_id(conn, caller.project_id)
    if not found:
        async with net.db.writer() as conn:
            await security_groups.ensure_default(net, conn, caller.project_id)


async def _default_ids(conn: Any) -> set[str]:
    from onestack.network.models import default_security_group as table

    return {r[0] for r in await conn.execute(table.select().with_only_columns(
        table.c.security_group_id))}


async def _visible_group(conn: Any, caller: Caller, group_id: str) -> Row:
    row = await common.get(conn, "security_group", group_id)
    if not caller.sees("security_group", row):
        raise not_found("security_group", group_id)
    return row


async def list_groups(req: Request) -> Response:
    caller = caller_of(req)
    await _ensure_default(req, caller)
    async with net_of(req).db.reader() as conn:
        rows = [r for r in sorted(await common.find(conn, "security_group"),
                                  key=lambda r: r["created_at"])
                if caller.sees("security_group", r)]
        rules = await security_groups.rules_of(conn, [r["id"] for r in rows])
        defaults = await _default_ids(conn)
    by_group: dict[str, list[Row]] = {}
    for rule in rules:
        by_group.setdefault(rule["security_group_id"], []).append(rule)
    return listing(req, "security_groups", [render_group(r, by_group.get(r["id"], []),
                                                         defaults) for r in rows])


async def get_group(req: Request) -> Response:
    caller = caller_of(req)
    await _ensure_default(req, caller)
    async with net_of(req).db.reader() as conn:
        row = await _visible_group(conn, caller, req.params["security_group_id"])
        rules = await security_groups.rules_of(conn, [row["id"]])
        defaults = await _default_ids(conn)
    return one(req, "security_group", render_group(row, rules, defaults))


async def create_group(req: Request) -> Response:
    body = await body_of(req, "security_group")
    project = creatable(req, "security_group", body)
    net = net_of(req)
    async with net.db.writer() as conn:
        row = await security_groups.create_group(net, conn, project, body)
        rules = await security_groups.rules_of(conn, [row["id"]])
    return one(req, "security_group", render_group(row, rules, set()), 201)


async def update_group(req: Request) -> Response:
    body = await body_of(req, "security_group")
    caller = caller_of(req)
    async with net_of(req).db.writer() as conn:
        current = await _visible_group(conn, caller, req.params["security_group_id"])
        changeable(req, caller, "security_group", current, body)
        row = await security_groups.update_group(conn, current, body)
        rules = await security_groups.rules_of(conn, [row["id"]])
        defaults = await _default_ids(conn)
    return one(req, "security_group", render_group(row, rules, defaults))


async def delete_group(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible_group(conn, caller, req.params["security_group_id"])
        changeable(req, caller, "security_group", current)
        await security_groups.delete_group(net, conn, current, caller.is_admin)
    return empty_response()


# -- rules -------------------------------------------------------------------------------
async def list_rules(req: Request) -> Response:
    caller = caller_of(req)
    await _ensure_default(req, caller)
    async with net_of(req).db.reader() as conn:
        groups = {g["id"]: g for g in await common.find(conn, "security_group")}
        rules = await common.find(conn, "security_group_rule")
        defaults = await _default_ids(conn)
    visible = [r for r in sorted(rules, key=lambda r: r["created_at"])
               if _sees_rule(caller, r, groups.get(r["security_group_id"]))]
    return listing(req, "security_group_rules", [render_rule(r, defaults) for r in visible])


def _sees_rule(caller: Caller, row: Row, group: Row | None) -> bool:
    return (caller.owns(row) or (group is not None and caller.owns(group))) \
        and caller.reads("security_group_rule", row["project_id"])


async def _visible_rule(conn: Any, caller: Caller, rule_id: str) -> Row:
    row = await common.get(conn, "security_group_rule", rule_id)
    group = await common.find(conn, "security_group", id=row["security_group_id"])
    if not _sees_rule(caller, row, group[0] if group else None):
        raise not_found("security_group_rule", rule_id)
    return row


async def get_rule(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        row = await _visible_rule(conn, caller_of(req), req.params["rule_id"])
        defaults = await _default_ids(conn)
    return one(req, "security_group_rule", render_rule(row, defaults))


async def create_rule(req: Request) -> Response:
    document = await req.json()
    bulk = isinstance(document, dict) and isinstance(document.get("security_group_rules"),
                                                     list)
    bodies = document["security_group_rules"] if bulk else [
        await body_of(req, "security_group_rule")]
    caller = caller_of(req)
    net = net_of(req)
    created = []
    async with net.db.writer() as conn:
        for body in bodies:
            creatable(req, "security_group_rule", dict(body))
            group_id = body.get("security_group_id")
            if not group_id:
                raise common.bad_request("security_group_id is required")
            group = await _visible_group(conn, caller, group_id)
            created.append(await security_groups.create_rule(net, conn, group, body))
        defaults = await _default_ids(conn)
    if bulk:
        return json_response({"security_group_rules": shown(
            req, "security_group_rule", [render_rule(r, defaults) for r in created])}, 201)
    return one(req, "security_group_rule", render_rule(created[0], defaults), 201)


async def delete_rule(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        row = await _visible_rule(conn, caller, req.params["rule_id"])
        authorize(req, "delete_security_group_rule", project_target(row["project_id"]))
        await security_groups.delete_rule(net, conn, row)
    return empty_response()
