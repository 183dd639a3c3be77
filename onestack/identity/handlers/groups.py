"""``/v3/groups`` and group membership."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    body_of,
    collection,
    context_of,
    enforce,
    filter_value,
    identity_of,
    links,
    merge_extra,
)
from onestack.identity.objects import assignments, groups, projects, revocations, users
from onestack.identity.schemas import groups as schemas
from onestack.kernel.api.faults import NotFound
from onestack.kernel.api.request import Request, empty_response, json_response


def render_group(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({"id": row["id"], "name": row["name"], "domain_id": row["domain_id"],
                        "description": row["description"],
                        "links": links(req, f"groups/{row['id']}")}, row)


async def list_groups(req: Request) -> Response:
    domain_id = req.query("domain_id")
    enforce(req, "identity:list_groups", {"target.domain_id": domain_id})
    async with identity_of(req).db.reader() as conn:
        found = await groups.list_all(conn, {"domain_id": domain_id,
                                             "name": req.query("name")})
    return collection(req, "groups", found, lambda g: render_group(req, g))


async def get_group(req: Request) -> Response:
    async with identity_of(req).db.reader() as conn:
        row = await groups.get(conn, req.params["group_id"])
    enforce(req, "identity:get_group", {"target.domain_id": row["domain_id"]})
    return json_response({"group": render_group(req, row)})


async def create_group(req: Request) -> Response:
    body = await body_of(req, "group", schemas.group_create)
    ctx = context_of(req)
    body.setdefault("domain_id", ctx.project_domain_id or ctx.domain_id or "default")
    enforce(req, "identity:create_group", {"target.domain_id": body["domain_id"]})
    async with identity_of(req).write() as conn:
        await projects.get(conn, body["domain_id"], domain=True)
        row = await groups.create(conn, body)
    return json_response({"group": render_group(req, row)}, 201)


async def update_group(req: Request) -> Response:
    body = await body_of(req, "group", schemas.group_update)
    enforce(req, "identity:update_group")
    async with identity_of(req).write() as conn:
        row = await groups.update(conn, await groups.get(conn, req.params["group_id"]), body)
    return json_response({"group": render_group(req, row)})


async def delete_group(req: Request) -> Response:
    enforce(req, "identity:delete_group")
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await groups.get(conn, req.params["group_id"])
        for member in await groups.member_ids(conn, current["id"]):
            await revocations.revoke(identity, conn, user_id=member)
        await assignments.remove_for_actor(conn, current["id"])
        await groups.delete(conn, current["id"])
    return empty_response()


async def list_members(req: Request) -> Response:
    from onestack.identity.handlers.users import render_user

    enforce(req, "identity:list_users_in_group")
    async with identity_of(req).db.reader() as conn:
        current = await groups.get(conn, req.params["group_id"])
        ids = await groups.member_ids(conn, current["id"])
        found = await users.list_all(conn, {"name": req.query("name"),
                                            "enabled": filter_value(req, "enabled")}, ids=ids)
        rendered = [render_user(req, u, await users.current_password(conn, u["id"]))
                    for u in found]
    return collection(req, "users", rendered, lambda u: u)


async def add_member(req: Request) -> Response:
    enforce(req, "identity:add_user_to_group")
    async with identity_of(req).write() as conn:
        current = await groups.get(conn, req.params["group_id"])
        member = await users.get(conn, req.params["user_id"])
        await groups.add_member(conn, current["id"], member["id"])
    return empty_response()


async def check_member(req: Request) -> Response:
    enforce(req, "identity:check_user_in_group")
    async with identity_of(req).db.reader() as conn:
        current = await groups.get(conn, req.params["group_id"])
        member = await users.get(conn, req.params["user_id"])
        if member["id"] not in await groups.member_ids(conn, current["id"]):
            raise NotFound(f"User {member['id']} is not a member of group {current['id']}.")
    return empty_response()


async def remove_member(req: Request) -> Response:
    enforce(req, "identity:remove_user_from_group")
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await groups.get(conn, req.params["group_id"])
        member = await users.get(conn, req.params["user_id"])
        if not await groups.remove_member(conn, current["id"], member["id"]):
            raise NotFound(f"User {member['id']} is not a member of group {current['id']}.")
        await revocations.revoke(identity, conn, user_id=member["id"])
    return empty_response()
