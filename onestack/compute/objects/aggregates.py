"""Host aggregates: named groups of compute hosts with metadata. The metadata key
``availability_zone`` makes an aggregate an availability zone; a host may be in many
aggregates but in one zone only, and a host that runs instances cannot change zone
(their zone would change under them)."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.db import is_duplicate

Aggregate = dict[str, Any]
ZONE_KEY = "availability_zone"

# Nova's wording of InvalidAggregateAction, by what was attempted.
ADD = "Cannot add host to aggregate {id}. Reason: {reason}."
REMOVE = "Cannot remove host from aggregate {id}. Reason: {reason}."
UPDATE = "Cannot update aggregate {id}. Reason: {reason}."
UPDATE_META = "Cannot update metadata of aggregate {id}. Reason: {reason}."

_MOVE = ("The host cannot be {verb} the aggregate as the availability zone of the host "
         "would change from '{old}' to '{new}' but the host already has {count} "
         "instance(s). Changing the AZ of an existing instance is not supported by this "
         "action. Move the instances away from this host then try again. If you need to "
         "move the instances between AZs then you can use shelve_offload and unshelve to "
         "achieve this.")


class InvalidAction(BadRequest):
    """An aggregate change that would break a zone rule: 400, but 409 when it comes
    from add_host or remove_host (the handlers say which)."""


def _invalid(template: str, aggregate: Aggregate, reason: str) -> InvalidAction:
    return InvalidAction(template.format(id=aggregate["id"], reason=reason))


def not_found(aggregate_id: int | str) -> NotFound:
    return NotFound(f"Aggregate {aggregate_id} could not be found.")


# -- reading ------------------------------------------------------------------------
async def _load(conn: AsyncConnection, *where: Any) -> list[Aggregate]:
    rows = (await conn.execute(sa.select(m.aggregate).where(*where)
                               .order_by(m.aggregate.c.id))).all()
    found = {r.id: {**r._mapping, "hosts": [], "metadata": {}} for r in rows}
    if not found:
        return []
    ids = list(found)
    for agg_id, host in (await conn.execute(
            sa.select(m.aggregate_host.c.aggregate_id, m.aggregate_host.c.host)
            .where(m.aggregate_host.c.aggregate_id.in_(ids))
            .order_by(m.aggregate_host.c.host))).all():
        found[agg_id]["hosts"].append(host)
    for agg_id, key, value in (await conn.execute(
            sa.select(m.aggregate_metadata.c.aggregate_id, m.aggregate_metadata.c.key,
                      m.aggregate_metadata.c.value)
            .where(m.aggregate_metadata.c.aggregate_id.in_(ids)))).all():
        found[agg_id]["metadata"][key] = value
    return list(found.values())


async def list_all(conn: AsyncConnection) -> list[Aggregate]:
    return await _load(conn)


async def get(conn: AsyncConnection, aggregate_id: int) -> Aggregate:
    found = await _load(conn, m.aggregate.c.id == aggregate_id)
    if not found:
        raise not_found(aggregate_id)
    return found[0]


async def of_host(conn: AsyncConnection, host: str) -> list[Aggregate]:
    members = sa.select(m.aggregate_host.c.aggregate_id).where(m.aggregate_host.c.host == host)
    return await _load(conn, m.aggregate.c.id.in_(members))


async def uuids_of_host(conn: AsyncConnection, host: str) -> list[str]:
    """The aggregates of a host as placement knows them (by uuid)."""
    rows = await conn.execute(
        sa.select(m.aggregate.c.uuid)
        .join(m.aggregate_host, m.aggregate_host.c.aggregate_id == m.aggregate.c.id)
        .where(m.aggregate_host.c.host == host).order_by(m.aggregate.c.uuid))
    return [uuid for (uuid,) in rows.all()]


async def node_uuids(conn: AsyncConnection, host: str) -> list[str]:
    """The compute nodes (placement's resource providers) of a host."""
    rows = await conn.execute(sa.select(m.compute_node.c.uuid)
                              .where(m.compute_node.c.host == host))
    return [uuid for (uuid,) in rows.all()]


async def require_compute_host(conn: AsyncConnection, host: str) -> None:
    """The host runs a compute service (matched exactly, whatever the database's
    collation), or 404 as Nova words it."""
    rows = await conn.execute(sa.select(m.compute_service.c.host).where(
        m.compute_service.c.host == host, m.compute_service.c.binary == "nova-compute"))
    if host not in [h for (h,) in rows.all()]:
        raise NotFound(f"Compute host {host} could not be found.")


async def _instance_count(conn: AsyncConnection, hosts: list[str]) -> int:
    if not hosts:
        return 0
    return int(await conn.scalar(
        sa.select(sa.func.count()).select_from(m.instance).where(
            m.instance.c.host.in_(hosts), m.instance.c.deleted_at.is_(None))) or 0)


async def _zones_of_hosts(conn: AsyncConnection, hosts: list[str]) -> list[tuple[int, str]]:
    """(aggregate id, zone) of the zoned aggregates holding any of ``hosts``."""
    if not hosts:
        return []
    members = sa.select(m.aggregate_host.c.aggregate_id).where(
        m.aggregate_host.c.host.in_(hosts))
    rows = await conn.execute(
        sa.select(m.aggregate_metadata.c.aggregate_id, m.aggregate_metadata.c.value)
        .where(m.aggregate_metadata.c.key == ZONE_KEY,
               m.aggregate_metadata.c.aggregate_id.in_(members))
        .order_by(m.aggregate_metadata.c.aggregate_id))
    return [(agg_id, zone) for agg_id, zone in rows.all()]


# -- zone rules ---------------------------------------------------------------------
async def check_zone(conn: AsyncConnection, aggregate: Aggregate, metadata: dict[str, Any],
                     template: str, hosts: list[str] | None = None,
                     check_instances: bool = False) -> None:
    """A zone set by ``metadata`` must be named, must not put any host (``hosts``, by
    default the aggregate's) in two zones, and (``check_instances``) must not move
    instances to another zone."""
    if ZONE_KEY not in metadata:
        return
    zone = metadata[ZONE_KEY]
    if not zone:
        raise _invalid(template, aggregate, f"Aggregate {aggregate['name']} does not "
                                            "support empty named availability zone")
    members = hosts or aggregate["hosts"]
    conflicting = [other for agg_id, other in await _zones_of_hosts(conn, members)
                   if other != zone and agg_id != aggregate["id"]]
    if conflicting:
        raise _invalid(template, aggregate, "One or more hosts already in availability "
                                            f"zone(s) {conflicting}")
    if (check_instances and aggregate["metadata"].get(ZONE_KEY) != zone
            and await _instance_count(conn, members)):
        raise _invalid(template, aggregate,
                       "One or more hosts contain instances in this zone")


async def _check_no_move(conn: AsyncConnection, aggregate: Aggregate, host: str,
                         adding: bool) -> None:
    """Adding a host to (or removing it from) a zoned aggregate must not change the
    zone of the instances it runs."""
    count = await _instance_count(conn, [host])
    zone = aggregate["metadata"].get(ZONE_KEY)
    if not count or not zone:
        return
    others = {z for agg_id, z in await _zones_of_hosts(conn, [host])
              if adding or agg_id != aggregate["id"]}
    current = next(iter(others), None)
    old, new = (current, zone) if adding else (zone, current)
    if old != new:
        reason = _MOVE.format(verb="added to" if adding else "removed from", old=old,
                              new=new, count=count)
        raise _invalid(ADD if adding else REMOVE, aggregate, reason)


# -- writing ------------------------------------------------------------------------
async def _name_taken(conn: AsyncConnection, name: str, but: int | None = None) -> bool:
    query = sa.select(m.aggregate.c.id).where(m.aggregate.c.name == name)
    if but is not None:
        query = query.where(m.aggregate.c.id != but)
    return (await conn.execute(query)).first() is not None


async def create(conn: AsyncConnection, name: str, zone: str | None) -> Aggregate:
    if await _name_taken(conn, name):
        raise Conflict(f"Aggregate {name} already exists.")
    now = time.time()
    try:
        async with conn.begin_nested():
            result = await conn.execute(m.aggregate.insert().values(
                uuid=str(uuidlib.uuid4()), name=name, created_at=now, updated_at=None))
    except sa.exc.IntegrityError as exc:  # a concurrent create took the name
        if not is_duplicate(exc):
            raise
        raise Conflict(f"Aggregate {name} already exists.") from None
    aggregate_id = result.inserted_primary_key[0]  # type: ignore[index]
    if zone:
        await conn.execute(m.aggregate_metadata.insert().values(
            aggregate_id=aggregate_id, key=ZONE_KEY, value=zone))
    return await get(conn, aggregate_id)


async def _apply_metadata(conn: AsyncConnection, aggregate_id: int,
                          metadata: dict[str, str | None]) -> None:
    """Set each key; a null value deletes it."""
    table = m.aggregate_metadata
    for key, value in metadata.items():
        await conn.execute(table.delete().where(table.c.aggregate_id == aggregate_id,
                                                table.c.key == key))
        if value is not None:
            await conn.execute(table.insert().values(aggregate_id=aggregate_id, key=key,
                                                     value=value))


async def update(conn: AsyncConnection, aggregate: Aggregate,
                 values: dict[str, Any]) -> Aggregate:
    """PUT: a new name and/or zone."""
    values = dict(values)
    if "name" in values:
        name = values.pop("name")
        if await _name_taken(conn, name, but=aggregate["id"]):
            raise Conflict(f"Aggregate {name} already exists.")
        await conn.execute(m.aggregate.update().where(m.aggregate.c.id == aggregate["id"])
                           .values(name=name))
    await check_zone(conn, aggregate, values, UPDATE, check_instances=True)
    if values:
        await _apply_metadata(conn, aggregate["id"], values)
    await conn.execute(m.aggregate.update().where(m.aggregate.c.id == aggregate["id"])
                       .values(updated_at=time.time()))
    return await get(conn, aggregate["id"])


async def set_metadata(conn: AsyncConnection, aggregate: Aggregate,
                       metadata: dict[str, str | None]) -> Aggregate:
    await check_zone(conn, aggregate, metadata, UPDATE_META, check_instances=True)
    await _apply_metadata(conn, aggregate["id"], metadata)
    await conn.execute(m.aggregate.update().where(m.aggregate.c.id == aggregate["id"])
                       .values(updated_at=time.time()))
    return await get(conn, aggregate["id"])


async def delete(conn: AsyncConnection, aggregate: Aggregate) -> None:
    if aggregate["hosts"]:
        raise _invalid(REMOVE, aggregate, "Host aggregate is not empty")
    await conn.execute(m.aggregate_metadata.delete().where(
        m.aggregate_metadata.c.aggregate_id == aggregate["id"]))
    await conn.execute(m.aggregate.delete().where(m.aggregate.c.id == aggregate["id"]))


async def add_host(conn: AsyncConnection, aggregate_id: int, host: str) -> Aggregate:
    """The checks in Nova's order: the host, the aggregate, zone rules, membership."""
    await require_compute_host(conn, host)
    aggregate = await get(conn, aggregate_id)
    await check_zone(conn, aggregate, aggregate["metadata"], ADD, hosts=[host])
    await _check_no_move(conn, aggregate, host, adding=True)
    if host in aggregate["hosts"]:
        raise Conflict(f"Aggregate {aggregate_id} already has host {host}.")
    try:
        async with conn.begin_nested():
            await conn.execute(m.aggregate_host.insert().values(aggregate_id=aggregate_id,
                                                                host=host))
    except sa.exc.IntegrityError as exc:
        if not is_duplicate(exc):
            raise
        raise Conflict(f"Aggregate {aggregate_id} already has host {host}.") from None
    return await get(conn, aggregate_id)


async def remove_host(conn: AsyncConnection, aggregate_id: int, host: str) -> Aggregate:
    await require_compute_host(conn, host)
    aggregate = await get(conn, aggregate_id)
    await _check_no_move(conn, aggregate, host, adding=False)
    if host not in aggregate["hosts"]:
        raise NotFound(f"Aggregate {aggregate_id} has no host {host}.")
    await conn.execute(m.aggregate_host.delete().where(
        m.aggregate_host.c.aggregate_id == aggregate_id, m.aggregate_host.c.host == host))
    return await get(conn, aggregate_id)


async def forget_host(conn: AsyncConnection, host: str) -> None:
    """Take a host out of every aggregate (its compute service is being deleted)."""
    await conn.execute(m.aggregate_host.delete().where(m.aggregate_host.c.host == host))
