"""The conductor's side of moving servers: migration records, choosing the
destination through the scheduler, and the placement bookkeeping of a move. While a
server moves, its allocations on the source are held by the migration record (its
uuid is the consumer) and the destination is claimed for the server itself, as Nova
does; a failure hands the source allocations back before anything else."""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m
from onestack.compute.conductor import (
    NO_VALID_HOST,
    _group_of,
    choose_and_claim,
    fault,
    load_hosts,
    spec_of,
)
from onestack.compute.objects import hosts, instances, states
from onestack.compute.scheduler import HostState

if TYPE_CHECKING:
    from onestack.compute.service import Compute

log = logging.getLogger(__name__)
Ctx = dict[str, Any]
Migration = dict[str, Any]
LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")


# -- migration records -----------------------------------------------------------------
async def new_migration(conn: AsyncConnection, instance: dict[str, Any], kind: str,
                        status: str, **values: Any) -> Migration:
    row: Migration = {
        "uuid": str(uuidlib.uuid4()), "instance_uuid": instance["uuid"],
        "migration_type": kind, "status": status, "source_compute": instance["host"],
        "source_node": instance["node"], "dest_compute": None, "dest_node": None,
        "dest_host": None, "old_flavor_id": None, "new_flavor_id": None,
        "project_id": instance["project_id"], "user_id": instance["user_id"],
        "created_at": time.time(), "updated_at": None}
    row.update(values)
    result = await conn.execute(m.migration.insert().values(**row))
    return {**row, "id": result.inserted_primary_key[0]}  # type: ignore[index]


async def find_migration(conn: AsyncConnection, instance_uuid: str, *,
                         status: str | None = None, kind: str | None = None,
                         ident: int | None = None) -> Migration | None:
    """The newest migration of the server matching what is given."""
    query = sa.select(m.migration).where(m.migration.c.instance_uuid == instance_uuid)
    if status is not None:
        query = query.where(m.migration.c.status == status)
    if kind is not None:
        query = query.where(m.migration.c.migration_type == kind)
    if ident is not None:
        query = query.where(m.migration.c.id == ident)
    row = (await conn.execute(query.order_by(m.migration.c.id.desc()).limit(1))).first()
    return None if row is None else dict(row._mapping)


async def live_in_progress(conn: AsyncConnection, instance_uuid: str) -> list[Migration]:
    rows = await conn.execute(sa.select(m.migration).where(
        m.migration.c.instance_uuid == instance_uuid,
        m.migration.c.migration_type == "live-migration",
        m.migration.c.status.in_(LIVE_IN_PROGRESS)).order_by(m.migration.c.id))
    return [dict(r._mapping) for r in rows.all()]


async def update_migration(conn: AsyncConnection, uuid: str, **values: Any) -> None:
    await conn.execute(m.migration.update().where(m.migration.c.uuid == uuid)
                       .values(**values, updated_at=time.time()))


async def flavor_key(conn: AsyncConnection, flavorid: str) -> str | None:
    """A flavor as a migration names it: the flavor table's integer id (None once the
    flavor is gone)."""
    found = await conn.scalar(sa.select(m.flavor.c.id).where(m.flavor.c.flavorid == flavorid))
    return None if found is None else str(found)


# -- hosts -----------------------------------------------------------------------------
async def compute_service(conn: AsyncConnection, host: str | None) -> dict[str, Any] | None:
    if not host:
        return None
    row = (await conn.execute(sa.select(m.compute_service).where(
        m.compute_service.c.host == host,
        m.compute_service.c.binary == "nova-compute"))).first()
    return None if row is None else dict(row._mapping)


async def compute_node(conn: AsyncConnection, host: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(m.compute_node).where(
        m.compute_node.c.host == host).order_by(m.compute_node.c.id).limit(1))).first()
    return None if row is None else dict(row._mapping)


async def host_is_up(compute: Compute, conn: AsyncConnection, host: str | None) -> bool:
    service = await compute_service(conn, host)
    return service is not None and hosts.is_up(service, compute.settings.service_down_time)


async def zone_of(compute: Compute, conn: AsyncConnection, host: str) -> str:
    return (await hosts.availability_zones(conn)).get(
        host, compute.settings.default_availability_zone)


