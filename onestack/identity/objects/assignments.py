"""Role assignments: grants, the effective roles of a user on a scope, and the
``/v3/role_assignments`` listing with group, inheritance and implied-role expansion."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import NULL_DOMAIN, assignment, project, role, user_group
from onestack.identity.objects import projects, roles

SYSTEM = "system"
_TYPES = {("user", "project"): "UserProject", ("group", "project"): "GroupProject",
          ("user", "domain"): "UserDomain", ("group", "domain"): "GroupDomain",
          ("user", "system"): "UserSystem", ("group", "system"): "GroupSystem"}
_KINDS = {value: key for key, value in _TYPES.items()}


def _key(actor: str, actor_id: str, target: str, target_id: str, role_id: str,
         inherited: bool) -> dict[str, Any]:
    return {"type": _TYPES[(actor, target)], "actor_id": actor_id, "target_id": target_id,
            "role_id": role_id, "inherited": inherited}


async def grant(conn: AsyncConnection, actor: str, actor_id: str, target: str,
                target_id: str, role_id: str, inherited: bool = False) -> None:
    key = _key(actor, actor_id, target, target_id, role_id, inherited)
    exists = await conn.execute(sa.select(assignment.c.role_id).where(
        *(assignment.c[k] == v for k, v in key.items())))
    if exists.first() is None:
        await conn.execute(sa.insert(assignment).values(**key))


async def revoke(conn: AsyncConnection, actor: str, actor_id: str, target: str,
                 target_id: str, role_id: str, inherited: bool = False) -> bool:
    key = _key(actor, actor_id, target, target_id, role_id, inherited)
    result = await conn.execute(sa.delete(assignment).where(
        *(assignment.c[k] == v for k, v in key.items())))
    return result.rowcount > 0


async def check(conn: AsyncConnection, actor: str, actor_id: str, target: str,
                target_id: str, role_id: str, inherited: bool = False) -> bool:
    key = _key(actor, actor_id, target, target_id, role_id, inherited)
    found = await conn.execute(sa.select(assignment.c.role_id).where(
        *(assignment.c[k] == v for k, v in key.items())))
    return found.first() is not None


async def roles_granted(conn: AsyncConnection, actor: str, actor_id: str, target: str,
                        target_id: str, inherited: bool = False) -> list[str]:
    rows = await conn.execute(sa.select(assignment.c.role_id).where(
        assignment.c.type == _TYPES[(actor, target)], assignment.c.actor_id == actor_id,
        assignment.c.target_id == target_id, assignment.c.inherited == inherited))
    return [r[0] for r in rows]


async def remove_for_actor(conn: AsyncConnection, actor_id: str) -> None:
    await conn.execute(sa.delete(assignment).where(assignment.c.actor_id == actor_id))


async def remove_for_target(conn: AsyncConnection, target_id: str) -> None:
    await conn.execute(sa.delete(assignment).where(assignment.c.target_id == target_id))


async def users_holding(conn: AsyncConnection, role_id: str) -> set[str]:
    """Every user whose tokens may carry ``role_id``: granted it, or a role implying
    it, directly or through a group."""
    rules = await roles.all_inferences(conn)
    priors = {role_id}
    changed = True
    while changed:
        found = {p for p, implied in rules.items() if priors & set(implied)} - priors
        priors |= found
        changed = bool(found)
    rows = await conn.execute(sa.select(assignment.c.type, assignment.c.actor_id)
                              .where(assignment.c.role_id.in_(priors)))
    holders: set[str] = set()
    for kind, actor_id in rows:
        if kind.startswith("Group"):
            holders.update(await _members(conn, actor_id))
        else:
            holders.add(actor_id)
    return holders


async def group_ids_of(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(sa.select(user_group.c.group_id)
                              .where(user_group.c.user_id == user_id))
    return [r[0] for r in rows]


async def effective_role_ids(conn: AsyncConnection, user_id: str, *,
                             project_id: str | None = None, domain_id: str | None = None,
                             system: bool = False) -> set[str]:
    """Every role the user holds on the scope: directly, through groups, inherited
    from the project's ancestors or domain, and implied. Domain-specific roles only
    contribute what they imply."""
    actors = [user_id, *await group_ids_of(conn, user_id)]
    direct: list[tuple[str, bool]] = []
    inherited_from: list[str] = []
    if project_id:
        direct.append((project_id, False))
        inherited_from = [p["id"] for p in await projects.ancestors(conn, project_id)]
    elif domain_id:
        direct.append((domain_id, False))
    elif system:
        direct.append((SYSTEM, False))
    conditions = [sa.and_(assignment.c.target_id == t, assignment.c.inherited == i)
                  for t, i in direct]
    if inherited_from:
        conditions.append(sa.and_(assignment.c.target_id.in_(inherited_from),
                                  assignment.c.inherited.is_(True)))
    if not conditions:
        return set()
    rows = await conn.execute(sa.select(assignment.c.role_id).where(
        assignment.c.actor_id.in_(actors), sa.or_(*conditions)))
    granted = {r[0] for r in rows}
    if not granted:
        return set()
    all_roles = await roles.expand(conn, granted)
    global_roles = await conn.execute(sa.select(role.c.id).where(
        role.c.id.in_(all_roles), role.c.domain_id == NULL_DOMAIN))
    return {r[0] for r in global_roles}


@dataclass(frozen=True)
class Entry:
    actor: str          # "user" | "group"
    actor_id: str
    target: str         # "project" | "domain" | "system"
    target_id: str
    role_id: str
    inherited: bool
    links: tuple[tuple[str, str], ...] = field(default=())


def _assignment_link(entry: Entry, url: Any) -> str:
    role_part = f"{entry.actor}s/{entry.actor_id}/roles/{entry.role_id}"
    if entry.target == "system":
        return url(f"system/{role_part}")
    if entry.inherited:
        return url(f"OS-INHERIT/{entry.target}s/{entry.target_id}/{role_part}"
                   "/inherited_to_projects")
    return url(f"{entry.target}s/{entry.target_id}/{role_part}")


async def _members(conn: AsyncConnection, group_id: str) -> list[str]:
    rows = await conn.execute(sa.select(user_group.c.user_id)
                              .where(user_group.c.group_id == group_id))
    return [r[0] for r in rows]


async def _inherit_targets(conn: AsyncConnection, entry: Entry) -> list[str]:
    if entry.target == "domain":
        rows = await conn.execute(sa.select(project.c.id).where(
            project.c.domain_id == entry.target_id, project.c.is_domain.is_(False)))
        return [r[0] for r in rows]
    return [p["id"] for p in await projects.descendants(conn, entry.target_id)]


async def listing(conn: AsyncConnection, query: dict[str, Any], url: Any) -> list[Entry]:
    """The entries of ``GET /v3/role_assignments`` for the parsed query."""
    rows = await conn.execute(sa.select(assignment).order_by(*assignment.primary_key.columns))
    entries = []
    for r in rows:
        actor, target = _KINDS[r.type]
        entry = Entry(actor, r.actor_id, target, r.target_id, r.role_id, r.inherited)
        entries.append(replace(entry, links=(("assignment", _assignment_link(entry, url)),)))
    if query.get("effective"):
        entries = await _effective(conn, entries, url)
    return await _filter(conn, entries, query)


async def _effective(conn: AsyncConnection, entries: list[Entry], url: Any) -> list[Entry]:
    users: list[Entry] = []
    for entry in entries:
        if entry.actor == "group":
            for member in await _members(conn, entry.actor_id):
                link = url(f"groups/{entry.actor_id}/users/{member}")
                users.append(replace(entry, actor="user", actor_id=member,
                                     links=(*entry.links, ("membership", link))))
        else:
            users.append(entry)
    scoped: list[Entry] = []
    for entry in users:
        if entry.inherited:
            for target_id in await _inherit_targets(conn, entry):
                scoped.append(replace(entry, target="project", target_id=target_id,
                                      inherited=False))
        else:
            scoped.append(entry)
    rules = await roles.all_inferences(conn)
    expanded: list[Entry] = []
    for entry in scoped:
        expanded.append(entry)
        frontier = [entry.role_id]
        seen = {entry.role_id}
        while frontier:
            prior = frontier.pop()
            for implied in rules.get(prior, []):
                if implied not in seen:
                    seen.add(implied)
                    frontier.append(implied)
                    link = ("prior_role", url(f"roles/{prior}"))
                    expanded.append(replace(entry, role_id=implied,
                                            links=(*entry.links, link)))
    # A domain-specific role never reaches a token: only the roles it implies do.
    local = {r[0] for r in await conn.execute(sa.select(role.c.id).where(
        role.c.id.in_({e.role_id for e in expanded}), role.c.domain_id != NULL_DOMAIN))}
    unique: dict[tuple[Any, ...], Entry] = {}
    for entry in [e for e in expanded if e.role_id not in local]:
        unique.setdefault((entry.actor_id, entry.target, entry.target_id, entry.role_id),
                          entry)
    return list(unique.values())


async def _filter(conn: AsyncConnection, entries: list[Entry], query: dict[str, Any]
                  ) -> list[Entry]:
    wanted_projects: set[str] | None = None
    if query.get("project_id"):
        wanted_projects = {query["project_id"]}
        if query.get("include_subtree"):
            below = await projects.descendants(conn, query["project_id"])
            wanted_projects |= {p["id"] for p in below}
    result = []
    for e in entries:
        if query.get("user_id") and (e.actor, e.actor_id) != ("user", query["user_id"]):
            continue
        if query.get("group_id") and (e.actor, e.actor_id) != ("group", query["group_id"]):
            continue
        if query.get("role_id") and e.role_id != query["role_id"]:
            continue
        if wanted_projects is not None and (e.target != "project"
                                            or e.target_id not in wanted_projects):
            continue
        if query.get("domain_id") and (e.target, e.target_id) != ("domain",
                                                                 query["domain_id"]):
            continue
        if query.get("system") and e.target != "system":
            continue
        if query.get("inherited") and not e.inherited:
            continue
        result.append(e)
    return result
