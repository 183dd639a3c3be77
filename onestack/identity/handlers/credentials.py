"""``/v3/credentials``, a user's EC2 credentials (``/v3/users/{id}/credentials/OS-EC2``),
and the tokens signed EC2 and S3 requests obtain (``/v3/ec2tokens``, ``/v3/s3tokens``)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    allowed,
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
    credentials,
    projects,
    tokens,
    trusts,
    users,
)
from onestack.identity.objects.common import not_found, now
from onestack.identity.objects.tokens import Authenticated
from onestack.identity.schemas import credentials as schemas
from onestack.kernel.api.faults import BadRequest, Forbidden, NotFound, Unauthorized
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import public
from onestack.kernel.api.validation import validate

_COLUMNS = set(schemas.credential_create["properties"]) | {"id"}


def render_credential(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    rendered = {"id": row["id"], "user_id": row["user_id"], "project_id": row["project_id"],
                "type": row["type"], "blob": row["blob"],
                "links": links(req, f"credentials/{row['id']}")}
    return merge_extra(rendered, row)


def _target(user_id: str) -> dict[str, Any]:
    return {"target.credential.user_id": user_id}


async def create_credential(req: Request) -> Response:
    body = await body_of(req, "credential", schemas.credential_create)
    enforce(req, "identity:create_credential", _target(body["user_id"]))
    identity = identity_of(req)
    extra = {k: v for k, v in body.items() if k not in _COLUMNS}
    async with identity.write() as conn:
        await users.get(conn, body["user_id"])
        if body.get("project_id"):
            await projects.get(conn, body["project_id"])
        row = await credentials.create(conn, identity.credential_keys, body, extra)
    return json_response({"credential": render_credential(req, row)}, 201)


async def list_credentials(req: Request) -> Response:
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        found = await credentials.list_all(conn, identity.credential_keys,
                                           user_id=req.query("user_id"),
                                           type_=req.query("type"))
    visible = [row for row in found
               if allowed(req, "identity:list_credentials", _target(row["user_id"]))]
    return collection(req, "credentials", visible, lambda r: render_credential(req, r))


async def _existing(req: Request, rule: str) -> dict[str, Any]:
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        row = await credentials.get(conn, identity.credential_keys,
                                    req.params["credential_id"])
    enforce(req, rule, _target(row["user_id"]))
    return row


async def get_credential(req: Request) -> Response:
    row = await _existing(req, "identity:get_credential")
    return json_response({"credential": render_credential(req, row)})


async def update_credential(req: Request) -> Response:
    body = await body_of(req, "credential", schemas.credential_update)
    current = await _existing(req, "identity:update_credential")
    if "id" in body and body["id"] != current["id"]:
        raise BadRequest("Invalid input for field 'id': a credential's id cannot change.")
    if body.get("user_id", current["user_id"]) != current["user_id"]:
        # Handing a credential to someone else needs the right over theirs too.
        enforce(req, "identity:update_credential", _target(body["user_id"]))
    identity = identity_of(req)
    changes = {k: v for k, v in body.items() if k in _COLUMNS and k != "id"}
    extra = {k: v for k, v in body.items() if k not in _COLUMNS}
    async with identity.write() as conn:
        if "user_id" in changes:
            await users.get(conn, changes["user_id"])
        if changes.get("project_id"):
            await projects.get(conn, changes["project_id"])
        row = await credentials.update(conn, identity.credential_keys, current, changes,
                                       extra)
    return json_response({"credential": render_credential(req, row)})


async def delete_credential(req: Request) -> Response:
    row = await _existing(req, "identity:delete_credential")
    async with identity_of(req).write() as conn:
        await credentials.delete(conn, row["id"])
    return empty_response()


# -- OS-EC2 -------------------------------------------------------------------------

def render_ec2(req: Request, cred: credentials.Ec2Credential) -> dict[str, Any]:
    rendered = {"user_id": cred.user_id, "tenant_id": cred.project_id,
                "access": cred.access, "secret": cred.secret, "trust_id": cred.trust_id,
                "links": links(req, f"users/{cred.user_id}/credentials/OS-EC2/"
                                    f"{cred.access}")}
    if cred.app_cred_id:
        rendered["app_cred_id"] = cred.app_cred_id
    return rendered


async def create_ec2(req: Request) -> Response:
    user_id = req.params["user_id"]
    enforce(req, "identity:ec2_create_credential", {"target.user_id": user_id})
    document = await req.json()
    if not isinstance(document, dict):
        raise BadRequest("Expecting a JSON object with tenant_id in the request body.")
    validate(schemas.ec2_create, document)
    payload = context_of(req).payload
    blob: dict[str, Any] = {"access": credentials.new_key(),
                            "secret": credentials.new_key(),
                            "trust_id": payload.trust_id if payload else None}
    identity = identity_of(req)
    async with identity.write() as conn:
        await users.get(conn, user_id)
        await projects.get(conn, document["tenant_id"])
        if payload is not None and payload.app_cred_id:
            if payload.project_id != document["tenant_id"]:
                raise Forbidden("An application credential can only make EC2 credentials "
                                "for its own project.")
            blob["app_cred_id"] = payload.app_cred_id
        row = await credentials.create(conn, identity.credential_keys, {
            "user_id": user_id, "project_id": document["tenant_id"],
            "type": credentials.EC2, "blob": json.dumps(blob)})
    cred = credentials.as_ec2(row)
    assert cred is not None
    return json_response({"credential": render_ec2(req, cred)}, 201)


async def list_ec2(req: Request) -> Response:
    user_id = req.params["user_id"]
    enforce(req, "identity:ec2_list_credentials", {"target.user_id": user_id})
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        await users.get(conn, user_id)
        rows = await credentials.list_all(conn, identity.credential_keys, user_id=user_id,
                                          type_=credentials.EC2)
    found = [c for c in map(credentials.as_ec2, rows) if c is not None]
    return collection(req, "credentials", found, lambda c: render_ec2(req, c))


async def _ec2_of(req: Request, rule: str) -> credentials.Ec2Credential:
    user_id, access = req.params["user_id"], req.params["access"]
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        cred = await credentials.find_ec2(conn, identity.credential_keys, access)
    if cred is None or cred.user_id != user_id:
        raise not_found("credential", access)
    enforce(req, rule, _target(cred.user_id))
    return cred


async def get_ec2(req: Request) -> Response:
    cred = await _ec2_of(req, "identity:ec2_get_credential")
    return json_response({"credential": render_ec2(req, cred)})


async def delete_ec2(req: Request) -> Response:
    cred = await _ec2_of(req, "identity:ec2_delete_credential")
    async with identity_of(req).write() as conn:
        await credentials.delete(conn, cred.id)
    return empty_response()


# -- signed requests -> tokens ------------------------------------------------------

async def _signed_credentials(req: Request, schema: dict[str, Any]) -> dict[str, Any]:
    document = await req.json()
    if not isinstance(document, dict):
        raise BadRequest("Expecting to find credentials in the request body.")
    creds = document.get("credentials", document.get("ec2Credentials"))
    if not isinstance(creds, dict):
        raise BadRequest("Expecting to find credentials in the request body.")
    validate(schema, creds)
    return creds


async def _enabled_user(conn: Any, user_id: str) -> dict[str, Any]:
    try:
        user = await users.get(conn, user_id)
        domain = await projects.get(conn, user["domain_id"], domain=True)
    except NotFound:
        raise Unauthorized("The owner of the credential no longer exists.") from None
    if not user["enabled"] or not domain["enabled"]:
        raise Unauthorized(f"User {user_id} or their domain is disabled.")
    return user


async def _token_for(req: Request, access: str, check: Any) -> Response:
    """Look the access key up, let ``check(secret)`` verify the signature, and issue
    a token scoped as the credential says."""
    identity = identity_of(req)
    async with identity.db.reader() as conn:
        cred = await credentials.find_ec2(conn, identity.credential_keys, access)
        if cred is None:
            raise Unauthorized("The credential is not known: invalid access key.")
        check(cred.secret)
        who = Authenticated(user=await _enabled_user(conn, cred.user_id),
                            methods=["ec2credential"])
        scope: Any = {"project": {"id": cred.project_id}}
        if cred.app_cred_id:
            who.app_cred = await app_creds.find_by_id(conn, cred.app_cred_id)
            if who.app_cred is None or (who.app_cred["expires_at"] is not None
                                        and who.app_cred["expires_at"] <= now()):
                raise Unauthorized("The application credential behind this EC2 "
                                   "credential is gone or expired.")
            who.expires_at, scope = who.app_cred["expires_at"], None
        elif cred.trust_id:
            trust = await trusts.find(conn, cred.trust_id)
            if trust is None:
                raise Unauthorized("The trust behind this EC2 credential is gone.")
            if trust["impersonation"] and cred.user_id == trust["trustor_user_id"]:
                # made with an impersonating token: the trustee redeems the trust
                who.user = await _enabled_user(conn, trust["trustee_user_id"])
            scope = {"OS-TRUST:trust": {"id": cred.trust_id}}
        payload, _ = await tokens.issue(identity, conn, {"scope": scope}, who=who)
        token = identity.codec.encode(payload)
        body = await tokens.render(identity, conn, payload)
    content = json.dumps(body, separators=(",", ":")).encode()
    identity.remember_document(token, False, content)
    return Response(content, 200, {"X-Subject-Token": token}, media_type="application/json")


@public
async def ec2_tokens(req: Request) -> Response:
    creds = await _signed_credentials(req, schemas.ec2_token)
    return await _token_for(req, creds["access"],
                            lambda secret: credentials.verify_ec2(secret, creds))


@public
async def s3_tokens(req: Request) -> Response:
    creds = await _signed_credentials(req, schemas.s3_token)
    return await _token_for(
        req, creds["access"],
        lambda secret: credentials.verify_s3(secret, creds["token"], creds["signature"]))
