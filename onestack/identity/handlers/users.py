"""``/v3/users``: users, their passwords, projects and groups."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
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
from onestack.identity.handlers.projects import render_project
from onestack.identity.models import user_group
from onestack.identity.objects import (
    app_creds,
    assignments,
    credentials,
    projects,
    revocations,
    trusts,
    users,
)
from onestack.identity.schemas import users as schemas
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import public


def render_user(req: Request, row: dict[str, Any], password_row: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    rendered = {"id": row["id"], "name": row["name"], "domain_id": row["domain_id"],
                "enabled": row["enabled"],
                "password_expires_at": users.password_expires_at(password_row),
                "options": row.get("options") or {},
                "links": links(req, f"users/{row['id']}")}
    if row.get("default_project_id"):
        rendered["default_project_id"] = row["default_project_id"]
    if row.get("description") is not None:
        rendered["description"] = row["description"]
    return merge_extra(rendered, row)


def _target(row: dict[str, Any]) -> dict[str, Any]:
    return {"target.user_id": row["id"], "target.domain_id": row["domain_id"],
            "target.user.id": row["id"]}


async def list_users(req: Request) -> Response:
    domain_id = req.query("domain_id")
    enforce(req, "identity:list_users", {"target.domain_id": domain_id})
    filters = {"domain_id": domain_id, "name": req.query("name"),
               "enabled": filter_value(req, "enabled")}
    async with identity_of(req).db.reader() as conn:
        found = await users.list_all(conn, filters)
        rendered = [render_user(req, u, await users.current_password(conn, u["id"]))
                    for u in found]
    return collection(req, "users", rendered, lambda u: u)


async def get_user(req: Request) -> Response:
    async with identity_of(req).db.reader() as conn:
        row = await users.get(conn, req.params["user_id"])
        enforce(req, "identity:get_user", _target(row))
        password_row = await users.current_password(conn, row["id"])
    return json_response({"user": render_user(req, row, password_row)})


async def create_user(req: Request) -> Response:
    body = await body_of(req, "user", schemas.user_create)
    ctx = context_of(req)
    body.setdefault("domain_id", ctx.project_domain_id or ctx.domain_id or "default")
    enforce(req, "identity:create_user", {"target.domain_id": body["domain_id"]})
    identity = identity_of(req)
    async with identity.write() as conn:
        await projects.get(conn, body["domain_id"], domain=True)
        row = await users.create(conn, body, identity.settings)
        password_row = await users.current_password(conn, row["id"])
    return json_response({"user": render_user(req, row, password_row)}, 201)


async def update_user(req: Request) -> Response:
    body = await body_of(req, "user", schemas.user_update)
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await users.get(conn, req.params["user_id"])
        enforce(req, "identity:update_user", _target(current))
        row = await users.update(conn, current, body, identity.settings,
                                 identity.verified_passwords)
        if (current["enabled"] and not row["enabled"]) or body.get("password") is not None:
            await revocations.revoke(identity, conn, user_id=row["id"])
        password_row = await users.current_password(conn, row["id"])
    return json_response({"user": render_user(req, row, password_row)})


async def delete_user(req: Request) -> Response:
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await users.get(conn, req.params["user_id"])
        enforce(req, "identity:delete_user", _target(current))
        await assignments.remove_for_actor(conn, current["id"])
        await app_creds.delete_for_user(conn, current["id"])
        await credentials.delete_for_user(conn, current["id"])
        for trust_id in await trusts.delete_for_user(conn, current["id"]):
            await revocations.revoke(identity, conn, trust_id=trust_id)
        await conn.execute(sa.delete(users.user).where(users.user.c.id == current["id"]))
        await revocations.revoke(identity, conn, user_id=current["id"])
    identity.verified_passwords.pop(current["id"], None)
    return empty_response()


@public
async def change_password(req: Request) -> Response:
    """Self-service: the original password is the credential, so no token is needed
    (a user whose password expired can still change it), as in Keystone."""
    body = await body_of(req, "user", schemas.password_change)
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await users.get(conn, req.params["user_id"])
        if body["password"] == "":
            raise BadRequest("Invalid input for field 'password': it is empty.")
        await users.change_password(conn, current, body["original_password"],
                                    body["password"], identity.settings,
                                    identity.verified_passwords)
        await revocations.revoke(identity, conn, user_id=current["id"])
    return empty_response()


async def list_user_projects(req: Request) -> Response:
    user_id = req.params["user_id"]
    enforce(req, "identity:list_user_projects", {"target.user_id": user_id})
    async with identity_of(req).db.reader() as conn:
        await users.get(conn, user_id)
        candidates = await projects.list_all(conn, filters={
            "domain_id": req.query("domain_id"), "name": req.query("name"),
            "enabled": filter_value(req, "enabled")})
        found = [p for p in candidates if await assignments.effective_role_ids(
            conn, user_id, project_id=p["id"])]
    return collection(req, "projects", found, lambda p: render_project(req, p))


async def list_user_groups(req: Request) -> Response:
    from onestack.identity.handlers.groups import render_group
    from onestack.identity.objects import groups

    user_id = req.params["user_id"]
    enforce(req, "identity:list_groups_for_user", {"target.user_id": user_id})
    async with identity_of(req).db.reader() as conn:
        await users.get(conn, user_id)
        ids = {r[0] for r in await conn.execute(
            sa.select(user_group.c.group_id).where(user_group.c.user_id == user_id))}
        found = await groups.list_all(conn, {"name": req.query("name")}, ids=ids)
    return collection(req, "groups", found, lambda g: render_group(req, g))
