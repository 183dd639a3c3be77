"""Metadata definition namespaces, resource types and their associations: persistence
and who sees what. A namespace is visible to admins, to everyone when public or
unowned, and to its owner project; the others never learn it exists (404)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.image.models import association, namespace, resource_type
from onestack.image.objects.images import Viewer, now
from onestack.kernel.api.faults import Conflict, NotFound

SORT_KEYS = ("namespace", "display_name", "created_at", "updated_at")


def is_visible(viewer: Viewer, row: dict[str, Any]) -> bool:
    return (viewer.is_admin or row["visibility"] == "public" or row["owner"] is None
            or (viewer.project_id is not None and row["owner"] == viewer.project_id))


def is_owner(viewer: Viewer, row: dict[str, Any]) -> bool:
    return viewer.is_admin or (viewer.project_id is not None
                               and row["owner"] == viewer.project_id)


async def find(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(namespace).where(namespace.c.namespace == name))
           ).first()
    return dict(row._mapping) if row is not None else None


async def load(conn: AsyncConnection, viewer: Viewer, name: str) -> dict[str, Any]:
    row = await find(conn, name)
    if row is None or not is_visible(viewer, row):
        raise NotFound(f"Metadata definition namespace={name} was not found.")
    return row


async def create(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any]:
    if await find(conn, values["namespace"]) is not None:
        raise Conflict(f"Metadata definition namespace={values['namespace']} already "
                       f"exists.")
    moment = now()
    row = {"display_name": None, "description": None, "visibility": "private",
           "protected": False, "owner": None, **values, "created_at": moment,
           "updated_at": moment}
    try:
        result = await conn.execute(sa.insert(namespace).values(**row))
    except sa.exc.IntegrityError:
        raise Conflict(f"Metadata definition namespace={row['namespace']} already "
                       f"exists.") from None
    row["id"] = result.inserted_primary_key[0]
    return row


async def update(conn: AsyncConnection, row: dict[str, Any], values: dict[str, Any]
                 ) -> dict[str, Any]:
    new_name = values.get("namespace", row["namespace"])
    if new_name != row["namespace"] and await find(conn, new_name) is not None:
        raise Conflict(f"Metadata definition namespace={new_name} already exists.")
    try:
        await conn.execute(sa.update(namespace).where(namespace.c.id == row["id"])
                           .values(**values, updated_at=now()))
    except sa.exc.IntegrityError:
        raise Conflict(f"Metadata definition namespace={new_name} already exists.") from None
    found = await find(conn, new_name)
    assert found is not None
    return found


async def delete(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """The namespace and all it holds (the foreign keys cascade)."""
    await conn.execute(sa.delete(namespace).where(namespace.c.id == row["id"]))


async def list_visible(conn: AsyncConnection, viewer: Viewer, *, visibility: str | None,
                       resource_types: list[str]) -> list[dict[str, Any]]:
    query = sa.select(namespace)
    if visibility is not None:
        query = query.where(namespace.c.visibility == visibility)
    if resource_types:
        query = query.where(namespace.c.id.in_(
            sa.select(association.c.namespace_id).join(resource_type).where(
                resource_type.c.name.in_(resource_types))))
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    return [r for r in rows if is_visible(viewer, r)]


# -- resource types and associations --------------------------------------------------
async def resource_types(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(resource_type).order_by(resource_type.c.name))
    return [dict(r._mapping) for r in rows]


async def ensure_resource_type(conn: AsyncConnection, name: str) -> dict[str, Any]:
    """The resource type called ``name``, registered on first use (as Glance does)."""
    query = sa.select(resource_type).where(resource_type.c.name == name)
    row = (await conn.execute(query)).first()
    if row is None:
        moment = now()
        await conn.execute(sa.insert(resource_type).values(
            name=name, protected=False, created_at=moment, updated_at=moment))
        row = (await conn.execute(query)).first()
    assert row is not None
    return dict(row._mapping)


def _associations_query() -> sa.Select[Any]:
    return (sa.select(association, resource_type.c.name)
            .join(resource_type, resource_type.c.id == association.c.resource_type_id)
            .order_by(association.c.created_at, resource_type.c.name))


async def associations(conn: AsyncConnection, namespace_ids: list[int]
                       ) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in namespace_ids}
    if namespace_ids:
        rows = await conn.execute(_associations_query().where(
            association.c.namespace_id.in_(namespace_ids)))
        for r in rows:
            found[r.namespace_id].append(dict(r._mapping))
    return found


async def association_for(conn: AsyncConnection, ns: dict[str, Any], name: str
                          ) -> dict[str, Any] | None:
    row = (await conn.execute(_associations_query().where(
        association.c.namespace_id == ns["id"], resource_type.c.name == name))).first()
    return dict(row._mapping) if row is not None else None


async def associate(conn: AsyncConnection, ns: dict[str, Any], values: dict[str, Any]
                    ) -> dict[str, Any]:
    name = values["name"]
    if await association_for(conn, ns, name) is not None:
        raise Conflict(f"The metadata definition resource-type association of resource "
                       f"type={name} to namespace={ns['namespace']} already exists.")
    kind = await ensure_resource_type(conn, name)
    moment = now()
    row = {"namespace_id": ns["id"], "resource_type_id": kind["id"],
           "prefix": values.get("prefix"), "properties_target": values.get("properties_target"),
           "created_at": moment, "updated_at": moment}
    await conn.execute(sa.insert(association).values(**row))
    return {**row, "name": name}


async def dissociate(conn: AsyncConnection, ns: dict[str, Any], name: str) -> None:
    found = await association_for(conn, ns, name)
    if found is None:
        raise NotFound(f"The metadata definition resource-type association of resource "
                       f"type={name} to namespace={ns['namespace']} was not found.")
    await conn.execute(sa.delete(association).where(
        association.c.namespace_id == ns["id"],
        association.c.resource_type_id == found["resource_type_id"]))
