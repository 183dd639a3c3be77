"""``/v3/users/{user_id}/application_credentials`` and access rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    body_of,
    collection,
    context_of,
    enforce,
    identity_of,
    links,
)
from onestack.identity.objects import app_creds, assignments, revocations, roles, users
from onestack.identity.objects.common import now, parse_time
from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.api.request import Request, empty_response, json_response

_RULE = {"type": "object",
         "properties": {"id": {"type": "string"}, "service": {"type": "string"},
                        "path": {"type": "string"}, "method": {"type": "string"}},
         "additionalProperties": False}
app_cred_create = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255},
                   "description": {"type": ["string", "null"]},
                   "secret": {"type": ["string", "null"]},
                   "expires_at": {"type": ["string", "null"]},
                   "roles": {"type": "array", "items": {"type": "object"}},
                   "unrestricted": {"type": ["boolean", "null"]},
                   "access_rules": {"type": "array", "items": _RULE}},
    "required": ["name"], "additionalProperties": False}


def _expiry(timestamp: float | None) -> str | None:
    """Keystone shows an application credential's expiry as a naive UTC ISO 8601 time
    (no ``Z``), exactly as the client sent it."""
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None).isoformat()


def render_cred(req: Request, row: dict[str, Any], secret: str | None = None
                ) -> dict[str, Any]:
    rendered = {"id": row["id"], "name": row["name"], "description": row["description"],
                "user_id": row["user_id"], "project_id": row["project_id"],
                "system": row["system"],
                "expires_at": _expiry(row["expires_at"]),
                "unrestricted": row["unrestricted"], "roles": row["roles"],
                "access_rules": row["access_rules"],
                "links": links(req, f"users/{row['user_id']}/application_credentials/"
                                    f"{row['id']}")}
    if secret is not None:
        rendered["secret"] = secret
    return rendered


def _owner(req: Request) -> str:
    user_id = req.params["user_id"]
    enforce(req, "identity:application_credentials", {"target.user_id": user_id})
    return user_id


async def create(req: Request) -> Response:
    user_id = _owner(req)
    ctx = context_of(req)
    if ctx.user_id != user_id:
        raise Forbidden("Application credentials can only be created by their owner.")
    if ctx.payload and ctx.payload.app_cred_id:
        cred = None
        async with identity_of(req).db.reader() as conn:
            cred = await app_creds.find_by_id(conn, ctx.payload.app_cred_id)
        if cred is not None and not cred["unrestricted"]:
            raise Forbidden("A restricted application credential cannot create another.")
    if not ctx.project_id:
        raise BadRequest("Application credentials need a project-scoped token.")
    body = await body_of(req, "application_credential", app_cred_create)
    expires_at = parse_time(body.get("expires_at"))
    if expires_at is not None and expires_at <= now():
        raise BadRequest("Invalid input for field 'expires_at': it is in the past.")
    identity = identity_of(req)
    secret = body.get("secret") or app_creds.new_secret()
    async with identity.write() as conn:
        await users.get(conn, user_id)
        held = await assignments.effective_role_ids(conn, user_id, project_id=ctx.project_id)
        held_rows = await roles.by_ids(conn, held)
        wanted: list[dict[str, str]] = []
        for ref in body.get("roles") or [{"id": r} for r in held]:
            match = next((r for r in held_rows.values()
                          if r["id"] == ref.get("id") or r["name"] == ref.get("name")), None)
            if match is None:
                raise Forbidden(f"You do not hold the role {ref} on project "
                                f"{ctx.project_id}.")
            wanted.append({"id": match["id"], "name": match["name"],
                           "domain_id": roles.public_domain(match)})
        row = await app_creds.create(
            conn, user_id=user_id, project_id=ctx.project_id, name=body["name"],
            secret_hash=await users.hash_secret(secret, identity.settings.password_hash_rounds),
            description=body.get("description"), expires_at=expires_at,
            unrestricted=bool(body.get("unrestricted")), role_refs=wanted,
            rules=body.get("access_rules") or [])
    return json_response({"application_credential": render_cred(req, row, secret)}, 201)


async def list_creds(req: Request) -> Response:
    user_id = _owner(req)
    async with identity_of(req).db.reader() as conn:
        await users.get(conn, user_id)
        found = await app_creds.list_for_user(conn, user_id, req.query("name"))
    return collection(req, "application_credentials", found, lambda c: render_cred(req, c))


async def get_cred(req: Request) -> Response:
    user_id = _owner(req)
    async with identity_of(req).db.reader() as conn:
        row = await app_creds.get(conn, user_id, req.params["app_cred_id"])
    return json_response({"application_credential": render_cred(req, row)})


async def delete_cred(req: Request) -> Response:
    user_id = _owner(req)
    identity = identity_of(req)
    async with identity.write() as conn:
        row = await app_creds.get(conn, user_id, req.params["app_cred_id"])
        await app_creds.delete(conn, row["id"])
        await revocations.revoke(identity, conn, app_cred_id=row["id"])
    return empty_response()


def render_rule(req: Request, user_id: str, rule: dict[str, Any]) -> dict[str, Any]:
    return {**rule, "links": links(req, f"users/{user_id}/access_rules/{rule['id']}")}


async def list_rules(req: Request) -> Response:
    user_id = req.params["user_id"]
    enforce(req, "identity:access_rules", {"target.user_id": user_id})
    async with identity_of(req).db.reader() as conn:
        found = await app_creds.list_rules(conn, user_id)
    return collection(req, "access_rules", found, lambda r: render_rule(req, user_id, r))


async def get_rule(req: Request) -> Response:
    user_id = req.params["user_id"]
    enforce(req, "identity:access_rules", {"target.user_id": user_id})
    async with identity_of(req).db.reader() as conn:
        found = [r for r in await app_creds.list_rules(conn, user_id)
                 if r["id"] == req.params["rule_id"]]
    if not found:
        from onestack.identity.objects.common import not_found
        raise not_found("access rule", req.params["rule_id"])
    return json_response({"access_rule": render_rule(req, user_id, found[0])})


async def delete_rule(req: Request) -> Response:
    user_id = req.params["user_id"]
    enforce(req, "identity:access_rules", {"target.user_id": user_id})
    async with identity_of(req).write() as conn:
        if await app_creds.rule_in_use(conn, user_id, req.params["rule_id"]):
            raise Forbidden("The access rule is used by an application credential.")
        await app_creds.delete_rule(conn, user_id, req.params["rule_id"])
    return empty_response()
