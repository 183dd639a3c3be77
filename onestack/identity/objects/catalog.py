"""Regions, services and endpoints, and the service catalog a token carries."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity.models import endpoint, region, service
from onestack.identity.objects import endpoint_groups
from onestack.identity.objects.common import new_id, not_found, split_extra
from onestack.kernel.api.faults import BadRequest, Conflict, Forbidden

INTERFACES = ("public", "internal", "admin")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


# -- regions ---------------------------------------------------------------------------
async def get_region(conn: AsyncConnection, region_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(region).where(region.c.id == region_id))).first()
    if found is None:
        raise not_found("region", region_id)
    return dict(found._mapping)


async def list_regions(conn: AsyncConnection, parent_region_id: str | None = None
                       ) -> list[dict[str, Any]]:
    query = sa.select(region).order_by(region.c.id)
    if parent_region_id is not None:
        query = query.where(region.c.parent_region_id == parent_region_id)
    return _rows(await conn.execute(query))


async def _check_parent(conn: AsyncConnection, region_id: str, parent_id: str | None) -> None:
    if parent_id is None:
        return
    try:
        parent = await get_region(conn, parent_id)
    except Exception:
        raise BadRequest(f"Could not find region: {parent_id}.") from None
    while parent is not None:
        if parent["id"] == region_id:
            raise BadRequest(f"The specified parent region {parent_id} would cause a "
                             "circular region hierarchy.")
        up = parent["parent_region_id"]
        parent = await get_region(conn, up) if up else None


async def create_region(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, {"id", "description", "parent_region_id"})
    region_id = known.get("id") or new_id()
    if (await conn.execute(sa.select(region.c.id).where(region.c.id == region_id))).first():
        raise Conflict(f"Conflict occurred attempting to store region - Duplicate ID, "
                       f"{region_id}.")
    await _check_parent(conn, region_id, known.get("parent_region_id"))
    values = {"id": region_id, "description": known.get("description") or "",
              "parent_region_id": known.get("parent_region_id"), "extra": extra}
    await conn.execute(sa.insert(region).values(**values))
    return values


async def update_region(conn: AsyncConnection, current: dict[str, Any],
                        body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, {"id", "description", "parent_region_id"})
    if "id" in known and known["id"] != current["id"]:
        raise BadRequest("Cannot change the id of a region.")
    if "parent_region_id" in known:
        await _check_parent(conn, current["id"], known["parent_region_id"])
    values = {k: known[k] for k in ("description", "parent_region_id") if k in known}
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        await conn.execute(sa.update(region).where(region.c.id == current["id"])
                           .values(**values))
    return await get_region(conn, current["id"])


async def delete_region(conn: AsyncConnection, region_id: str) -> None:
    await get_region(conn, region_id)
    children = await conn.execute(sa.select(region.c.id)
                                  .where(region.c.parent_region_id == region_id))
    used = await conn.execute(sa.select(endpoint.c.id).where(endpoint.c.region_id == region_id))
    if children.first() or used.first():
        raise Forbidden(f"Unable to delete region {region_id} because it or its child "
                        "regions have associated endpoints.")
    await conn.execute(sa.delete(region).where(region.c.id == region_id))


# -- services --------------------------------------------------------------------------
async def get_service(conn: AsyncConnection, service_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(service).where(service.c.id == service_id))).first()
    if found is None:
        raise not_found("service", service_id)
    return dict(found._mapping)


async def list_services(conn: AsyncConnection, type_: str | None = None,
                        name: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(service)
    if type_ is not None:
        query = query.where(service.c.type == type_)
    rows = _rows(await conn.execute(query))
    if name is not None:
        rows = [r for r in rows if r["extra"].get("name") == name]
    return rows


async def create_service(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, {"id", "type", "enabled"})
    values = {"id": known.get("id") or new_id(), "type": known["type"],
              "enabled": known.get("enabled", True), "extra": extra}
    await conn.execute(sa.insert(service).values(**values))
    return values


async def update_service(conn: AsyncConnection, current: dict[str, Any],
                         body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, {"id", "type", "enabled"})
    if "id" in known and known["id"] != current["id"]:
        raise BadRequest("Cannot change the id of a service.")
    values = {k: known[k] for k in ("type", "enabled") if k in known}
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        await conn.execute(sa.update(service).where(service.c.id == current["id"])
                           .values(**values))
    return await get_service(conn, current["id"])


async def delete_service(conn: AsyncConnection, service_id: str) -> None:
    await get_service(conn, service_id)
    for (endpoint_id,) in await conn.execute(sa.select(endpoint.c.id)
                                             .where(endpoint.c.service_id == service_id)):
        await endpoint_groups.forget_endpoint(conn, endpoint_id)
    await conn.execute(sa.delete(endpoint).where(endpoint.c.service_id == service_id))
    await conn.execute(sa.delete(service).where(service.c.id == service_id))


# -- endpoints -------------------------------------------------------------------------
async def get_endpoint(conn: AsyncConnection, endpoint_id: str) -> dict[str, Any]:
    found = (await conn.execute(sa.select(endpoint).where(endpoint.c.id == endpoint_id))
             ).first()
    if found is None:
        raise not_found("endpoint", endpoint_id)
    return dict(found._mapping)


async def list_endpoints(conn: AsyncConnection, filters: dict[str, Any]
                         ) -> list[dict[str, Any]]:
    query = sa.select(endpoint)
    for key, value in filters.items():
        if value is not None:
            query = query.where(endpoint.c[key] == value)
    return _rows(await conn.execute(query))


async def _endpoint_values(conn: AsyncConnection, known: dict[str, Any]) -> dict[str, Any]:
    values = {k: known[k] for k in ("interface", "service_id", "url", "enabled")
              if k in known}
    if "interface" in values and values["interface"] not in INTERFACES:
        raise BadRequest(f"Invalid input for field 'interface': {values['interface']!r} is "
                         f"not one of {', '.join(INTERFACES)}.")
    if "service_id" in values:
        try:
            await get_service(conn, values["service_id"])
        except Exception:
            raise BadRequest(f"Could not find service: {values['service_id']}.") from None
    legacy = "region_id" not in known and known.get("region") is not None
    if legacy and not (await conn.execute(sa.select(region.c.id).where(
            region.c.id == known["region"]))).first():
        # The legacy ``region`` attribute names a region, created when missing.
        await create_region(conn, {"id": known["region"]})
    region_id = known.get("region_id", known.get("region"))
    if region_id is not None or "region_id" in known:
        if region_id is not None and not legacy:
            try:
                await get_region(conn, region_id)
            except Exception:
                raise BadRequest(f"Could not find region: {region_id}.") from None
        values["region_id"] = region_id
    return values


ENDPOINT_COLUMNS = {"id", "interface", "service_id", "region_id", "region", "url", "enabled"}


async def create_endpoint(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, ENDPOINT_COLUMNS)
    values = await _endpoint_values(conn, known)
    values.update(id=known.get("id") or new_id(), extra=extra)
    values.setdefault("enabled", True)
    values.setdefault("region_id", None)
    await conn.execute(sa.insert(endpoint).values(**values))
    return values


async def update_endpoint(conn: AsyncConnection, current: dict[str, Any],
                          body: dict[str, Any]) -> dict[str, Any]:
    known, extra = split_extra(body, ENDPOINT_COLUMNS)
    if "id" in known and known["id"] != current["id"]:
        raise BadRequest("Cannot change the id of an endpoint.")
    values = await _endpoint_values(conn, known)
    if extra:
        values["extra"] = {**current["extra"], **extra}
    if values:
        await conn.execute(sa.update(endpoint).where(endpoint.c.id == current["id"])
                           .values(**values))
    return await get_endpoint(conn, current["id"])


async def delete_endpoint(conn: AsyncConnection, endpoint_id: str) -> None:
    await get_endpoint(conn, endpoint_id)
    await endpoint_groups.forget_endpoint(conn, endpoint_id)
    await conn.execute(sa.delete(endpoint).where(endpoint.c.id == endpoint_id))


async def build_catalog(conn: AsyncConnection, project_id: str | None = None
                        ) -> list[dict[str, Any]]:
    """The catalog in a token: enabled services with their enabled endpoints; for a
    project that OS-EP-FILTER limits, only the endpoints chosen for it."""
    chosen = (await endpoint_groups.endpoint_ids_for_project(conn, project_id)
              if project_id else None)
    query = (sa.select(service, endpoint.c.id.label("endpoint_id"), endpoint.c.interface,
                       endpoint.c.region_id, endpoint.c.url)
             .join(endpoint, endpoint.c.service_id == service.c.id)
             .where(service.c.enabled.is_(True), endpoint.c.enabled.is_(True))
             .order_by(service.c.type))
    catalog: dict[str, dict[str, Any]] = {}
    for row in await conn.execute(query):
        if chosen is not None and row.endpoint_id not in chosen:
            continue
        entry = catalog.setdefault(row.id, {"endpoints": [], "id": row.id, "type": row.type,
                                            "name": row.extra.get("name", "")})
        entry["endpoints"].append({"id": row.endpoint_id, "interface": row.interface,
                                   "region_id": row.region_id, "region": row.region_id,
                                   "url": row.url})
    return list(catalog.values())
