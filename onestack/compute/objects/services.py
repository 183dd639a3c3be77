"""Compute services as operators see them: their zones, enabling, forcing down and
deleting them. Agents register and heartbeat them (hosts.py); here they are read and
changed by the API. Deleting a compute service takes its host out of every aggregate
and deletes its compute nodes; the caller then drops their placement providers."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.compute.objects import aggregates
from onestack.compute.objects.hosts import availability_zones

Service = dict[str, Any]
COMPUTE = "nova-compute"
INTERNAL_ZONE = "internal"
# Not RPC services, so never heartbeating: Nova leaves them out of every listing.
API_BINARIES = ("nova-osapi_compute", "nova-metadata")
# Migrations in these states hold nothing on their hosts any more.
FINISHED_MIGRATIONS = ("confirmed", "reverted", "error", "failed", "completed", "cancelled",
                       "done")


def is_uuid(text: str) -> bool:
    try:
        uuidlib.UUID(text)
    except ValueError:
        return False
    return True


def zone_of(service: Service, zones: dict[str, str], default: str) -> str:
    """Compute services are in their host's zone (by aggregate, else the default one);
    every other service is in the internal zone."""
    if service["binary"] != COMPUTE:
        return INTERNAL_ZONE
    return zones.get(service["host"], default)


def last_update(service: Service) -> float | None:
    """When the service last reported or was changed (Nova's ``updated_at``)."""
    moments = [t for t in (service["updated_at"], service["last_seen_up"]) if t is not None]
    return max(moments) if moments else None


async def list_all(conn: AsyncConnection, host: str | None = None,
                   binary: str | None = None) -> list[Service]:
    query = sa.select(m.compute_service).where(
        m.compute_service.c.binary.not_in(API_BINARIES)).order_by(m.compute_service.c.id)
    if host:
        query = query.where(m.compute_service.c.host == host)
    if binary:
        query = query.where(m.compute_service.c.binary == binary)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def with_zones(conn: AsyncConnection, services: list[Service],
                     default_zone: str) -> list[Service]:
    zones = await availability_zones(conn)
    return [{**s, "zone": zone_of(s, zones, default_zone)} for s in services]


async def get(conn: AsyncConnection, ident: str) -> Service | None:
    """By uuid, or by integer id (None when neither finds it)."""
    if is_uuid(ident):
        where = m.compute_service.c.uuid == ident
    else:
        try:
            where = m.compute_service.c.id == int(ident)
        except ValueError:
            return None
    row = (await conn.execute(sa.select(m.compute_service).where(where))).first()
    return None if row is None else dict(row._mapping)


async def find(conn: AsyncConnection, host: str, binary: str) -> Service | None:
    row = (await conn.execute(sa.select(m.compute_service).where(
        m.compute_service.c.host == host, m.compute_service.c.binary == binary))).first()
    return None if row is None or row.host != host else dict(row._mapping)


async def update(conn: AsyncConnection, service: Service, values: dict[str, Any]) -> Service:
    await conn.execute(m.compute_service.update()
                       .where(m.compute_service.c.id == service["id"])
                       .values(**values, updated_at=time.time()))
    row = (await conn.execute(sa.select(m.compute_service).where(
        m.compute_service.c.id == service["id"]))).one()
    return dict(row._mapping)


async def instance_count(conn: AsyncConnection, host: str) -> int:
    return int(await conn.scalar(
        sa.select(sa.func.count()).select_from(m.instance).where(
            m.instance.c.host == host, m.instance.c.deleted_at.is_(None))) or 0)


async def nodes_of(conn: AsyncConnection, service: Service) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(m.compute_node).where(sa.or_(
        m.compute_node.c.service_id == service["id"],
        m.compute_node.c.host == service["host"])).order_by(m.compute_node.c.id))
    return [dict(r._mapping) for r in rows.all()]


async def migrations_in_progress(conn: AsyncConnection, host: str, node: str) -> int:
    mig = m.migration
    return int(await conn.scalar(
        sa.select(sa.func.count()).select_from(mig).where(
            sa.or_(sa.and_(mig.c.source_compute == host, mig.c.source_node == node),
                   sa.and_(mig.c.dest_compute == host, mig.c.dest_node == node)),
            mig.c.status.not_in(FINISHED_MIGRATIONS))) or 0)


async def done_evacuations(conn: AsyncConnection, host: str) -> bool:
    """Evacuations away from ``host`` that its compute service has not yet cleaned up
    (it does so when it starts again): forcing the host up would be premature."""
    mig = m.migration
    row = (await conn.execute(sa.select(mig.c.id).where(
        mig.c.source_compute == host, mig.c.status == "done",
        mig.c.migration_type == "evacuation").limit(1))).first()
    return row is not None


async def delete(conn: AsyncConnection, service: Service) -> list[str]:
    """Delete a service (a compute one with its nodes and aggregate memberships);
    answers the uuids of the deleted nodes."""
    node_uuids: list[str] = []
    if service["binary"] == COMPUTE:
        nodes = await nodes_of(conn, service)
        node_uuids = [n["uuid"] for n in nodes]
        await aggregates.forget_host(conn, service["host"])
        if nodes:
            await conn.execute(m.compute_node.delete().where(
                m.compute_node.c.id.in_([n["id"] for n in nodes])))
    await conn.execute(m.compute_service.delete().where(
        m.compute_service.c.id == service["id"]))
    return node_uuids
