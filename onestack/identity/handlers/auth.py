"""``/v3/auth``: issue, validate, check and revoke tokens; the caller's catalog,
projects, domains and system; and the revocation events other services poll."""

from __future__ import annotations

import json

from starlette.responses import Response

from onestack.identity.handlers.common import context_of, enforce, identity_of
from onestack.identity.handlers.projects import render_domain, render_project
from onestack.identity.objects import assignments, catalog, projects, revocations, tokens
from onestack.identity.objects.common import isotime, parse_time
from onestack.kernel.api.faults import BadRequest, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import public
from onestack.kernel.tokens import TokenInvalid, TokenPayload


@public
async def issue_token(req: Request) -> Response:
    identity = identity_of(req)
    document = await req.json()
    if not isinstance(document, dict) or not isinstance(document.get("auth"), dict):
        raise BadRequest("Expecting to find auth in the request body.")
    nocatalog = req.has_query("nocatalog")
    async with identity.db.lazy_reader() as conn:
        payload, _ = await tokens.issue(identity, conn, document["auth"])
        token = identity.codec.encode(payload)
        body = await tokens.render(identity, conn, payload, catalog_wanted=not nocatalog)
    content = json.dumps(body, separators=(",", ":")).encode()
    identity.remember_document(token, nocatalog, content)
    return Response(content, 201, {"X-Subject-Token": token}, media_type="application/json")


def _subject(req: Request) -> tuple[str, TokenPayload]:
    identity = identity_of(req)
    subject = req.headers.get("x-subject-token")
    if not subject:
        raise BadRequest("Expecting to find X-Subject-Token in the request headers.")
    window = identity.settings.allow_expired_window if req.query_flag("allow_expired") else 0
    try:
        payload = identity.validator.validate(subject, allow_expired_window=window)
    except TokenInvalid as exc:
        raise NotFound(f"Could not find token: {exc}.") from None
    enforce(req, "identity:validate_token", {"target.user_id": payload.user_id})
    return subject, payload


async def validate_token(req: Request) -> Response:
    identity = identity_of(req)
    subject, payload = _subject(req)
    nocatalog = req.has_query("nocatalog")
    content = identity.cached_document(subject, nocatalog)
    if content is None:
        async with identity.db.lazy_reader() as conn:
            try:
                body = await tokens.render(identity, conn, payload,
                                           catalog_wanted=not nocatalog)
            except NotFound:
                raise NotFound("Could not find token.") from None
        content = json.dumps(body, separators=(",", ":")).encode()
        identity.remember_document(subject, nocatalog, content)
    headers = {"X-Subject-Token": subject}
    return Response(content, 200, headers, media_type="application/json")


async def revoke_token(req: Request) -> Response:
    identity = identity_of(req)
    subject = req.headers.get("x-subject-token")
    if not subject:
        raise BadRequest("Expecting to find X-Subject-Token in the request headers.")
    try:
        payload = identity.validator.validate(subject)
    except TokenInvalid as exc:
        raise NotFound(f"Could not find token: {exc}.") from None
    enforce(req, "identity:revoke_token", {"target.user_id": payload.user_id})
    async with identity.write() as conn:
        await revocations.revoke(identity, conn, audit_id=payload.audit_ids[0])
    return empty_response()


async def auth_catalog(req: Request) -> Response:
    ctx = context_of(req)
    if ctx.scope_type is None:
        raise BadRequest("A scoped token is required to get a catalog.")
    async with identity_of(req).db.reader() as conn:
        entries = await catalog.build_catalog(conn, ctx.project_id)
    return json_response({"catalog": entries,
                          "links": {"self": identity_of(req).url("auth/catalog")}})


async def _scopes(req: Request, kind: str) -> list[dict]:
    ctx = context_of(req)
    async with identity_of(req).db.reader() as conn:
        candidates = await projects.list_all(conn, is_domain=(kind == "domain"),
                                             filters={"enabled": True})
        result = []
        for candidate in candidates:
            scope = {"project_id": candidate["id"]} if kind == "project" else {
                "domain_id": candidate["id"]}
            if await assignments.effective_role_ids(conn, ctx.user_id, **scope):
                result.append(candidate)
    return result


async def auth_projects(req: Request) -> Response:
    found = await _scopes(req, "project")
    return json_response({"projects": [render_project(req, p) for p in found],
                          "links": {"self": identity_of(req).url("auth/projects")}})


async def auth_domains(req: Request) -> Response:
    found = await _scopes(req, "domain")
    return json_response({"domains": [render_domain(req, d) for d in found],
                          "links": {"self": identity_of(req).url("auth/domains")}})


async def auth_system(req: Request) -> Response:
    ctx = context_of(req)
    async with identity_of(req).db.reader() as conn:
        has_roles = await assignments.effective_role_ids(conn, ctx.user_id, system=True)
    return json_response({"system": [{"all": True}] if has_roles else [],
                          "links": {"self": identity_of(req).url("auth/system")}})


async def revocation_events(req: Request) -> Response:
    enforce(req, "identity:revocation_list")
    since_text = req.query("since")
    moment = parse_time(since_text, "since") if since_text else 0.0
    async with identity_of(req).db.reader() as conn:
        events = await revocations.since(conn, moment or 0.0)
    for event in events:
        for stamp in ("revoked_at", "issued_before", "expires_at"):
            event[stamp] = isotime(event[stamp])
        event["audit_chain_id"] = event.pop("audit_chain_id")
    return json_response({"events": events, "links": {"self": identity_of(req).url(
        "OS-REVOKE/events")}})
