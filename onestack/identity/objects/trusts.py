"""OS-TRUST trusts: a trustor delegates some of their roles on one project to a
trustee, optionally impersonating, expiring, limited in uses, and redelegable.

A trust is never updated but for its remaining uses; deleting one marks it
deleted (and every trust redelegated from it), so its tokens can be told apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import trust
from onestack.identity.objects import assignments, projects, roles, users
from onestack.identity.objects.common import new_id, not_found, now
from onestack.kernel.api.faults import BadRequest, Forbidden, NotFound
from onestack.kernel.db import Database
from onestack.kernel.tokens import TokenPayload

# How many times a redelegable trust may be redelegated when the trustor does not
# say (Keystone's [trust] max_redelegation_count).
MAX_REDELEGATION_COUNT = 3
# A redelegation chain longer than this is refused outright (loops, corruption).
_MAX_CHAIN = 32


def _row(found: Any) -> dict[str, Any] | None:
    return dict(found._mapping) if found is not None else None


def usable(row: dict[str, Any], *, uses_spent_ok: bool = False) -> bool:
    """Not deleted, not expired, and (unless ``uses_spent_ok``) with uses left."""
    if row["deleted_at"] is not None:
        return False
    if row["expires_at"] is not None and row["expires_at"] <= now():
        return False
    return uses_spent_ok or row["remaining_uses"] is None or row["remaining_uses"] > 0


async def find(conn: AsyncConnection, trust_id: str, *, uses_spent_ok: bool = False
               ) -> dict[str, Any] | None:
    found = _row((await conn.execute(sa.select(trust).where(trust.c.id == trust_id))).first())
    if found is None or not usable(found, uses_spent_ok=uses_spent_ok):
        return None
    return found


async def get(conn: AsyncConnection, trust_id: str) -> dict[str, Any]:
    found = await find(conn, trust_id)
    if found is None:
        raise not_found("trust", trust_id)
    return found


async def list_trusts(conn: AsyncConnection, *, trustor_user_id: str | None = None,
                      trustee_user_id: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(trust).where(trust.c.deleted_at.is_(None))
    if trustor_user_id is not None:
        query = query.where(trust.c.trustor_user_id == trustor_user_id)
    if trustee_user_id is not None:
        query = query.where(trust.c.trustee_user_id == trustee_user_id)
    rows = [dict(r._mapping) for r in await conn.execute(query.order_by(trust.c.id))]
    return [r for r in rows if usable(r)]


async def resolve_roles(conn: AsyncConnection, refs: list[dict[str, Any]]
                        ) -> list[dict[str, Any]]:
    """Role rows from ``{"id": ...}`` or ``{"name": ..., "domain_id": ...}`` refs."""
    found: dict[str, dict[str, Any]] = {}
    for ref in refs:
        if ref.get("id"):
            row = await roles.get(conn, ref["id"])
        elif ref.get("name"):
            row = await roles.find(conn, ref["name"], ref.get("domain_id"))
            if row is None:
                raise not_found("role", ref["name"])
        else:
            raise BadRequest("Invalid input for field 'roles': each role needs an id or "
                             "a name.")
        found[row["id"]] = row
    return list(found.values())


async def check_redelegation(conn: AsyncConnection, parent: dict[str, Any],
                             body: dict[str, Any], role_ids: set[str],
                             expires_at: float | None) -> tuple[float | None, int | None]:
    """Whether a trust-scoped token may create the trust in ``body`` from ``parent``;
    the expiry and redelegation count the new trust gets."""
    if not parent["extra"].get("allow_redelegation") or not parent["redelegation_count"]:
        raise Forbidden(f"Trust {parent['id']} does not allow redelegation (or its "
                        "redelegation depth is exhausted).")
    if body["trustor_user_id"] != parent["trustee_user_id"]:
        raise Forbidden("A redelegated trust must have the trustee of the original trust "
                        "as its trustor.")
    if body.get("project_id") != parent["project_id"]:
        raise Forbidden("A redelegated trust must be on the project of the original trust.")
    if not role_ids <= set(parent["roles"]):
        raise Forbidden("Some of the requested roles are not in the redelegated trust.")
    if body["impersonation"] and not parent["impersonation"]:
        raise Forbidden("Impersonation is not allowed: the redelegated trust does not "
                        "impersonate.")
    if parent["expires_at"] is not None:
        if expires_at is None:
            expires_at = parent["expires_at"]
        elif expires_at > parent["expires_at"]:
            raise Forbidden("A redelegated trust cannot outlive the trust it comes from.")
    depth = parent["redelegation_count"] - 1
    if not body.get("allow_redelegation"):
        return expires_at, None
    wanted = body.get("redelegation_count")
    if wanted is not None and wanted > depth:
        raise Forbidden(f"Remaining redelegation depth of {wanted} is out of the allowed "
                        f"range of [0..{depth}].")
    return expires_at, depth if wanted is None else wanted


async def create(conn: AsyncConnection, *, body: dict[str, Any], role_ids: list[str],
                 expires_at: float | None, redelegation_count: int | None,
                 parent_id: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    values = {"id": new_id(), "trustor_user_id": body["trustor_user_id"],
              "trustee_user_id": body["trustee_user_id"],
              "project_id": body.get("project_id"), "impersonation": body["impersonation"],
              "expires_at": expires_at, "remaining_uses": body.get("remaining_uses"),
              "redelegation_count": redelegation_count, "redelegated_trust_id": parent_id,
              "roles": role_ids, "deleted_at": None,
              "extra": {**extra, "allow_redelegation": bool(body.get("allow_redelegation"))}}
    await conn.execute(sa.insert(trust).values(**values))
    return values


async def delete(conn: AsyncConnection, trust_id: str) -> list[str]:
    """Mark the trust and every trust redelegated from it deleted; their ids."""
    moment = now()
    deleted: list[str] = []
    frontier = [trust_id]
    while frontier:
        current = frontier.pop()
        result = await conn.execute(sa.update(trust).where(
            trust.c.id == current, trust.c.deleted_at.is_(None)).values(deleted_at=moment))
        if result.rowcount:
            deleted.append(current)
            children = await conn.execute(sa.select(trust.c.id).where(
                trust.c.redelegated_trust_id == current, trust.c.deleted_at.is_(None)))
            frontier.extend(r[0] for r in children)
    return deleted


async def delete_for_user(conn: AsyncConnection, user_id: str) -> list[str]:
    """When a user goes, so do the trusts they gave or received; the ids, to revoke."""
    rows = await conn.execute(sa.select(trust.c.id).where(
        trust.c.deleted_at.is_(None),
        sa.or_(trust.c.trustor_user_id == user_id, trust.c.trustee_user_id == user_id)))
    deleted: list[str] = []
    for (trust_id,) in rows.all():
        deleted.extend(await delete(conn, trust_id))
    return deleted


async def consume_use(conn: AsyncConnection, trust_id: str) -> None:
    """Spend one use of a limited trust, atomically."""
    result = await conn.execute(sa.update(trust).where(
        trust.c.id == trust_id, trust.c.remaining_uses.is_not(None),
        trust.c.remaining_uses > 0).values(remaining_uses=trust.c.remaining_uses - 1))
    if result.rowcount:
        return
    row = _row((await conn.execute(sa.select(trust).where(trust.c.id == trust_id))).first())
    if row is None or row["remaining_uses"] is not None:
        raise Forbidden(f"Trust {trust_id} has no uses left.")


async def _chain(conn: AsyncConnection, row: dict[str, Any], *, uses_spent_ok: bool
                 ) -> list[dict[str, Any]]:
    """The trust and the trusts it was redelegated from, all still in force."""
    chain = [row]
    while chain[-1]["redelegated_trust_id"]:
        if len(chain) > _MAX_CHAIN:
            raise Forbidden("The redelegation chain of this trust is too long.")
        parent = await find(conn, chain[-1]["redelegated_trust_id"], uses_spent_ok=True)
        if parent is None:
            raise NotFound(f"Could not find trust: {chain[-1]['redelegated_trust_id']}.")
        chain.append(parent)
    if not usable(row, uses_spent_ok=uses_spent_ok):
        raise not_found("trust", row["id"])
    return chain


async def delegated_role_ids(conn: AsyncConnection, row: dict[str, Any], *,
                             uses_spent_ok: bool = False) -> set[str]:
    """The roles a token of this trust carries: the trust's roles and what they imply,
    as long as the original trustor still holds every delegated role."""
    if not row["project_id"]:
        return set()
    chain = await _chain(conn, row, uses_spent_ok=uses_spent_ok)
    held = await assignments.effective_role_ids(conn, chain[-1]["trustor_user_id"],
                                                project_id=row["project_id"])
    if not set(row["roles"]) <= held:
        raise Forbidden("Trustee has no delegated roles: the trustor no longer holds them.")
    return await roles.expand(conn, set(row["roles"])) & held


@dataclass
class Grant:
    """What a trust lets its trustee have: the user a token speaks for, the project
    and the roles."""

    trust: dict[str, Any]
    user: dict[str, Any]
    project: dict[str, Any] | None
    role_ids: set[str]


async def lookup_for_scope(conn: AsyncConnection, ref: Any) -> dict[str, Any]:
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
        raise BadRequest("Invalid input for field 'scope/OS-TRUST:trust/id'.")
    return await get(conn, ref["id"])


async def redeem(conn: AsyncConnection, row: dict[str, Any], user_id: str) -> Grant:
    """Check that ``user_id`` may use the trust now; what the token gets."""
    if row["trustee_user_id"] != user_id:
        raise Forbidden(f"User {user_id} is not the trustee of trust {row['id']}.")
    trustor = await users.get(conn, row["trustor_user_id"])
    if not trustor["enabled"]:
        raise Forbidden(f"The trustor of trust {row['id']} is disabled.")
    speaker = trustor if row["impersonation"] else await users.get(conn, user_id)
    project = await projects.get(conn, row["project_id"]) if row["project_id"] else None
    return Grant(trust=row, user=speaker, project=project,
                 role_ids=await delegated_role_ids(conn, row))


def token_section(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "impersonation": row["impersonation"],
            "trustor_user": {"id": row["trustor_user_id"]},
            "trustee_user": {"id": row["trustee_user_id"]},
            "remaining_uses": row["remaining_uses"]}


async def token_view(db: Database, payload: TokenPayload) -> tuple[dict[str, Any], set[str]]:
    """The ``OS-TRUST:trust`` section and roles of a trust-scoped token, as they are
    now (read afresh: issuing the token may just have spent a use); NotFound when the
    trust no longer stands behind the token."""
    async with db.reader() as conn:
        return await _token_view(conn, payload)


async def _token_view(conn: AsyncConnection, payload: TokenPayload
                      ) -> tuple[dict[str, Any], set[str]]:
    assert payload.trust_id is not None
    row = await find(conn, payload.trust_id, uses_spent_ok=True)
    if row is None:
        raise NotFound("Could not find token: its trust is gone.")
    try:
        role_ids = await delegated_role_ids(conn, row, uses_spent_ok=True)
        for user_id in (row["trustor_user_id"], row["trustee_user_id"]):
            if not (await users.get(conn, user_id))["enabled"]:
                raise Forbidden("A user of the trust is disabled.")
    except (Forbidden, NotFound):
        raise NotFound("Could not find token: its trust no longer holds.") from None
    return token_section(row), role_ids