# -- the conductor's work ------------------------------------------------------------
async def migrate(compute: Compute, ctx: Ctx, uuid: str, kind: str,
                  flavor: dict[str, Any] | None, host: str | None) -> None:
    """``kind``: "resize" or "migration" (cold), "live-migration" or "evacuation". How
    the API asked for it (a forced host, a password, the state after an evacuation)
    waits in the server's request under "move"."""
    run, event = {"live-migration": (_live, "conductor_live_migrate_instance"),
                  "evacuation": (_evacuate, "conductor_rebuild_server")}.get(
        kind, (_cold, "conductor_migrate_server"))
    try:
        await run(compute, ctx, uuid, flavor, host)
    except Exception as exc:
        log.exception("%s of %s failed in the conductor", kind, uuid)
        await _abandon(compute, ctx, uuid, event, str(exc) or type(exc).__name__)


async def _cold(compute: Compute, ctx: Ctx, uuid: str, flavor: dict[str, Any] | None,
                host: str | None) -> None:
    event = "conductor_migrate_server"
    instance = await _expect(compute, uuid, states.RESIZE_PREP)
    if instance is None:
        return
    new = flavor or instance["flavor"]
    resize = new["id"] != instance["flavor"]["id"]
    async with compute.db.writer() as conn:
        await instances.record_event(conn, uuid, _rid(ctx), event, "", None)
        migration = await new_migration(
            conn, instance, "resize" if resize else "migration", "pre-migrating",
            old_flavor_id=await flavor_key(conn, instance["flavor"]["id"]),
            new_flavor_id=await flavor_key(conn, new["id"]))
    await compute.placement.move_allocations(ctx, uuid, migration["uuid"])
    # a cold migration never picks the server's own host (no driver here can move a
    # guest onto itself); a resize may, when configured
    same_host = resize and compute.settings.allow_resize_to_same_host
    chosen = await place(compute, ctx, instance, new, ignore=set() if same_host
                         else {instance["host"]}, host=host)
    if chosen is None:
        why = "No valid host found for resize" if resize else \
            "No valid host found for cold migrate"
        await fail(compute, ctx, instance, migration, event,
                   f"No valid host was found. {why}", states.RESIZE_PREP)
        return
    system = {**instance["system_metadata"], "old_vm_state": instance["vm_state"]}
    updated, migration = await _scheduled(compute, ctx, instance, migration, chosen, {
        "system_metadata": system}, states.RESIZE_PREP, "pre-migrating")
    if updated is None:
        return
    await _record(compute, ctx, uuid, event, "Success")
    await compute.agents.cast(instance["host"], "resize_instance", ctx, instance=updated,
                              migration=migration, flavor=new)


async def _live(compute: Compute, ctx: Ctx, uuid: str, flavor: dict[str, Any] | None,
                host: str | None) -> None:
    event = "conductor_live_migrate_instance"
    instance = await _expect(compute, uuid, states.MIGRATING)
    if instance is None:
        return
    force = bool((instance["request"].get("move") or {}).get("force"))
    async with compute.db.writer() as conn:
        await instances.record_event(conn, uuid, _rid(ctx), event, "", None)
        key = await flavor_key(conn, instance["flavor"]["id"])
        migration = await new_migration(conn, instance, "live-migration", "accepted",
                                        dest_compute=host, old_flavor_id=key,
                                        new_flavor_id=key)
        problem = await destination_problem(compute, conn, instance, host) \
            if host and force else None
    if problem:
        await fail(compute, ctx, instance, migration, event, problem, states.MIGRATING,
                   moved=False)
        return
    await compute.placement.move_allocations(ctx, uuid, migration["uuid"])
    chosen = await place(compute, ctx, instance, instance["flavor"],
                         ignore={instance["host"]}, host=host, force=force)
    if chosen is None:
        await fail(compute, ctx, instance, migration, event, NO_VALID_HOST, states.MIGRATING)
        return
    updated, migration = await _scheduled(compute, ctx, instance, migration, chosen, {},
                                          states.MIGRATING, "accepted")
    if updated is None:
        return
    await _record(compute, ctx, uuid, event, "Success")
    await compute.agents.cast(instance["host"], "live_migrate", ctx, instance=updated,
                              migration=migration)


