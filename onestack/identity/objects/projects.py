"""Projects and domains. A domain is a project with ``is_domain`` set and
``domain_id`` set to the root sentinel; a top-level project's parent is its domain."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import ROOT_DOMAIN, project, project_tag
from onestack.identity.objects.common import new_id, not_found, split_extra
from onestack.kernel.api.faults import BadRequest, Conflict, Forbidden
from onestack.kernel.db import is_duplicate

MAX_TREE_DEPTH = 5
DEFAULT_DOMAIN = "default"
PROJECT_COLUMNS = {"id", "name", "domain_id", "parent_id", "is_domain", "enabled",
                   "description", "options", "tags"}
DOMAIN_COLUMNS = {"id", "name", "enabled", "description", "options", "tags"}


def _row(row: sa.Row[Any] | None) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


async def _tags(conn: AsyncConnection, ids: list[str]) -> dict[str, list[str]]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(project_tag.c.project_id, project_tag.c.name)
                              .where(project_tag.c.project_id.in_(ids)))
    tags: dict[str, list[str]] = {}
    for project_id, name in rows:
        tags.setdefault(project_id, []).append(name)
    return tags


async def with_tags(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tags = await _tags(conn, [r["id"] for r in rows])
    for row in rows:
        row["tags"] = sorted(tags.get(row["id"], []))
    return rows


async def get(conn: AsyncConnection, project_id: str, *, domain: bool | None = False
              ) -> dict[str, Any]:
    """A project (``domain=False``), a domain (``True``), or either (``None``)."""
    query = sa.select(project).where(project.c.id == project_id)
    if domain is not None:
        query = query.where(project.c.is_domain == domain)
    found = _row((await conn.execute(query)).first())
    if found is None:
        raise not_found("domain" if domain else "project", project_id)
    return (await with_tags(conn, [found]))[0]


async def find(conn: AsyncConnection, *, name: str, domain_id: str | None,
               is_domain: bool) -> dict[str, Any] | None:
    query = sa.select(project).where(project.c.name == name,
                                     project.c.is_domain == is_domain)
    query = query.where(project.c.domain_id == (ROOT_DOMAIN if is_domain else domain_id))
    return _row((await conn.execute(query)).first())


async def list_all(conn: AsyncConnection, *, is_domain: bool = False,
                   filters: dict[str, Any] | None = None,
                   tags: dict[str, list[str]] | None = None,
                   ids: set[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(project).where(project.c.is_domain == is_domain)
    for key, value in (filters or {}).items():
        if value is not None:
            query = query.where(project.c[key] == value)
    if ids is not None:
        query = query.where(project.c.id.in_(ids))
    rows = [dict(r._mapping) for r in await conn.execute(query.order_by(project.c.name))]
    rows = await with_tags(conn, rows)
    return [r for r in rows if _tags_match(set(r["tags"]), tags or {})]


def _tags_match(present: set[str], tags: dict[str, list[str]]) -> bool:
    if tags.get("tags") and not set(tags["tags"]) <= present:
        return False
    if tags.get("tags-any") and not set(tags["tags-any"]) & present:
        return False
    if tags.get("not-tags") and set(tags["not-tags"]) <= present:
        return False
    return not (tags.get("not-tags-any") and set(tags["not-tags-any"]) & present)


async def ancestors(conn: AsyncConnection, project_id: str) -> list[dict[str, Any]]:
    """Parents from the nearest up to the domain (the domain included)."""
    chain: list[dict[str, Any]] = []
    current = await get(conn, project_id, domain=None)
    while current["parent_id"]:
        current = await get(conn, current["parent_id"], domain=None)
        chain.append(current)
    return chain


async def descendants(conn: AsyncConnection, project_id: str) -> list[dict[str, Any]]:
    """Every project below, breadth first."""
    found: list[dict[str, Any]] = []
    frontier = [project_id]
    while frontier:
        rows = await conn.execute(sa.select(project).where(project.c.parent_id.in_(frontier),
                                                           project.c.is_domain.is_(False)))
        level = [dict(r._mapping) for r in rows]
        found.extend(level)
        frontier = [r["id"] for r in level]
    return await with_tags(conn, found)


def _validate_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or len(tags) > 80:
        raise BadRequest("Invalid input for field 'tags': a list of at most 80 tags.")
    for tag in tags:
        if not isinstance(tag, str) or not 0 < len(tag) <= 255 or "/" in tag or "," in tag:
            raise BadRequest(f"Invalid input for field 'tags': {tag!r} is not a valid tag.")
    return sorted(set(tags))


async def set_tags(conn: AsyncConnection, project_id: str, tags: Any) -> list[str]:
    clean = _validate_tags(tags)
    await conn.execute(sa.delete(project_tag).where(project_tag.c.project_id == project_id))
    if clean:
        await conn.execute(sa.insert(project_tag),
                           [{"project_id": project_id, "name": t} for t in clean])
    return clean


async def create(conn: AsyncConnection, body: dict[str, Any], *, is_domain: bool = False
                 ) -> dict[str, Any]:
    known, extra = split_extra(body, PROJECT_COLUMNS)
    values = {"id": known.get("id") or new_id(), "name": known["name"],
              "enabled": known.get("enabled", True),
              "description": known.get("description") or "",
              "options": known.get("options") or {}, "extra": extra,
              "is_domain": is_domain or bool(known.get("is_domain"))}
    if values["is_domain"]:
        values.update(domain_id=ROOT_DOMAIN, parent_id=None)
    else:
        domain_id = known.get("domain_id") or DEFAULT_DOMAIN
        parent_id = known.get("parent_id")
        if parent_id:
            parent = await get(conn, parent_id, domain=None)
            if parent["is_domain"]:
                domain_id = known.get("domain_id") or parent["id"]
            else:
                domain_id = known.get("domain_id") or parent["domain_id"]
                if parent["domain_id"] != domain_id:
                    raise BadRequest("Cannot create project: the parent is in another "
                                     "domain.")
                if len(await ancestors(conn, parent_id)) >= MAX_TREE_DEPTH:
                    raise Forbidden(f"Max hierarchy depth reached for {parent_id} branch.")
        else:
            parent_id = domain_id
        try:
            await get(conn, domain_id, domain=True)
        except Exception:
            raise BadRequest(f"Could not find domain: {domain_id}.") from None
        values.update(domain_id=domain_id, parent_id=parent_id)
    try:
        await conn.execute(sa.insert(project).values(**values))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            kind = "domain" if values["is_domain"] else "project"
            raise Conflict(f"Conflict occurred attempting to store {kind} - Duplicate entry "
                           f"found with name {values['name']}.") from None
        raise
    if "tags" in known:
        await set_tags(conn, values["id"], known["tags"])
    return await get(conn, values["id"], domain=None)


async def update(conn: AsyncConnection, current: dict[str, Any], body: dict[str, Any]
                 ) -> dict[str, Any]:
    columns = DOMAIN_COLUMNS if current["is_domain"] else PROJECT_COLUMNS
    known, extra = split_extra(body, columns)
    for immutable in ("id", "domain_id", "parent_id", "is_domain"):
        if immutable in known and known[immutable] != current.get(immutable):
            raise BadRequest(f"Cannot change the {immutable} of a project or domain.")
    values = {k: v for k, v in known.items() if k in ("name", "enabled", "description")}
    if "options" in known:
        values["options"] = {**current["options"], **(known["options"] or {})}
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        try:
            await conn.execute(sa.update(project).where(project.c.id == current["id"])
                               .values(**values))
        except sa.exc.IntegrityError as exc:
            if is_duplicate(exc):
                raise Conflict("Conflict occurred attempting to update project - Duplicate "
                               f"entry found with name {values.get('name')}.") from None
            raise
    if "tags" in known:
        await set_tags(conn, current["id"], known["tags"])
    return await get(conn, current["id"], domain=None)


async def delete(conn: AsyncConnection, target: dict[str, Any], *, cascade: bool = False
                 ) -> list[str]:
    """Delete a project (and, with cascade, its subtree); returns the deleted ids."""
    children = await descendants(conn, target["id"])
    if children and not cascade:
        raise Forbidden(f"Cannot delete the project {target['id']} since it is not a leaf "
                        "in the hierarchy. Use the cascade option if you want to delete a "
                        "whole subtree.")
    if cascade and any(c["enabled"] for c in children):
        raise Forbidden("Cannot delete a subtree that contains enabled projects.")
    ids = [c["id"] for c in reversed(children)] + [target["id"]]
    for project_id in ids:
        await conn.execute(sa.delete(project).where(project.c.id == project_id))
    return ids


def extra_of(row: dict[str, Any]) -> dict[str, Any]:
    return dict(row.get("extra") or {})
