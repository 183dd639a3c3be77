"""``/os-server-groups``: a project's server groups (every project's for admins with
``all_projects``); ``policies`` before 2.64, ``policy`` and ``rules`` from it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import at_least, authorize, body, context_of, state
from onestack.compute.handlers.params import offset_page, strict_query, to_int
from onestack.compute.objects import quotas, server_groups
from onestack.compute.objects.server_groups import Group
from onestack.compute.schemas import server_groups as schemas
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-server-groups:"


def render(req: Request, group: Group, members: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": group["uuid"], "name": group["name"]}
    if at_least(req, 64):
        out["policy"] = group["policy"]
        out["rules"] = group["rules"] or {}
    else:
        out["policies"] = [group["policy"]]
        out["metadata"] = {}
    out["members"] = members
    if at_least(req, 13):
        out["project_id"] = group["project_id"]
        out["user_id"] = group["user_id"]
    return out


async def list_groups(req: Request) -> Response:
    strict_query(req, ["all_projects", "limit", "offset"])
    ctx = context_of(req)
    authorize(req, RULE + "index", {"project_id": ctx.project_id})
    project_id: str | None = ctx.project_id or ""
    if req.has_query("all_projects") and ctx.is_admin:
        authorize(req, RULE + "index:all_projects", {"project_id": ctx.project_id})
        project_id = None
    async with state(req).db.reader() as conn:
        groups = offset_page(req, await server_groups.listing(conn, project_id))
        members = await server_groups.members_of(conn, [g["uuid"] for g in groups])
    return json_response({"server_groups": [render(req, g, members[g["uuid"]])
                                            for g in groups]})


async def show(req: Request) -> Response:
    async with state(req).db.reader() as conn:
        group = await server_groups.get(conn, req.params["group_id"])
    authorize(req, RULE + "show", {"project_id": group["project_id"]})
    return json_response({"server_group": render(req, group, group["members"])})


async def create(req: Request) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = (await body(req, schemas.create(minor)))["server_group"]
    ctx = context_of(req)
    project_id = ctx.project_id or ""
    authorize(req, RULE + "create", {"project_id": project_id})
    compute = state(req)
    async with compute.db.reader() as conn:
        await quotas.check(conn, compute.settings, project_id, ctx.user_id,
                           {"server_groups": 1})
    if minor >= 64:
        policy, rules = data["policy"], dict(data.get("rules") or {})
        if rules and policy != "anti-affinity":
            raise BadRequest("Only anti-affinity policy supports rules.")
        if "max_server_per_host" in rules:
            rules["max_server_per_host"] = to_int(rules["max_server_per_host"],
                                                  "max_server_per_host", 1)
    else:
        policy, rules = data["policies"][0], {}
    async with compute.db.writer() as conn:
        group = await server_groups.create(conn, project_id, ctx.user_id, data["name"],
                                           policy, rules)
    # concurrent creations each passed the check before the others committed: as Nova,
    # count again now that they have, and take this one back if over
    over = None
    async with compute.db.writer() as conn:
        try:
            await quotas.check(conn, compute.settings, project_id, ctx.user_id,
                               {"server_groups": 0})
        except quotas.OverQuota as exc:
            over = exc
            await server_groups.delete(conn, group["uuid"])
    if over is not None:
        raise over
    return json_response({"server_group": render(req, group, [])})


async def delete(req: Request) -> Response:
    async with state(req).db.writer() as conn:
        group = await server_groups.get(conn, req.params["group_id"])
        authorize(req, RULE + "delete", {"project_id": group["project_id"]})
        await server_groups.delete(conn, group["uuid"])
    return empty_response(204)


ROUTES: RouteTable = {
    "/os-server-groups": {"GET": list_groups, "POST": create},
    "/os-server-groups/{group_id}": {"GET": show, "DELETE": delete},
}