async def _evacuate(compute: Compute, ctx: Ctx, uuid: str, flavor: dict[str, Any] | None,
                    host: str | None) -> None:
    event = "conductor_rebuild_server"
    instance = await _expect(compute, uuid, states.REBUILDING)
    if instance is None:
        return
    move = instance["request"].get("move") or {}
    async with compute.db.writer() as conn:
        await instances.record_event(conn, uuid, _rid(ctx), event, "", None)
        migration = await find_migration(conn, uuid, status="accepted", kind="evacuation")
        if migration is None:
            key = await flavor_key(conn, instance["flavor"]["id"])
            migration = await new_migration(conn, instance, "evacuation", "accepted",
                                            dest_compute=host, old_flavor_id=key,
                                            new_flavor_id=key)
    await compute.placement.move_allocations(ctx, uuid, migration["uuid"])
    chosen = await place(compute, ctx, instance, instance["flavor"],
                         ignore={instance["host"]}, host=host,
                         force=bool(move.get("force")))
    if chosen is None:
        await fail(compute, ctx, instance, migration, event, NO_VALID_HOST,
                   states.REBUILDING, vm_state=states.ERROR)
        return
    updated, migration = await _scheduled(compute, ctx, instance, migration, chosen, {},
                                          states.REBUILDING, "pre-migrating")
    if updated is None:
        return
    await _record(compute, ctx, uuid, event, "Success")
    await compute.agents.cast(chosen.host, "evacuate_instance", ctx, instance=updated,
                              migration=migration,
                              admin_password=move.get("admin_password"),
                              target_state=move.get("target_state"))


async def unshelve(compute: Compute, ctx: Ctx, uuid: str, availability_zone: str | None,
                   host: str | None) -> None:
    """A shelved server is powered on where it is; an offloaded one is scheduled like
    a build (in its zone, or on the host asked for) and spawned from its snapshot."""
    event = "conductor_unshelve_instance"
    instance = await _expect(compute, uuid, states.UNSHELVING)
    if instance is None:
        return
    if instance["vm_state"] == states.SHELVED:
        async with compute.db.writer() as conn:
            updated = await instances.update(conn, instance, {
                "task_state": states.POWERING_ON}, expected_task_state=[states.UNSHELVING])
        if updated is not None:
            await compute.agents.cast(instance["host"], "unshelve_instance", ctx,
                                      instance=updated)
        return
    try:
        chosen = await place(compute, ctx, instance, instance["flavor"], ignore=set(),
                             host=host)
    except Exception:
        log.exception("scheduling the unshelve of %s failed", uuid)
        chosen = None
    async with compute.db.writer() as conn:
        current = await instances.find(conn, uuid)
        if current is None or chosen is None:
            if current is not None:
                await instances.update(conn, current, {"task_state": None},
                                       expected_task_state=[states.UNSHELVING])
                await instances.record_event(conn, uuid, _rid(ctx), event, "", "Error",
                                             NO_VALID_HOST)
            if chosen is not None:
                await compute.placement.delete_allocations(ctx, uuid)
            return
        updated = await instances.update(conn, current, {
            "host": chosen.host, "node": chosen.node,
            "availability_zone": chosen.availability_zone},
            expected_task_state=[states.UNSHELVING])
    if updated is None:
        await compute.placement.delete_allocations(ctx, uuid)
        return
    await compute.agents.cast(chosen.host, "unshelve_instance", ctx, instance=updated)


# -- pieces ------------------------------------------------------------------------------
async def place(compute: Compute, ctx: Ctx, instance: dict[str, Any],
                flavor: dict[str, Any], *, ignore: set[str], host: str | None = None,
                force: bool = False) -> HostState | None:
    """Schedule the server with ``flavor`` and claim the chosen host for it. A host
    asked for is the only candidate (filters still apply) unless forced (they do
    not); a move never keeps the forced host of the boot."""
    wanted = {**instance, "flavor": flavor}
    snapshot = await load_hosts(compute)
    spec = spec_of(wanted, await _group_of(compute, instance["uuid"]))
    spec.force_host = spec.force_node = None
    spec.ignore_hosts = set(ignore)
    if host and force:
        spec.force_host = host
    elif host:
        snapshot = {k: v for k, v in snapshot.items() if v.host == host}
    return await choose_and_claim(compute, ctx, wanted, snapshot, spec)


async def destination_problem(compute: Compute, conn: AsyncConnection,
                              instance: dict[str, Any], host: str) -> str | None:
    """Why a forced destination cannot take a live migration (None: it can)."""
    if host == instance["host"]:
        return f"Unable to migrate instance ({instance['uuid']}) to current host ({host})."
    if not await host_is_up(compute, conn, host):
        return f"Compute service of {host} is unavailable at this time."
    return None


