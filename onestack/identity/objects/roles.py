"""Roles (global and domain-specific) and role inference rules (implied roles)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import NULL_DOMAIN, implied_role, role
from onestack.identity.objects.common import new_id, not_found, split_extra
from onestack.kernel.api.faults import BadRequest, Conflict, Forbidden
from onestack.kernel.db import is_duplicate

ROLE_COLUMNS = {"id", "name", "domain_id", "description", "options"}
_ROLE_OPTIONS = {"immutable"}


def public_domain(row: dict[str, Any]) -> str | None:
    return None if row["domain_id"] == NULL_DOMAIN else row["domain_id"]


async def get(conn: AsyncConnection, role_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(role).where(role.c.id == role_id))).first()
    if found is None:
        raise not_found("role", role_id)
    return dict(found._mapping)


async def by_ids(conn: AsyncConnection, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(role).where(role.c.id.in_(ids)))
    return {r.id: dict(r._mapping) for r in rows}


async def find(conn: AsyncConnection, name: str, domain_id: str | None = None
               ) -> dict[str, Any] | None:
    query = sa.select(role).where(role.c.name == name,
                                  role.c.domain_id == (domain_id or NULL_DOMAIN))
    found = (await conn.execute(query)).first()
    return dict(found._mapping) if found else None


async def list_all(conn: AsyncConnection, *, name: str | None = None,
                   domain_id: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(role).where(role.c.domain_id == (domain_id or NULL_DOMAIN))
    if name is not None:
        query = query.where(role.c.name == name)
    return [dict(r._mapping) for r in await conn.execute(query.order_by(role.c.name))]


def _options(options: Any) -> dict[str, Any]:
    if not isinstance(options, dict) or set(options) - _ROLE_OPTIONS:
        raise BadRequest("Invalid input for field 'options': the only role option is "
                         "'immutable'.")
    return {k: v for k, v in options.items() if v is not None}


async def create(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, ROLE_COLUMNS)
    values = {"id": known.get("id") or new_id(), "name": known["name"],
              "domain_id": known.get("domain_id") or NULL_DOMAIN,
              "description": known.get("description"),
              "options": _options(known.get("options") or {}), "extra": extra}
    try:
        await conn.execute(sa.insert(role).values(**values))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise Conflict("Conflict occurred attempting to store role - Duplicate entry "
                           f"found with name {values['name']}.") from None
        raise
    return values


def _refuse_immutable(row: dict[str, Any], action: str) -> None:
    if (row.get("options") or {}).get("immutable"):
        raise Forbidden(f"Cannot {action} role {row['id']}: it is immutable.")


async def update(conn: AsyncConnection, current: dict[str, Any], body: dict[str, Any]
                 ) -> dict[str, Any]:
    known, extra = split_extra(body, ROLE_COLUMNS)
    options = _options(known["options"]) if "options" in known else None
    unlocking = options is not None and not options.get("immutable", False)
    if not unlocking:
        _refuse_immutable(current, "update")
    if "domain_id" in known and (known["domain_id"] or NULL_DOMAIN) != current["domain_id"]:
        raise BadRequest("Cannot change the domain_id of a role.")
    values = {k: known[k] for k in ("name", "description") if k in known}
    if options is not None:
        values["options"] = options
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        try:
            await conn.execute(sa.update(role).where(role.c.id == current["id"])
                               .values(**values))
        except sa.exc.IntegrityError as exc:
            if is_duplicate(exc):
                raise Conflict("Conflict occurred attempting to update role - Duplicate "
                               f"entry found with name {values.get('name')}.") from None
            raise
    return await get(conn, current["id"])


async def delete(conn: AsyncConnection, current: dict[str, Any]) -> None:
    _refuse_immutable(current, "delete")
    await conn.execute(sa.delete(role).where(role.c.id == current["id"]))


# -- role inference ------------------------------------------------------------------
async def add_implied(conn: AsyncConnection, prior: dict[str, Any],
                      implied: dict[str, Any]) -> None:
    if public_domain(implied) is not None and public_domain(prior) is None:
        raise Forbidden("A global role cannot imply a domain-specific role.")
    if prior["id"] == implied["id"] or prior["id"] in await expand(conn, {implied["id"]}):
        raise Forbidden(f"Role {prior['id']} cannot imply {implied['id']}: it would make a "
                        "cycle.")
    if await has_implied(conn, prior["id"], implied["id"]):
        return  # PUT is idempotent
    await conn.execute(sa.insert(implied_role).values(prior_role_id=prior["id"],
                                                      implied_role_id=implied["id"]))


async def implied_by(conn: AsyncConnection, prior_id: str) -> list[str]:
    rows = await conn.execute(sa.select(implied_role.c.implied_role_id)
                              .where(implied_role.c.prior_role_id == prior_id))
    return [r[0] for r in rows]


async def has_implied(conn: AsyncConnection, prior_id: str, implied_id: str) -> bool:
    row = (await conn.execute(sa.select(implied_role).where(
        implied_role.c.prior_role_id == prior_id,
        implied_role.c.implied_role_id == implied_id))).first()
    return row is not None


async def remove_implied(conn: AsyncConnection, prior_id: str, implied_id: str) -> bool:
    result = await conn.execute(sa.delete(implied_role).where(
        implied_role.c.prior_role_id == prior_id,
        implied_role.c.implied_role_id == implied_id))
    return result.rowcount > 0


async def all_inferences(conn: AsyncConnection) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    for prior_id, implied_id in await conn.execute(sa.select(implied_role)):
        rules.setdefault(prior_id, []).append(implied_id)
    return rules


async def expand(conn: AsyncConnection, role_ids: set[str]) -> set[str]:
    """The roles given and every role they imply, transitively."""
    rules = await all_inferences(conn)
    found = set(role_ids)
    frontier = list(role_ids)
    while frontier:
        for implied_id in rules.get(frontier.pop(), []):
            if implied_id not in found:
                found.add(implied_id)
                frontier.append(implied_id)
    return found
