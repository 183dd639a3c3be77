"""Authentication: turn a ``POST /v3/auth/tokens`` body into a token payload, and a
payload into the token document Keystone returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.objects import (
    app_creds,
    trusts,
    users,
)
from onestack.identity.objects.common import isotime, now
from onestack.identity.objects.lookups import Lookups
from onestack.kernel.api.faults import BadRequest, Forbidden, NotFound, Unauthorized
from onestack.kernel.tokens import TokenInvalid, TokenPayload, new_audit_id

if TYPE_CHECKING:
    from onestack.identity.service import Identity

METHODS = ("password", "token", "application_credential")


def _refuse(message: str = "The request you have made requires authentication.") -> Exception:
    return Unauthorized(message)


@dataclass
class Authenticated:
    user: dict[str, Any]
    methods: list[str]
    expires_at: float | None = None
    audit_chain: str | None = None
    app_cred: dict[str, Any] | None = None
    password_row: dict[str, Any] | None = None
    parent_scope: TokenPayload | None = None


async def _domain_ref(look: Lookups, ref: Any) -> dict[str, Any]:
    if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
        raise BadRequest("Expecting to find domain id or name in the request.")
    if ref.get("id"):
        try:
            return await look.project(ref["id"], domain=True)
        except NotFound:
            raise _refuse(f"Could not find domain: {ref['id']}.") from None
    found = await look.find_project(ref["name"], None, True)
    if found is None:
        raise _refuse(f"Could not find domain: {ref['name']}.")
    return found


async def _user_ref(look: Lookups, ref: Any) -> dict[str, Any]:
    if not isinstance(ref, dict):
        raise BadRequest("Expecting to find user in the request.")
    if ref.get("id"):
        try:
            found = await look.user(ref["id"])
        except NotFound:
            raise _refuse() from None
    elif ref.get("name"):
        domain = await _domain_ref(look, ref.get("domain"))
        found = await look.find_user(ref["name"], domain["id"])
        if found is None:
            raise _refuse()
    else:
        raise BadRequest("Expecting to find user id or name in the request.")
    if not found["enabled"]:
        raise _refuse(f"User {found['id']} is disabled.")
    domain = await look.project(found["domain_id"], domain=True)
    if not domain["enabled"]:
        raise _refuse(f"The domain of user {found['id']} is disabled.")
    return found


async def _by_password(identity: Identity, look: Lookups, section: Any
                       ) -> Authenticated:
    if not isinstance(section, dict) or "user" not in section:
        raise BadRequest("Expecting to find user in password.")
    secret = section["user"].get("password") if isinstance(section["user"], dict) else None
    if not isinstance(secret, str):
        raise BadRequest("Expecting to find password in user.")
    found = await _user_ref(look, section["user"])
    try:
        stored = await users.verify_password(look.conn, found, secret, identity.settings,
                                             identity.verified_passwords,
                                             stored=await look.password(found["id"]))
    except Unauthorized:
        identity.generation += 1  # a failure may have been counted towards lockout
        raise
    if found["failed_auth_count"]:
        identity.generation += 1  # the count was reset
    return Authenticated(user=found, methods=["password"], password_row=stored)


async def _by_token(identity: Identity, look: Lookups, section: Any) -> Authenticated:
    if not isinstance(section, dict) or not isinstance(section.get("id"), str):
        raise BadRequest("Expecting to find id in token.")
    try:
        parent = identity.validator.validate(section["id"])
    except TokenInvalid:
        # As Keystone: a token that no longer validates is not found (404), not 401.
        raise NotFound("Could not find token: the token is invalid, expired or "
                       "revoked.") from None
    if parent.app_cred_id:
        raise Forbidden("A token created by an application credential cannot be used to "
                        "obtain another token.")
    if parent.trust_id:
        raise Forbidden("A trust-scoped token cannot be used to obtain another token: "
                        "create a new trust-scoped token instead.")
    found = await _user_ref(look, {"id": parent.user_id})
    return Authenticated(user=found, methods=sorted({*parent.methods, "token"}),
                         parent_scope=parent,
                         expires_at=parent.expires_at, audit_chain=parent.audit_ids[-1])


async def _by_app_cred(identity: Identity, look: Lookups, section: Any
                       ) -> Authenticated:
    if not isinstance(section, dict) or not isinstance(section.get("secret"), str):
        raise BadRequest("Expecting to find secret in application_credential.")
    if section.get("id"):
        cred = await app_creds.find_by_id(look.conn, section["id"])
    elif section.get("name") and section.get("user"):
        owner = await _user_ref(look, section["user"])
        cred = await app_creds.find_by_name(look.conn, owner["id"], section["name"])
    else:
        raise BadRequest("Expecting to find id, or name and user, in application_credential.")
    if cred is None or not await users.check_secret(section["secret"], cred["secret_hash"]):
        raise _refuse()
    if cred["expires_at"] is not None and cred["expires_at"] <= now():
        raise _refuse("The application credential has expired.")
    found = await _user_ref(look, {"id": cred["user_id"]})
    return Authenticated(user=found, methods=["application_credential"], app_cred=cred,
                         expires_at=cred["expires_at"])


async def authenticate(identity: Identity, conn: AsyncConnection, auth: dict[str, Any]
                       ) -> Authenticated:
    ident = auth.get("identity")
    if not isinstance(ident, dict) or not isinstance(ident.get("methods"), list):
        raise BadRequest("Expecting to find identity in auth.")
    methods = ident["methods"]
    if not methods:
        raise BadRequest("Invalid input for field 'identity/methods': it is empty.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise _refuse(f"Attempted to authenticate with an unsupported method: {unknown[0]}.")
    look = Lookups(identity, conn)
    handlers = {"password": _by_password, "token": _by_token,
                "application_credential": _by_app_cred}
    result: Authenticated | None = None
    for method in methods:
        if method not in ident:
            raise BadRequest(f"Expecting to find {method} in identity.")
        outcome = await handlers[method](identity, look, ident[method])
        if result is not None and outcome.user["id"] != result.user["id"]:
            raise _refuse("Authentication methods disagree on the user.")
        if result is None:
            result = outcome
        else:
            result.methods = sorted(set(result.methods) | set(outcome.methods))
    assert result is not None
    return result


async def _scope_target(look: Lookups, scope: Any) -> tuple[str, dict[str, Any] | None]:
    if not isinstance(scope, dict):
        raise BadRequest("Invalid input for field 'scope'.")
    if len([k for k in ("project", "domain", "system", "OS-TRUST:trust") if k in scope]) > 1:
        raise BadRequest("Specify only one of project, domain or system scope.")
    if "project" in scope:
        ref = scope["project"]
        if not isinstance(ref, dict):
            raise BadRequest("Invalid input for field 'scope/project'.")
        if ref.get("id"):
            try:
                target = await look.project(ref["id"], domain=None)
            except NotFound:
                raise _refuse(f"Could not find project: {ref['id']}.") from None
        elif ref.get("name"):
            domain = await _domain_ref(look, ref.get("domain"))
            target = await look.find_project(ref["name"], domain["id"], False)
            if target is None:
                raise _refuse(f"Could not find project: {ref['name']}.")
        else:
            raise BadRequest("Expecting to find project id or name in the request.")
        return "project", target
    if "domain" in scope:
        return "domain", await _domain_ref(look, scope["domain"])
    if "system" in scope:
        if scope["system"] != {"all": True}:
            raise BadRequest("Invalid input for field 'scope/system': only {'all': true}.")
        return "system", None
    if "OS-TRUST:trust" in scope:
        return "trust", await trusts.lookup_for_scope(look.conn, scope["OS-TRUST:trust"])
    raise BadRequest("Invalid input for field 'scope'.")


async def issue(identity: Identity, conn: AsyncConnection, auth: dict[str, Any],
                who: Authenticated | None = None) -> tuple[TokenPayload, Authenticated]:
    """Authenticate (unless the caller already did: ``who``) and scope; the payload
    of the new token."""
    who = who or await authenticate(identity, conn, auth)
    look = Lookups(identity, conn)
    user_id = who.user["id"]
    scope = auth.get("scope")
    kind: str | None = None
    target: dict[str, Any] | None = None
    if who.app_cred is not None:
        if scope not in (None, "unscoped"):
            raise _refuse("An application credential token is scoped to its own project.")
        kind, target = "project", await look.project(who.app_cred["project_id"])
    elif scope is not None and scope != "unscoped":
        kind, target = await _scope_target(look, scope)
    elif scope is None and who.parent_scope is not None and who.parent_scope.scope_type:
        parent = who.parent_scope
        if parent.project_id:
            kind, target = "project", await look.project(parent.project_id)
        elif parent.domain_id:
            kind, target = "domain", await look.project(parent.domain_id, domain=True)
        else:
            kind = "system"
    elif scope is None and who.user.get("default_project_id"):
        try:
            candidate = await look.project(who.user["default_project_id"])
        except NotFound:
            candidate = None
        if candidate and candidate["enabled"] and await look.role_ids(
                user_id, project_id=candidate["id"]):
            kind, target = "project", candidate
    grant: trusts.Grant | None = None
    if kind == "trust":
        assert target is not None
        grant = await trusts.redeem(look.conn, target, user_id)
        who.user, user_id = grant.user, grant.user["id"]
        kind, target = ("project", grant.project) if grant.project else (None, None)
    role_ids: set[str] = set()
    if kind is not None:
        if target is not None and not target["enabled"]:
            raise _refuse(f"The {kind} {target['id']} is disabled.")
        if kind == "project":
            assert target is not None
            domain = await look.project(target["domain_id"], domain=True)
            if not domain["enabled"]:
                raise _refuse(f"The domain of project {target['id']} is disabled.")
            role_ids = grant.role_ids if grant else await look.role_ids(
                user_id, project_id=target["id"])
        elif kind == "domain":
            assert target is not None
            role_ids = await look.role_ids(user_id, domain_id=target["id"])
        else:
            role_ids = await look.role_ids(user_id, system=True)
        if who.app_cred is not None:
            role_ids &= {r["id"] for r in who.app_cred["roles"]}
        if not role_ids:
            where = target["id"] if target else "the system"
            raise _refuse(f"User {user_id} has no access to {kind} {where}.")
    role_rows = await look.roles(role_ids)
    issued = now()
    lifetime = issued + identity.settings.token_expiration
    expires = min(lifetime, who.expires_at) if who.expires_at else lifetime
    if grant is not None:
        expires = min(expires, grant.trust["expires_at"] or expires)
        if grant.trust["remaining_uses"] is not None:
            async with identity.write() as spending:
                await trusts.consume_use(spending, grant.trust["id"])
    audit_ids = [new_audit_id()] + ([who.audit_chain] if who.audit_chain else [])
    payload = TokenPayload(
        user_id=user_id, methods=who.methods, expires_at=expires, issued_at=issued,
        audit_ids=audit_ids, user_domain_id=who.user["domain_id"],
        project_id=target["id"] if kind == "project" and target else None,
        project_domain_id=target["domain_id"] if kind == "project" and target else None,
        domain_id=target["id"] if kind == "domain" and target else None,
        system="all" if kind == "system" else None,
        roles=sorted(r["name"] for r in role_rows.values()),
        app_cred_id=who.app_cred["id"] if who.app_cred else None,
        trust_id=grant.trust["id"] if grant else None,
        is_domain_project=bool(target and target.get("is_domain") and kind == "project"))
    return payload, who


async def render(identity: Identity, conn: AsyncConnection, payload: TokenPayload, *,
                 catalog_wanted: bool = True) -> dict[str, Any]:
    """The token document, with roles and names as they are now."""
    look = Lookups(identity, conn)
    user_row = await look.user(payload.user_id)
    user_domain = await look.project(user_row["domain_id"], domain=True)
    password_row = await look.password(user_row["id"])
    body: dict[str, Any] = {
        "methods": payload.methods,
        "user": {"id": user_row["id"], "name": user_row["name"],
                 "domain": {"id": user_domain["id"], "name": user_domain["name"]},
                 "password_expires_at": users.password_expires_at(password_row)},
        "audit_ids": payload.audit_ids,
        "expires_at": isotime(payload.expires_at),
        "issued_at": isotime(payload.issued_at),
    }
    role_ids: set[str] = set()
    if payload.project_id:
        target = await look.project(payload.project_id, domain=None)
        domain = await look.project(target["domain_id"], domain=True)
        body["project"] = {"id": target["id"], "name": target["name"],
                           "domain": {"id": domain["id"], "name": domain["name"]}}
        body["is_domain"] = bool(target["is_domain"])
        role_ids = await look.role_ids(payload.user_id, project_id=target["id"])
    elif payload.domain_id:
        target = await look.project(payload.domain_id, domain=True)
        body["domain"] = {"id": target["id"], "name": target["name"]}
        role_ids = await look.role_ids(payload.user_id, domain_id=target["id"])
    elif payload.system:
        body["system"] = {"all": True}
        role_ids = await look.role_ids(payload.user_id, system=True)
    if payload.trust_id:
        body["OS-TRUST:trust"], role_ids = await trusts.token_view(identity.db, payload)
    if payload.app_cred_id:
        cred = await app_creds.find_by_id(look.conn, payload.app_cred_id)
        if cred is None:
            raise NotFound("Could not find token.")
        role_ids &= {r["id"] for r in cred["roles"]}
        body["application_credential"] = {"id": cred["id"], "name": cred["name"],
                                          "restricted": not cred["unrestricted"]}
    if payload.scope_type:
        if not role_ids:
            raise NotFound("Could not find token: the user has no role on its scope any more.")
        role_rows = await look.roles(role_ids)
        body["roles"] = [{"id": r["id"], "name": r["name"]} for r in
                         sorted(role_rows.values(), key=lambda r: r["name"])]
        if catalog_wanted:
            body["catalog"] = await look.catalog(payload.project_id)
    return {"token": body}
