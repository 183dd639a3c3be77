"""OS-EP-FILTER: endpoint groups (saved endpoint filters) and the project associations
that narrow a project-scoped token's catalog to chosen endpoints."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import (
    endpoint,
    endpoint_group,
    project_endpoint,
    project_endpoint_group,
)
from onestack.identity.objects.common import new_id, not_found
from onestack.kernel.api.faults import BadRequest

FILTER_KEYS = ("service_id", "region_id", "interface")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


def check_filters(filters: Any) -> dict[str, Any]:
    if not isinstance(filters, dict) or not filters:
        raise BadRequest("Invalid input for field 'filters': it is required and cannot be "
                         "empty.")
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise BadRequest(f"Invalid input for field 'filters': {unknown[0]!r} is not one of "
                         f"{', '.join(FILTER_KEYS)}.")
    for key, value in filters.items():
        if not isinstance(value, str):
            raise BadRequest(f"Invalid input for field 'filters.{key}': a string is "
                             "expected.")
    return dict(filters)


# -- endpoint groups ---------------------------------------------------------------------
async def get(conn: AsyncConnection, group_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(endpoint_group)
                                .where(endpoint_group.c.id == group_id))).first()
    if found is None:
        raise not_found("endpoint group", group_id)
    return dict(found._mapping)


async def list_all(conn: AsyncConnection, name: str | None = None,
                   ids: set[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(endpoint_group).order_by(endpoint_group.c.name, endpoint_group.c.id)
    if name is not None:
        query = query.where(endpoint_group.c.name == name)
    if ids is not None:
        query = query.where(endpoint_group.c.id.in_(ids))
    return _rows(await conn.execute(query))


async def create(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    values = {"id": new_id(), "name": body["name"], "description": body.get("description"),
              "filters": check_filters(body.get("filters"))}
    await conn.execute(sa.insert(endpoint_group).values(**values))
    return values


async def update(conn: AsyncConnection, current: dict[str, Any], body: dict[str, Any]
                 ) -> dict[str, Any]:
    values = {k: body[k] for k in ("name", "description") if k in body}
    if "filters" in body:
        values["filters"] = check_filters(body["filters"])
    if values:
        await conn.execute(sa.update(endpoint_group)
                           .where(endpoint_group.c.id == current["id"]).values(**values))
    return await get(conn, current["id"])


async def delete(conn: AsyncConnection, group_id: str) -> None:
    await get(conn, group_id)
    await conn.execute(sa.delete(project_endpoint_group)
                       .where(project_endpoint_group.c.endpoint_group_id == group_id))
    await conn.execute(sa.delete(endpoint_group).where(endpoint_group.c.id == group_id))


async def matching(conn: AsyncConnection, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoints an endpoint group's filters select."""
    query = sa.select(endpoint).order_by(endpoint.c.id)
    for key, value in filters.items():
        query = query.where(endpoint.c[key] == value)
    return _rows(await conn.execute(query))


# -- projects <-> endpoint groups --------------------------------------------------------
def _group_key(group_id: str, project_id: str) -> tuple[Any, ...]:
    return (project_endpoint_group.c.endpoint_group_id == group_id,
            project_endpoint_group.c.project_id == project_id)


async def add_project(conn: AsyncConnection, group_id: str, project_id: str) -> None:
    if not await has_project(conn, group_id, project_id):
        await conn.execute(sa.insert(project_endpoint_group).values(
            endpoint_group_id=group_id, project_id=project_id))


async def has_project(conn: AsyncConnection, group_id: str, project_id: str) -> bool:
    found = await conn.execute(sa.select(project_endpoint_group.c.project_id)
                               .where(*_group_key(group_id, project_id)))
    return found.first() is not None


async def remove_project(conn: AsyncConnection, group_id: str, project_id: str) -> bool:
    result = await conn.execute(sa.delete(project_endpoint_group)
                                .where(*_group_key(group_id, project_id)))
    return result.rowcount > 0


async def project_ids_of_group(conn: AsyncConnection, group_id: str) -> list[str]:
    rows = await conn.execute(sa.select(project_endpoint_group.c.project_id)
                              .where(project_endpoint_group.c.endpoint_group_id == group_id))
    return [r[0] for r in rows]


async def group_ids_of_project(conn: AsyncConnection, project_id: str) -> set[str]:
    rows = await conn.execute(sa.select(project_endpoint_group.c.endpoint_group_id)
                              .where(project_endpoint_group.c.project_id == project_id))
    return {r[0] for r in rows}


# -- projects <-> endpoints --------------------------------------------------------------
def _endpoint_key(project_id: str, endpoint_id: str) -> tuple[Any, ...]:
    return (project_endpoint.c.project_id == project_id,
            project_endpoint.c.endpoint_id == endpoint_id)


async def add_endpoint(conn: AsyncConnection, project_id: str, endpoint_id: str) -> None:
    if not await has_endpoint(conn, project_id, endpoint_id):
        await conn.execute(sa.insert(project_endpoint).values(
            project_id=project_id, endpoint_id=endpoint_id))


async def has_endpoint(conn: AsyncConnection, project_id: str, endpoint_id: str) -> bool:
    found = await conn.execute(sa.select(project_endpoint.c.project_id)
                               .where(*_endpoint_key(project_id, endpoint_id)))
    return found.first() is not None


async def remove_endpoint(conn: AsyncConnection, project_id: str, endpoint_id: str) -> bool:
    result = await conn.execute(sa.delete(project_endpoint)
                                .where(*_endpoint_key(project_id, endpoint_id)))
    return result.rowcount > 0


async def project_ids_of_endpoint(conn: AsyncConnection, endpoint_id: str) -> list[str]:
    rows = await conn.execute(sa.select(project_endpoint.c.project_id)
                              .where(project_endpoint.c.endpoint_id == endpoint_id))
    return [r[0] for r in rows]


async def endpoint_ids_for_project(conn: AsyncConnection, project_id: str) -> set[str] | None:
    """The endpoints a project is limited to, directly or through endpoint groups;
    ``None`` when nothing limits it (its catalog then lists every endpoint)."""
    direct = {r[0] for r in await conn.execute(
        sa.select(project_endpoint.c.endpoint_id)
        .where(project_endpoint.c.project_id == project_id))}
    group_ids = await group_ids_of_project(conn, project_id)
    if not direct and not group_ids:
        return None
    chosen = set(direct)
    for group in await list_all(conn, ids=group_ids):
        chosen |= {e["id"] for e in await matching(conn, group["filters"])}
    return chosen


async def forget_project(conn: AsyncConnection, project_id: str) -> None:
    await conn.execute(sa.delete(project_endpoint)
                       .where(project_endpoint.c.project_id == project_id))
    await conn.execute(sa.delete(project_endpoint_group)
                       .where(project_endpoint_group.c.project_id == project_id))


async def forget_endpoint(conn: AsyncConnection, endpoint_id: str) -> None:
    await conn.execute(sa.delete(project_endpoint)
                       .where(project_endpoint.c.endpoint_id == endpoint_id))
