"""``/v3/OS-TRUST/trusts``: create, show, list, delete trusts and read their roles."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    body_of,
    collection,
    context_of,
    enforce,
    identity_of,
    links,
    merge_extra,
)
from onestack.identity.objects import (
    app_creds,
    assignments,
    projects,
    revocations,
    roles,
    trusts,
    users,
)
from onestack.identity.objects.common import isotime, not_found, now, parse_time
from onestack.identity.schemas import trusts as schemas
from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.api.request import Request, empty_response, json_response

_COLUMNS = set(schemas.trust_create["properties"])


def render_trust(req: Request, row: dict[str, Any],
                 role_rows: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    extra = dict(row["extra"] or {})
    allow_redelegation = bool(extra.pop("allow_redelegation", False))
    rendered: dict[str, Any] = {
        "id": row["id"], "trustor_user_id": row["trustor_user_id"],
        "trustee_user_id": row["trustee_user_id"], "project_id": row["project_id"],
        "impersonation": row["impersonation"],
        "expires_at": isotime(row["expires_at"]) if row["expires_at"] else None,
        "remaining_uses": row["remaining_uses"],
        "allow_redelegation": allow_redelegation,
        "redelegation_count": row["redelegation_count"],
        "redelegated_trust_id": row["redelegated_trust_id"],
        "links": links(req, f"OS-TRUST/trusts/{row['id']}")}
    if role_rows is not None:
        rendered["roles"] = [render_role_ref(req, role_rows[r]) for r in row["roles"]
                             if r in role_rows]
        rendered["roles_links"] = {**links(req, f"OS-TRUST/trusts/{row['id']}/roles"),
                                   "previous": None, "next": None}
    return merge_extra(rendered, {"extra": extra})


def render_role_ref(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "domain_id": roles.public_domain(row),
            "links": links(req, f"roles/{row['id']}")}


def _target(row: dict[str, Any]) -> dict[str, Any]:
    return {"target.trust.trustor_user_id": row["trustor_user_id"],
            "target.trust.trustee_user_id": row["trustee_user_id"]}


async def _parent_trust(req: Request) -> dict[str, Any] | None:
    """The trust of the caller's token, when the caller uses a trust-scoped token."""
    ctx = context_of(req)
    if ctx.payload is None or not ctx.payload.trust_id:
        return None
    async with identity_of(req).db.reader() as conn:
        return await trusts.get(conn, ctx.payload.trust_id)


