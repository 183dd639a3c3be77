"""Role grants on projects, domains and the system (with OS-INHERIT inheritance), and
``GET /v3/role_assignments``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import enforce, identity_of
from onestack.identity.handlers.roles import render_role
from onestack.identity.objects import assignments, groups, projects, revocations, roles, users
from onestack.kernel.api.faults import BadRequest, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import Handler, RouteTable


async def _resolve(req: Request, conn: Any, actor: str, target: str) -> tuple[str, str]:
    actor_id = req.params[f"{actor}_id"]
    if actor == "user":
        await users.get(conn, actor_id)
    else:
        await groups.get(conn, actor_id)
    if target == "system":
        return actor_id, assignments.SYSTEM
    target_id = req.params[f"{target}_id"]
    await projects.get(conn, target_id, domain=(target == "domain"))
    return actor_id, target_id


def _grant_target(req: Request, target: str) -> dict[str, Any]:
    return {"target.project_id": req.params.get("project_id"),
            "target.domain_id": req.params.get("domain_id"),
            "target.user_id": req.params.get("user_id")}


def grant_handlers(actor: str, target: str, inherited: bool) -> dict[str, Handler]:
    """PUT, HEAD, GET and DELETE of one grant, for one kind of actor and target."""

    async def put(req: Request) -> Response:
        enforce(req, "identity:create_grant", _grant_target(req, target))
        async with identity_of(req).write() as conn:
            actor_id, target_id = await _resolve(req, conn, actor, target)
            role_row = await roles.get(conn, req.params["role_id"])
            if role_row["domain_id"] not in ("<<null>>", req.params.get("domain_id"),
                                             None) and target == "project":
                project_row = await projects.get(conn, target_id)
                if role_row["domain_id"] != project_row["domain_id"]:
                    raise BadRequest("A domain-specific role can only be granted within "
                                     "its domain.")
            await assignments.grant(conn, actor, actor_id, target, target_id,
                                    role_row["id"], inherited)
        return empty_response()

    async def check(req: Request) -> Response:
        enforce(req, "identity:check_grant", _grant_target(req, target))
        async with identity_of(req).db.reader() as conn:
            actor_id, target_id = await _resolve(req, conn, actor, target)
            role_row = await roles.get(conn, req.params["role_id"])
            if not await assignments.check(conn, actor, actor_id, target, target_id,
                                           role_row["id"], inherited):
                raise NotFound(f"Could not find role assignment with role: {role_row['id']}, "
                               f"{actor}: {actor_id}, {target}: {target_id}.")
        return empty_response()

    async def delete(req: Request) -> Response:
        enforce(req, "identity:revoke_grant", _grant_target(req, target))
        identity = identity_of(req)
        async with identity.write() as conn:
            actor_id, target_id = await _resolve(req, conn, actor, target)
            role_row = await roles.get(conn, req.params["role_id"])
            if not await assignments.revoke(conn, actor, actor_id, target, target_id,
                                            role_row["id"], inherited):
                raise NotFound(f"Could not find role assignment with role: {role_row['id']}, "
                               f"{actor}: {actor_id}, {target}: {target_id}.")
            members = [actor_id] if actor == "user" else list(
                await groups.member_ids(conn, actor_id))
            for member in members:
                scope = {"project_id": target_id} if target == "project" and not inherited \
                    else {}
                await revocations.revoke(identity, conn, user_id=member, **scope)
        return empty_response()

    return {"PUT": put, "HEAD": check, "GET": check, "DELETE": delete}


def list_handler(actor: str, target: str, inherited: bool) -> Handler:
    async def list_grants(req: Request) -> Response:
        enforce(req, "identity:list_grants", _grant_target(req, target))
        async with identity_of(req).db.reader() as conn:
            actor_id, target_id = await _resolve(req, conn, actor, target)
            ids = await assignments.roles_granted(conn, actor, actor_id, target, target_id,
                                                  inherited)
            found = await roles.by_ids(conn, set(ids))
        identity = identity_of(req)
        return json_response({"roles": [render_role(req, r) for r in found.values()],
                              "links": {"self": identity.base_url + req.path,
                                        "previous": None, "next": None}})
    return list_grants


def grant_routes() -> RouteTable:
    routes: RouteTable = {}
    for actor in ("user", "group"):
        for target in ("project", "domain"):
            base = f"/v3/{target}s/{{{target}_id}}/{actor}s/{{{actor}_id}}/roles"
            routes[base] = {"GET": list_handler(actor, target, False)}
            routes[base + "/{role_id}"] = grant_handlers(actor, target, False)
            inherit = "/v3/OS-INHERIT" + base.removeprefix("/v3")
            routes[inherit + "/inherited_to_projects"] = {
                "GET": list_handler(actor, target, True)}
            routes[inherit + "/{role_id}/inherited_to_projects"] = grant_handlers(
                actor, target, True)
        base = f"/v3/system/{actor}s/{{{actor}_id}}/roles"
        routes[base] = {"GET": list_handler(actor, "system", False)}
        routes[base + "/{role_id}"] = grant_handlers(actor, "system", False)
    return routes


# -- GET /v3/role_assignments ------------------------------------------------------------
def _query(req: Request) -> dict[str, Any]:
    query = {"user_id": req.query("user.id"), "group_id": req.query("group.id"),
             "role_id": req.query("role.id"), "project_id": req.query("scope.project.id"),
             "domain_id": req.query("scope.domain.id"),
             "system": req.query("scope.system"),
             "inherited": req.query("scope.OS-INHERIT:inherited_to"),
             "effective": req.query_flag("effective"),
             "include_subtree": req.query_flag("include_subtree"),
             "include_names": req.query_flag("include_names")}
    if query["effective"] and query["group_id"]:
        raise BadRequest("Combining effective and group filter will always result in an "
                         "empty list.")
    if query["project_id"] and query["domain_id"]:
        raise BadRequest("Specify only one of domain or project scope.")
    if query["include_subtree"] and not query["project_id"]:
        raise BadRequest("scope.project.id needs to be specified if include_subtree is "
                         "also specified.")
    return query


async def _renderer(conn: Any, entries: list[assignments.Entry], names: bool
                    ) -> Callable[[assignments.Entry], dict[str, Any]]:
    role_rows = await roles.by_ids(conn, {e.role_id for e in entries})
    cache: dict[tuple[str, str], dict[str, Any]] = {}

    async def ref(kind: str, ident: str) -> dict[str, Any]:
        if (kind, ident) not in cache:
            ref_: dict[str, Any] = {"id": ident}
            if names:
                if kind == "user":
                    row = await users.get(conn, ident)
                elif kind == "group":
                    row = await groups.get(conn, ident)
                else:
                    row = await projects.get(conn, ident, domain=(kind == "domain"))
                ref_["name"] = row["name"]
                if kind != "domain":
                    domain = await projects.get(conn, row["domain_id"], domain=True)
                    ref_["domain"] = {"id": domain["id"], "name": domain["name"]}
            cache[(kind, ident)] = ref_
        return cache[(kind, ident)]

    for entry in entries:
        await ref(entry.actor, entry.actor_id)
        if entry.target != "system":
            await ref(entry.target, entry.target_id)

    def render(entry: assignments.Entry) -> dict[str, Any]:
        role_row = role_rows.get(entry.role_id, {"id": entry.role_id, "name": "",
                                                 "domain_id": "<<null>>"})
        role_ref: dict[str, Any] = {"id": entry.role_id}
        if names:
            role_ref["name"] = role_row["name"]
            if roles.public_domain(role_row):
                role_ref["domain"] = {"id": roles.public_domain(role_row)}
        if entry.target == "system":
            scope: dict[str, Any] = {"system": {"all": True}}
        else:
            scope = {entry.target: cache[(entry.target, entry.target_id)]}
        if entry.inherited:
            scope["OS-INHERIT:inherited_to"] = "projects"
        return {"role": role_ref, entry.actor: cache[(entry.actor, entry.actor_id)],
                "scope": scope, "links": dict(entry.links)}

    return render


async def list_role_assignments(req: Request) -> Response:
    query = _query(req)
    enforce(req, "identity:list_role_assignments", {
        "scope.project.id": query["project_id"], "scope.domain.id": query["domain_id"]})
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        entries = await assignments.listing(conn, query, identity.url)
        render = await _renderer(conn, entries, query["include_names"])
    self_url = identity.base_url + req.path
    query_string = req.scope.get("query_string", b"").decode()
    if query_string:
        self_url += "?" + query_string
    return json_response({"role_assignments": [render(e) for e in entries],
                          "links": {"self": self_url, "previous": None, "next": None}})
