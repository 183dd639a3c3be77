"""Application credentials: a secret a user delegates, limited to some of their roles
on one project, optionally expiring and limited by access rules."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import access_rule, application_credential
from onestack.identity.objects.common import new_id, not_found, now
from onestack.kernel.api.faults import Conflict
from onestack.kernel.db import is_duplicate


def new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()


def _row(found: Any) -> dict[str, Any] | None:
    return dict(found._mapping) if found is not None else None


async def find_by_id(conn: AsyncConnection, cred_id: str) -> dict[str, Any] | None:
    query = sa.select(application_credential).where(application_credential.c.id == cred_id)
    return _row((await conn.execute(query)).first())


async def find_by_name(conn: AsyncConnection, user_id: str, name: str
                       ) -> dict[str, Any] | None:
    query = sa.select(application_credential).where(
        application_credential.c.user_id == user_id, application_credential.c.name == name)
    return _row((await conn.execute(query)).first())


async def get(conn: AsyncConnection, user_id: str, cred_id: str) -> dict[str, Any]:
    found = await find_by_id(conn, cred_id)
    if found is None or found["user_id"] != user_id:
        raise not_found("application credential", cred_id)
    return found


async def list_for_user(conn: AsyncConnection, user_id: str, name: str | None = None
                        ) -> list[dict[str, Any]]:
    query = sa.select(application_credential).where(
        application_credential.c.user_id == user_id)
    if name is not None:
        query = query.where(application_credential.c.name == name)
    rows = await conn.execute(query.order_by(application_credential.c.name))
    return [dict(r._mapping) for r in rows]


async def _store_rules(conn: AsyncConnection, user_id: str, rules: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    stored = []
    for rule in rules:
        if rule.get("id"):
            found = (await conn.execute(sa.select(access_rule).where(
                access_rule.c.id == rule["id"], access_rule.c.user_id == user_id))).first()
            if found is None:
                raise not_found("access rule", rule["id"])
            stored.append({k: found._mapping[k] for k in ("id", "service", "path", "method")})
            continue
        existing = (await conn.execute(sa.select(access_rule).where(
            access_rule.c.user_id == user_id, access_rule.c.service == rule["service"],
            access_rule.c.path == rule["path"], access_rule.c.method == rule["method"]))
        ).first()
        rule_id = existing.id if existing else new_id()
        if existing is None:
            await conn.execute(sa.insert(access_rule).values(
                id=rule_id, user_id=user_id, service=rule["service"], path=rule["path"],
                method=rule["method"]))
        stored.append({"id": rule_id, "service": rule["service"], "path": rule["path"],
                       "method": rule["method"]})
    return stored


async def create(conn: AsyncConnection, *, user_id: str, project_id: str, name: str,
                 secret_hash: str, description: str | None, expires_at: float | None,
                 unrestricted: bool, role_refs: list[dict[str, str]],
                 rules: list[dict[str, Any]]) -> dict[str, Any]:
    values = {"id": new_id(), "name": name, "secret_hash": secret_hash,
              "description": description, "user_id": user_id, "project_id": project_id,
              "system": None, "expires_at": expires_at, "unrestricted": unrestricted,
              "roles": role_refs, "access_rules": await _store_rules(conn, user_id, rules),
              "created_at": now()}
    try:
        await conn.execute(sa.insert(application_credential).values(**values))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise Conflict("Conflict occurred attempting to store application_credential - "
                           "Duplicate name, " + name + ".") from None
        raise
    return values


async def delete(conn: AsyncConnection, cred_id: str) -> None:
    await conn.execute(sa.delete(application_credential)
                       .where(application_credential.c.id == cred_id))


async def delete_for_user(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(sa.select(application_credential.c.id)
                              .where(application_credential.c.user_id == user_id))
    ids = [r[0] for r in rows]
    await conn.execute(sa.delete(application_credential)
                       .where(application_credential.c.user_id == user_id))
    await conn.execute(sa.delete(access_rule).where(access_rule.c.user_id == user_id))
    return ids


async def list_rules(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(access_rule).where(access_rule.c.user_id == user_id))
    return [{k: r._mapping[k] for k in ("id", "service", "path", "method")} for r in rows]


async def rule_in_use(conn: AsyncConnection, user_id: str, rule_id: str) -> bool:
    for cred in await list_for_user(conn, user_id):
        if any(rule["id"] == rule_id for rule in cred["access_rules"]):
            return True
    return False


async def delete_rule(conn: AsyncConnection, user_id: str, rule_id: str) -> None:
    result = await conn.execute(sa.delete(access_rule).where(
        access_rule.c.id == rule_id, access_rule.c.user_id == user_id))
    if result.rowcount == 0:
        raise not_found("access rule", rule_id)