async def create_trust(req: Request) -> Response:
    ctx = context_of(req)
    body = await body_of(req, "trust", schemas.trust_create)
    parent = await _parent_trust(req)
    acting_user = parent["trustee_user_id"] if parent else ctx.user_id
    if body["trustor_user_id"] != acting_user:
        raise Forbidden("The authenticated user should match the trustor.")
    enforce(req, "identity:create_trust",
            {"trust.trustor_user_id": ctx.user_id if parent else body["trustor_user_id"]})
    if body.get("allow_redelegation") and body.get("remaining_uses") is not None:
        raise BadRequest("Invalid input for field 'remaining_uses': a trust that allows "
                         "redelegation cannot be limited in uses.")
    expires_at = parse_time(body.get("expires_at"))
    if expires_at is not None and expires_at <= now():
        raise BadRequest("Invalid input for field 'expires_at': it is in the past.")
    refs = body.get("roles") or []
    if body.get("project_id") and not refs:
        raise BadRequest("Invalid input for field 'roles': at least one role should be "
                         "specified for a project trust.")
    if refs and not body.get("project_id"):
        raise BadRequest("Invalid input for field 'project_id': delegating roles needs a "
                         "project.")
    identity = identity_of(req)
    async with identity.write() as conn:
        if ctx.payload and ctx.payload.app_cred_id:
            cred = await app_creds.find_by_id(conn, ctx.payload.app_cred_id)
            if cred is not None and not cred["unrestricted"]:
                raise Forbidden("A restricted application credential cannot create a "
                                "trust.")
        await users.get(conn, body["trustee_user_id"])
        await users.get(conn, body["trustor_user_id"])
        if body.get("project_id"):
            await projects.get(conn, body["project_id"])
        role_rows = await trusts.resolve_roles(conn, refs)
        role_ids = [r["id"] for r in role_rows]
        if parent is not None:
            expires_at, depth = await trusts.check_redelegation(
                conn, parent, body, set(role_ids), expires_at)
        else:
            held = (await assignments.effective_role_ids(
                conn, body["trustor_user_id"], project_id=body["project_id"])
                if body.get("project_id") else set())
            missing = [r["name"] for r in role_rows if r["id"] not in held]
            if missing:
                raise Forbidden(f"The trustor does not hold the role(s) {', '.join(missing)}"
                                f" on project {body.get('project_id')}.")
            depth = None
            if body.get("allow_redelegation"):
                depth = body.get("redelegation_count")
                if depth is None:
                    depth = trusts.MAX_REDELEGATION_COUNT
                elif depth > trusts.MAX_REDELEGATION_COUNT:
                    raise BadRequest("Invalid input for field 'redelegation_count': at most "
                                     f"{trusts.MAX_REDELEGATION_COUNT}.")
        extra = {k: v for k, v in body.items() if k not in _COLUMNS}
        row = await trusts.create(conn, body=body, role_ids=role_ids, expires_at=expires_at,
                                  redelegation_count=depth,
                                  parent_id=parent["id"] if parent else None, extra=extra)
    return json_response({"trust": render_trust(req, row, {r["id"]: r for r in role_rows})},
                         201)


async def list_trusts(req: Request) -> Response:
    trustor = req.query("trustor_user_id")
    trustee = req.query("trustee_user_id")
    if trustor is not None:
        enforce(req, "identity:list_trusts_for_trustor",
                {"target.trust.trustor_user_id": trustor})
    if trustee is not None:
        enforce(req, "identity:list_trusts_for_trustee",
                {"target.trust.trustee_user_id": trustee})
    if trustor is None and trustee is None:
        enforce(req, "identity:list_trusts")
    async with identity_of(req).db.reader() as conn:
        found = await trusts.list_trusts(conn, trustor_user_id=trustor,
                                         trustee_user_id=trustee)
    return collection(req, "trusts", found, lambda t: render_trust(req, t))


async def _trust_for(req: Request, rule: str) -> tuple[dict[str, Any],
                                                        dict[str, dict[str, Any]]]:
    async with identity_of(req).db.reader() as conn:
        row = await trusts.get(conn, req.params["trust_id"])
        role_rows = await roles.by_ids(conn, set(row["roles"]))
    enforce(req, rule, _target(row))
    return row, role_rows


async def get_trust(req: Request) -> Response:
    row, role_rows = await _trust_for(req, "identity:get_trust")
    return json_response({"trust": render_trust(req, row, role_rows)})


async def delete_trust(req: Request) -> Response:
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        row = await trusts.get(conn, req.params["trust_id"])
    enforce(req, "identity:delete_trust", _target(row))
    async with identity.write() as conn:
        for trust_id in await trusts.delete(conn, row["id"]):
            await revocations.revoke(identity, conn, trust_id=trust_id)
    return empty_response()


async def list_trust_roles(req: Request) -> Response:
    row, role_rows = await _trust_for(req, "identity:list_roles_for_trust")
    found = [role_rows[r] for r in row["roles"] if r in role_rows]
    return collection(req, "roles", found, lambda r: render_role_ref(req, r))


async def get_trust_role(req: Request) -> Response:
    row, role_rows = await _trust_for(req, "identity:get_role_for_trust")
    role_id = req.params["role_id"]
    if role_id not in row["roles"] or role_id not in role_rows:
        raise not_found("role", role_id)
    return json_response({"role": render_role_ref(req, role_rows[role_id])})