async def fail(compute: Compute, ctx: Ctx, instance: dict[str, Any], migration: Migration,
               event: str, message: str, task: str, *, vm_state: str | None = None,
               moved: bool = True) -> None:
    """The move could not start: the source allocations go back to the server, the
    migration is an error, the task is cleared (ERROR for an evacuation)."""
    uuid = instance["uuid"]
    async with compute.db.reader() as conn:
        current = await instances.find(conn, uuid)
    if moved:
        await give_back(compute, ctx, uuid, migration["uuid"], current)
    async with compute.db.writer() as conn:
        await update_migration(conn, migration["uuid"], status="error")
        current = await instances.find(conn, uuid)
        if current is not None:
            changes: dict[str, Any] = {"task_state": None,
                                       "request": _without_move(current["request"])}
            if vm_state is not None:
                changes.update(vm_state=vm_state, fault=fault(message))
            await instances.update(conn, current, changes, expected_task_state=[task])
        await instances.record_event(conn, uuid, _rid(ctx), event, "", "Error", message)


async def _scheduled(compute: Compute, ctx: Ctx, instance: dict[str, Any],
                     migration: Migration, chosen: HostState, changes: dict[str, Any],
                     task: str, status: str) -> tuple[dict[str, Any] | None, Migration]:
    """Record the destination on the migration and the server; a server deleted or
    changed meanwhile gives back what was claimed."""
    async with compute.db.writer() as conn:
        node = await compute_node(conn, chosen.host)
        dest = {"dest_compute": chosen.host, "dest_node": chosen.node,
                "dest_host": node["host_ip"] if node else None, "status": status}
        await update_migration(conn, migration["uuid"], **dest)
        current = await instances.find(conn, instance["uuid"])
        updated = None if current is None else await instances.update(conn, current, {
            **changes, "availability_zone": chosen.availability_zone,
            "request": _without_move(current["request"])}, expected_task_state=[task])
        if updated is None:
            await update_migration(conn, migration["uuid"], status="error")
    if updated is None:
        await give_back(compute, ctx, instance["uuid"], migration["uuid"], current)
    return updated, {**migration, **dest}


async def give_back(compute: Compute, ctx: Ctx, uuid: str, migration_uuid: str,
                    current: dict[str, Any] | None) -> None:
    """The source allocations go back to the server (replacing any claim on the
    destination); a server being deleted keeps none."""
    if current is None or current["task_state"] == states.DELETING:
        await compute.placement.delete_allocations(ctx, migration_uuid)
        await compute.placement.delete_allocations(ctx, uuid)
    else:
        await compute.placement.move_allocations(ctx, migration_uuid, uuid)


async def _abandon(compute: Compute, ctx: Ctx, uuid: str, event: str, reason: str) -> None:
    """Something unexpected broke a move in the conductor: hand back the allocations
    of its unfinished migration and clear the task, so the server can be used."""
    try:
        async with compute.db.reader() as conn:
            current = await instances.find(conn, uuid)
            migration = await find_migration(conn, uuid)
        if migration is not None and migration["status"] in ("accepted", "pre-migrating"):
            await give_back(compute, ctx, uuid, migration["uuid"], current)
            async with compute.db.writer() as conn:
                await update_migration(conn, migration["uuid"], status="error")
        async with compute.db.writer() as conn:
            if current is not None and current["task_state"] not in (None, states.DELETING):
                await instances.update(conn, current, {"task_state": None},
                                       expected_task_state=[current["task_state"]])
            await instances.record_event(conn, uuid, _rid(ctx), event, "", "Error", reason)
    except Exception:
        log.exception("could not clean up the move of %s", uuid)


async def _expect(compute: Compute, uuid: str, task: str) -> dict[str, Any] | None:
    async with compute.db.reader() as conn:
        instance = await instances.find(conn, uuid)
    if instance is None or instance["task_state"] != task:
        return None
    if not instance["host"] and task != states.UNSHELVING:
        return None
    return instance


async def _record(compute: Compute, ctx: Ctx, uuid: str, event: str,
                  result: str | None = None, details: str | None = None) -> None:
    async with compute.db.writer() as conn:
        await instances.record_event(conn, uuid, _rid(ctx), event, "", result, details)


def _rid(ctx: Ctx) -> str:
    return str(ctx.get("request_id") or "")


def _without_move(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != "move"}
