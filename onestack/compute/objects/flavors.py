"""Flavors, their extra specs and the projects a private flavor is shared with.

A flavor is a plain dict: the row (``flavorid`` is the public id, ``id`` the internal
key) plus ``extra_specs`` where the caller asked for them. A private flavor is visible
to admins and to the projects on its access list."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.kernel.api.faults import Conflict, NotFound
from onestack.kernel.auth import RequestContext
from onestack.kernel.db import is_duplicate

Flavor = dict[str, Any]

# Nova's sort keys; vcpu_weight has no column here and sorts as empty.
SORT_KEYS = ("created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id",
             "is_public", "memory_mb", "name", "root_gb", "rxtx_factor", "swap",
             "updated_at", "vcpu_weight", "vcpus")


def not_found(flavorid: str) -> NotFound:
    return NotFound(f"Flavor {flavorid} could not be found.")


def _visible(ctx: RequestContext | None) -> Any:
    """The condition for flavors the caller may see (all, for admins)."""
    if ctx is None or ctx.is_admin:
        return sa.true()
    shared = sa.select(m.flavor_project.c.flavor_id).where(
        m.flavor_project.c.project_id == (ctx.project_id or ""))
    return sa.or_(m.flavor.c.is_public.is_(True), m.flavor.c.id.in_(shared))


async def find(conn: AsyncConnection, flavorid: str, ctx: RequestContext | None = None,
               *, extra_specs: bool = True) -> Flavor | None:
    row = (await conn.execute(sa.select(m.flavor).where(
        m.flavor.c.flavorid == str(flavorid), _visible(ctx)))).first()
    if row is None:
        return None
    flavor = dict(row._mapping)
    if extra_specs:
        flavor["extra_specs"] = (await specs_of(conn, [flavor["id"]])).get(flavor["id"], {})
    return flavor


async def get(conn: AsyncConnection, flavorid: str, ctx: RequestContext | None = None,
              *, extra_specs: bool = True) -> Flavor:
    flavor = await find(conn, flavorid, ctx, extra_specs=extra_specs)
    if flavor is None:
        raise not_found(flavorid)
    return flavor


async def listing(conn: AsyncConnection, ctx: RequestContext, *, is_public: bool | None,
                  min_ram: int | None = None, min_disk: int | None = None,
                  include_disabled: bool = True) -> list[Flavor]:
    """Flavors by Nova's filters: ``is_public`` True means the public ones and those
    shared with the caller's project, False the private ones, None all."""
    query = sa.select(m.flavor).where(_visible(ctx))
    if is_public is not None:
        condition: sa.ColumnElement[bool] = m.flavor.c.is_public.is_(is_public)
        if is_public and ctx.project_id:
            shared = sa.select(m.flavor_project.c.flavor_id).where(
                m.flavor_project.c.project_id == ctx.project_id)
            condition = sa.or_(condition, m.flavor.c.id.in_(shared))
        query = query.where(condition)
    if not include_disabled:
        query = query.where(m.flavor.c.disabled.is_(False))
    if min_ram is not None:
        query = query.where(m.flavor.c.memory_mb >= min_ram)
    if min_disk is not None:
        query = query.where(m.flavor.c.root_gb >= min_disk)
    return [dict(r._mapping) for r in await conn.execute(query)]


def sort(flavors: list[Flavor], key: str, direction: str) -> list[Flavor]:
    """Ordered by ``key`` then the internal id, both in ``direction``; empty first."""
    def order(flavor: Flavor) -> tuple[bool, Any, int]:
        value = flavor.get(key)
        return (value is not None, value if value is not None else 0, flavor["id"])
    return sorted(flavors, key=order, reverse=direction == "desc")


async def create(conn: AsyncConnection, values: dict[str, Any]) -> Flavor:
    """Insert a flavor (``flavorid`` generated when absent); 409 for a taken id or
    name."""
    flavorid = values.get("flavorid") or str(uuidlib.uuid4())
    row = {"flavorid": flavorid, "name": values["name"], "memory_mb": values["memory_mb"],
           "vcpus": values["vcpus"], "root_gb": values["root_gb"],
           "ephemeral_gb": values.get("ephemeral_gb", 0), "swap": values.get("swap", 0),
           "rxtx_factor": values.get("rxtx_factor", 1.0),
           "is_public": values.get("is_public", True), "disabled": False,
           "description": values.get("description"), "created_at": time.time(),
           "updated_at": None}
    await _check_unique(conn, flavorid, row["name"])
    try:
        result = await conn.execute(m.flavor.insert().values(**row))
    except sa.exc.IntegrityError as exc:
        # a concurrent create won the race for the id or the name
        if is_duplicate(exc):
            raise Conflict(f"Flavor with name {row['name']} already exists.") from None
        raise
    inserted = result.inserted_primary_key
    row["id"] = inserted[0] if inserted else None
    row["extra_specs"] = {}
    return row


async def _check_unique(conn: AsyncConnection, flavorid: str, name: str) -> None:
    if await conn.scalar(sa.select(m.flavor.c.id).where(m.flavor.c.flavorid == flavorid)):
        raise Conflict(f"Flavor with ID {flavorid} already exists.")
    if await conn.scalar(sa.select(m.flavor.c.id).where(m.flavor.c.name == name)):
        raise Conflict(f"Flavor with name {name} already exists.")


async def set_description(conn: AsyncConnection, flavor: Flavor,
                          description: str | None) -> Flavor:
    now = time.time()
    await conn.execute(m.flavor.update().where(m.flavor.c.id == flavor["id"]).values(
        description=description, updated_at=now))
    return {**flavor, "description": description, "updated_at": now}


async def delete(conn: AsyncConnection, flavorid: str) -> None:
    key = await conn.scalar(sa.select(m.flavor.c.id).where(m.flavor.c.flavorid == flavorid))
    if key is None:
        raise not_found(flavorid)
    await conn.execute(m.flavor_extra_spec.delete().where(
        m.flavor_extra_spec.c.flavor_id == key))
    await conn.execute(m.flavor_project.delete().where(m.flavor_project.c.flavor_id == key))
    await conn.execute(m.flavor.delete().where(m.flavor.c.id == key))


# -- extra specs -------------------------------------------------------------------
async def specs_of(conn: AsyncConnection, keys: list[int]) -> dict[int, dict[str, str]]:
    """Extra specs by internal flavor id."""
    found: dict[int, dict[str, str]] = {key: {} for key in keys}
    if not keys:
        return found
    table = m.flavor_extra_spec
    for flavor_id, key, value in await conn.execute(
            sa.select(table.c.flavor_id, table.c.key, table.c.value).where(
                table.c.flavor_id.in_(keys))):
        found[flavor_id][key] = value
    return found


async def set_specs(conn: AsyncConnection, flavor: Flavor, specs: dict[str, str]) -> None:
    table = m.flavor_extra_spec
    if not specs:
        return
    await conn.execute(table.delete().where(table.c.flavor_id == flavor["id"],
                                            table.c.key.in_(list(specs))))
    await conn.execute(table.insert(), [{"flavor_id": flavor["id"], "key": k, "value": v}
                                        for k, v in specs.items()])


def spec_not_found(flavorid: str, key: str) -> NotFound:
    return NotFound(f"Flavor {flavorid} has no extra specs with key {key}.")


async def delete_spec(conn: AsyncConnection, flavor: Flavor, key: str) -> None:
    table = m.flavor_extra_spec
    result = await conn.execute(table.delete().where(table.c.flavor_id == flavor["id"],
                                                     table.c.key == key))
    if not result.rowcount:
        raise spec_not_found(flavor["flavorid"], key)


# -- access ------------------------------------------------------------------------
async def projects_of(conn: AsyncConnection, flavor: Flavor) -> list[str]:
    table = m.flavor_project
    rows = await conn.execute(sa.select(table.c.project_id).where(
        table.c.flavor_id == flavor["id"]).order_by(table.c.project_id))
    return [r[0] for r in rows]


async def add_access(conn: AsyncConnection, flavor: Flavor, project_id: str) -> None:
    if project_id in await projects_of(conn, flavor):
        raise _access_exists(flavor, project_id)
    try:
        await conn.execute(m.flavor_project.insert().values(
            flavor_id=flavor["id"], project_id=project_id))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise _access_exists(flavor, project_id) from None
        raise


def _access_exists(flavor: Flavor, project_id: str) -> Conflict:
    return Conflict(f"Flavor access already exists for flavor {flavor['flavorid']} and "
                    f"project {project_id} combination.")


async def remove_access(conn: AsyncConnection, flavor: Flavor, project_id: str) -> None:
    table = m.flavor_project
    result = await conn.execute(table.delete().where(table.c.flavor_id == flavor["id"],
                                                     table.c.project_id == project_id))
    if not result.rowcount:
        raise NotFound(f"Flavor access not found for {flavor['flavorid']} / {project_id} "
                       "combination.")


# -- for servers -------------------------------------------------------------------
def boot_view(flavor: Flavor) -> dict[str, Any]:
    """The flavor as a server keeps it (its ``flavor`` column)."""
    return {"id": flavor["flavorid"], "name": flavor["name"],
            "memory_mb": flavor["memory_mb"], "vcpus": flavor["vcpus"],
            "root_gb": flavor["root_gb"], "ephemeral_gb": flavor["ephemeral_gb"],
            "swap": flavor["swap"], "rxtx_factor": flavor["rxtx_factor"],
            "is_public": flavor["is_public"], "disabled": flavor["disabled"],
            "description": flavor["description"],
            "extra_specs": dict(flavor.get("extra_specs") or {})}


async def get_for_boot(conn: AsyncConnection, flavor_ref: str, ctx: RequestContext
                       ) -> dict[str, Any] | None:
    """The flavor a server boots with (a flavor id, or a link ending with one), or
    None when there is none the caller's project may use."""
    flavorid = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
    flavor = await find(conn, flavorid, ctx)
    return None if flavor is None else boot_view(flavor)

