"""The conductor: the only writer of the compute database on behalf of agents, and
the home of the scheduler. Builds queue up and are scheduled in batches over one
snapshot of the hosts, so a thousand servers booted at once cost one host query."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from onestack.compute import models as m
from onestack.compute.naming import node_uuid
from onestack.compute.objects import hosts as host_records
from onestack.compute.objects import instances, states
from onestack.compute.rpcapi import CONDUCTOR_TOPIC
from onestack.compute.scheduler import (
    GroupSpec,
    HostState,
    RequestSpec,
    resources_of,
    select_hosts,
    traits_of,
)
from onestack.kernel.bus import Target
from onestack.kernel.db.retry import retry_on_deadlock

if TYPE_CHECKING:
    from onestack.compute.service import Compute

log = logging.getLogger(__name__)
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


def fault(message: str, code: int = 500, details: str = "") -> dict[str, Any]:
    return {"code": code, "message": message, "details": details, "created": time.time()}


class ConductorEndpoints:
    """Served at Target("conductor"); every method takes the caller's context first."""

    def __init__(self, compute: Compute) -> None:
        self.compute = compute

    # -- building ------------------------------------------------------------------
    async def schedule_and_build(self, ctx: dict[str, Any], uuids: list[str]) -> None:
        for uuid in uuids:
            self.compute.build_queue.put_nowait(_Build(ctx, uuid))

    async def build_failed(self, ctx: dict[str, Any], uuid: str, host: str,
                           reason: str) -> None:
        """An agent could not build: give the resources back and try another host,
        up to ``max_attempts`` hosts in all."""
        compute = self.compute
        await compute.placement.delete_allocations(ctx, uuid)
        async with compute.db.writer() as conn:
            current = await instances.find(conn, uuid)
            if current is None:
                return
            request = dict(current["request"])
            tried = [*request.get("tried_hosts", []), host]
            request["tried_hosts"] = tried
            if len(tried) >= compute.settings.max_attempts or request.get("force_host"):
                await instances.update(conn, current, {
                    "vm_state": states.ERROR, "task_state": None, "request": request,
                    "fault": fault(f"Build of instance {uuid} aborted: {reason}"
                                   if len(tried) == 1 else
                                   f"Exceeded maximum number of retries. Exhausted all "
                                   f"hosts available for retrying build failures for "
                                   f"instance {uuid}.", details=reason)})
                return
            await instances.update(conn, current, {
                "host": None, "node": None, "task_state": states.SCHEDULING,
                "request": request})
        compute.build_queue.put_nowait(_Build(ctx, uuid))

    # -- agents --------------------------------------------------------------------
    async def register_hosts(self, ctx: dict[str, Any], hosts: list[dict[str, Any]]) -> None:
        """Record the agents' hosts and nodes; a host already in aggregates gets them
        on its (maybe new) placement provider."""
        await self._register(hosts)
        self.compute.hosts_changed()
        names = [h["host"] for h in hosts]
        async with self.compute.db.reader() as conn:
            rows = (await conn.execute(
                sa.select(m.aggregate_host.c.host, m.aggregate.c.uuid)
                .join(m.aggregate, m.aggregate.c.id == m.aggregate_host.c.aggregate_id)
                .where(m.aggregate_host.c.host.in_(names)))).all()
        memberships: dict[str, list[str]] = {}
        for host, uuid in rows:
            memberships.setdefault(host, []).append(uuid)
        for node in hosts:
            if node["host"] in memberships:
                await self.compute.placement.set_aggregates(
                    ctx, node_uuid(node["hypervisor_hostname"]),
                    memberships[node["host"]])

    @retry_on_deadlock
    async def _register(self, hosts: list[dict[str, Any]]) -> None:
        async with self.compute.db.writer() as conn:
            await host_records.register_nodes(conn, hosts)

    @retry_on_deadlock
    async def heartbeat(self, ctx: dict[str, Any], hosts: list[str]) -> None:
        async with self.compute.db.writer() as conn:
            await host_records.heartbeat(conn, "nova-compute", hosts)

    async def instances_on(self, ctx: dict[str, Any], hosts: list[str]) -> list[dict[str, Any]]:
        async with self.compute.db.reader() as conn:
            return await instances.select(conn, m.instance.c.host.in_(hosts))

    @retry_on_deadlock
    async def instance_update(self, ctx: dict[str, Any], uuid: str, changes: dict[str, Any],
                              expected_task_state: list[str | None] | None = None,
                              event: dict[str, Any] | None = None
                              ) -> dict[str, Any] | None:
        async with self.compute.db.writer() as conn:
            current = await instances.find(conn, uuid)
            if current is None:
                return None
            expected = expected_task_state if expected_task_state is not None else \
                [current["task_state"]]
            updated = await instances.update(conn, current, changes,
                                             expected_task_state=expected)
            if updated is not None and event is not None:
                await instances.record_event(conn, uuid, ctx.get("request_id") or "",
                                             event["event"], event["host"],
                                             event.get("result"), event.get("details"))
            return updated

    @retry_on_deadlock
    async def instance_destroyed(self, ctx: dict[str, Any], uuid: str) -> None:
        await self.compute.placement.delete_allocations(ctx, uuid)
        async with self.compute.db.writer() as conn:
            await instances.soft_delete(conn, uuid)
            await conn.execute(m.instance_action.update().where(
                m.instance_action.c.instance_uuid == uuid,
                m.instance_action.c.action == "delete",
                m.instance_action.c.finish_time.is_(None)).values(finish_time=time.time()))

    @retry_on_deadlock
    async def action_event(self, ctx: dict[str, Any], uuid: str, request_id: str, event: str,
                           host: str, result: str | None = None,
                           details: str | None = None) -> None:
        async with self.compute.db.writer() as conn:
            await instances.record_event(conn, uuid, request_id, event, host, result, details)

    @retry_on_deadlock
    async def migration_update(self, ctx: dict[str, Any], uuid: str, status: str) -> None:
        async with self.compute.db.writer() as conn:
            await conn.execute(m.migration.update().where(m.migration.c.uuid == uuid)
                               .values(status=status, updated_at=time.time()))

    # -- moves (implemented in moves.py) -----------------------------------------------
    async def migrate(self, ctx: dict[str, Any], uuid: str, kind: str,
                      flavor: dict[str, Any] | None = None, host: str | None = None) -> None:
        from onestack.compute.moves import migrate

        await migrate(self.compute, ctx, uuid, kind, flavor, host)

    async def unshelve(self, ctx: dict[str, Any], uuid: str,
                       availability_zone: str | None = None, host: str | None = None) -> None:
        from onestack.compute.moves import unshelve

        await unshelve(self.compute, ctx, uuid, availability_zone, host)



class _Build:
    __slots__ = ("ctx", "uuid")

    def __init__(self, ctx: dict[str, Any], uuid: str) -> None:
        self.ctx = ctx
        self.uuid = uuid


# -- the host snapshot ---------------------------------------------------------------
SNAPSHOT_TTL = 2.0  # seconds: changes made by other processes and heartbeats show then


async def current_hosts(compute: Compute) -> dict[str, HostState]:
    """The host snapshot, reloaded when this process changed hosts or aggregates (see
    api.HOST_WRITERS) or when it is older than SNAPSHOT_TTL."""
    cached = compute.host_snapshot
    now = time.monotonic()
    if cached is not None and cached[0] == compute.hosts_version and \
            now - cached[1] < SNAPSHOT_TTL:
        return cached[2]
    version = compute.hosts_version
    hosts = await load_hosts(compute)
    compute.host_snapshot = (version, now, hosts)
    return hosts


async def load_hosts(compute: Compute) -> dict[str, HostState]:
    """Every compute node with its service's state, zone and aggregates; keyed by the
    node's placement provider uuid."""
    settings = compute.settings
    now = time.time()
    async with compute.db.reader() as conn:
        rows = (await conn.execute(
            sa.select(m.compute_node.c.uuid, m.compute_node.c.host,
                      m.compute_node.c.hypervisor_hostname, m.compute_node.c.hypervisor_type,
                      m.compute_service.c.disabled, m.compute_service.c.forced_down,
                      m.compute_service.c.last_seen_up)
            .join(m.compute_service, m.compute_service.c.id == m.compute_node.c.service_id)
        )).all()
        metadata_rows = (await conn.execute(
            sa.select(m.aggregate_host.c.host, m.aggregate_metadata.c.aggregate_id,
                      m.aggregate_metadata.c.key, m.aggregate_metadata.c.value)
            .join(m.aggregate_metadata,
                  m.aggregate_metadata.c.aggregate_id == m.aggregate_host.c.aggregate_id)
        )).all()
    aggregates: dict[str, dict[int, dict[str, str]]] = {}
    for host, agg_id, key, value in metadata_rows:
        aggregates.setdefault(host, {}).setdefault(agg_id, {})[key] = value
    result = {}
    for row in rows:
        host_aggs = list(aggregates.get(row.host, {}).values())
        zone = next((a["availability_zone"] for a in host_aggs if "availability_zone" in a),
                    settings.default_availability_zone)
        service = {"forced_down": row.forced_down, "last_seen_up": row.last_seen_up}
        result[row.uuid] = HostState(
            host=row.host, node=row.hypervisor_hostname, node_uuid=row.uuid,
            enabled=not row.disabled,
            up=host_records.is_up(service, settings.service_down_time, now),
            availability_zone=zone, hypervisor_type=row.hypervisor_type,
            aggregates=host_aggs)
    return result


async def _group_of(compute: Compute, uuid: str) -> GroupSpec | None:
    async with compute.db.reader() as conn:
        group = (await conn.execute(
            sa.select(m.server_group).join(
                m.server_group_member,
                m.server_group_member.c.group_uuid == m.server_group.c.uuid)
            .where(m.server_group_member.c.instance_uuid == uuid))).first()
        if group is None:
            return None
        member_hosts = (await conn.execute(
            sa.select(m.instance.c.host)
            .join(m.server_group_member,
                  m.server_group_member.c.instance_uuid == m.instance.c.uuid)
            .where(m.server_group_member.c.group_uuid == group.uuid,
                   m.instance.c.uuid != uuid, m.instance.c.host.is_not(None),
                   m.instance.c.deleted_at.is_(None)))).scalars().all()
    return GroupSpec(policy=group.policy, member_hosts=list(member_hosts),
                     max_server_per_host=int((group.rules or {}).get("max_server_per_host", 1)))


def _uuids(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or ()]


async def _hinted_hosts(compute: Compute, hints: dict[str, Any]) -> tuple[set[str] | None,
                                                                           set[str]]:
    """The hosts of the servers named by the same_host and different_host hints."""
    same, different = _uuids(hints.get("same_host")), _uuids(hints.get("different_host"))
    async with compute.db.reader() as conn:
        rows = (await conn.execute(sa.select(m.instance.c.uuid, m.instance.c.host).where(
            m.instance.c.uuid.in_(same + different),
            m.instance.c.deleted_at.is_(None)))).all()
    where = {uuid: host for uuid, host in rows if host}
    return ({where[u] for u in same if u in where} if same else None,
            {where[u] for u in different if u in where})


def spec_of(instance: dict[str, Any], group: GroupSpec | None) -> RequestSpec:
    request = instance["request"]
    return RequestSpec(
        uuid=instance["uuid"], flavor=instance["flavor"],
        image={"id": instance["image_ref"],
               "properties": request.get("image_properties", {})},
        availability_zone=request.get("availability_zone"),
        force_host=request.get("force_host"), force_node=request.get("force_node"),
        group=group, ignore_hosts=set(request.get("tried_hosts", [])))


async def choose_and_claim(compute: Compute, ctx: dict[str, Any], instance: dict[str, Any],
                           snapshot: dict[str, HostState], spec: RequestSpec
                           ) -> HostState | None:
    """Ask placement, filter and weigh, then claim the best host placement agrees to."""
    required, forbidden = traits_of(instance["flavor"], spec.image)
    found = await compute.placement.candidates(
        ctx, resources_of(instance["flavor"]), required=required, forbidden=forbidden)
    classes = found["classes"]
    hosts_now = []
    for root, *free in found["rows"]:
        state = snapshot.get(root)
        if state is not None:
            state.free = dict(zip(classes, free, strict=True))
            hosts_now.append(state)
    wanted = resources_of(instance["flavor"])
    for state in select_hosts(spec, hosts_now, compute.settings):
        allocation = found["allocations"].get(state.node_uuid) or {state.node_uuid: wanted}
        claimed = await compute.placement.claim(
            ctx, instance["uuid"], allocation, instance["project_id"], instance["user_id"])
        if claimed:
            return state
    return None


async def _schedule_one(compute: Compute, build: _Build, instance: dict[str, Any] | None,
                        snapshot: dict[str, HostState]) -> None:
    if instance is None or instance["task_state"] != states.SCHEDULING:
        return
    hints = instance["request"].get("scheduler_hints", {})
    group = None
    if hints.get("group"):
        group = await _group_of(compute, build.uuid)
    spec = spec_of(instance, group)
    if hints.get("same_host") or hints.get("different_host"):
        spec.same_host, spec.different_host = await _hinted_hosts(compute, hints)
    chosen = await choose_and_claim(compute, build.ctx, instance, snapshot, spec)
    async with compute.db.writer() as conn:
        current = await instances.find(conn, build.uuid)
        if current is None:
            if chosen is not None:
                await compute.placement.delete_allocations(build.ctx, build.uuid)
            return
        if chosen is None:
            await instances.update(conn, current, {
                "vm_state": states.ERROR, "task_state": None,
                "fault": fault(NO_VALID_HOST)}, expected_task_state=[states.SCHEDULING])
            await instances.record_event(conn, build.uuid, build.ctx.get("request_id", ""),
                                         "conductor_schedule_and_build_instances", "",
                                         "Error", NO_VALID_HOST)
            return
        zone = current["availability_zone"] or chosen.availability_zone
        updated = await instances.update(conn, current, {
            "host": chosen.host, "node": chosen.node, "availability_zone": zone},
            expected_task_state=[states.SCHEDULING])
    if updated is None:
        await compute.placement.delete_allocations(build.ctx, build.uuid)
        return
    await compute.agents.cast(chosen.host, "build_instance", build.ctx, instance=updated)


async def scheduling_loop(compute: Compute) -> None:
    queue = compute.build_queue
    while True:
        batch = [await queue.get()]
        while not queue.empty():
            batch.append(queue.get_nowait())
        try:
            snapshot = await current_hosts(compute)
        except Exception:
            log.exception("could not load the hosts to schedule on")
            await asyncio.sleep(1)
            for build in batch:
                queue.put_nowait(build)
            continue
        async with compute.db.reader() as conn:
            found = {i["uuid"]: i for i in await instances.select(
                conn, m.instance.c.uuid.in_([b.uuid for b in batch]))}
        for build in batch:
            try:
                await _schedule_one(compute, build, found.get(build.uuid), snapshot)
            except Exception:
                log.exception("scheduling %s failed", build.uuid)
                await _fail(compute, build, "Scheduling failed unexpectedly.")


async def _fail(compute: Compute, build: _Build, message: str) -> None:
    try:
        async with compute.db.writer() as conn:
            current = await instances.find(conn, build.uuid)
            if current is not None:
                await instances.update(conn, current, {
                    "vm_state": states.ERROR, "task_state": None, "fault": fault(message)})
    except Exception:
        log.exception("could not record the failure of %s", build.uuid)


async def _own_heartbeat(compute: Compute) -> None:
    host = compute.settings.host or socket.gethostname()
    async with compute.db.writer() as conn:
        await host_records.register_services(conn, "nova-conductor", [host], topic="conductor")
        await host_records.register_services(conn, "nova-scheduler", [host], topic="scheduler")
    while True:
        await asyncio.sleep(compute.settings.report_interval)
        try:
            async with compute.db.writer() as conn:
                await host_records.heartbeat(conn, "nova-conductor", [host])
                await host_records.heartbeat(conn, "nova-scheduler", [host])
        except Exception:
            log.exception("conductor heartbeat failed")


async def resume_pending(compute: Compute) -> None:
    """After a restart, builds still waiting for a host go back to the scheduler."""
    async with compute.db.reader() as conn:
        pending = await instances.select(conn, m.instance.c.task_state == states.SCHEDULING,
                                         m.instance.c.host.is_(None))
    for instance in pending:
        compute.build_queue.put_nowait(_Build(
            {"user_id": instance["user_id"], "project_id": instance["project_id"],
             "roles": [], "request_id": ""}, instance["uuid"]))


async def run_conductor(compute: Compute) -> None:
    server = await compute.bus.serve(Target(CONDUCTOR_TOPIC), ConductorEndpoints(compute))
    await resume_pending(compute)
    tasks = [asyncio.create_task(scheduling_loop(compute)),
             asyncio.create_task(_own_heartbeat(compute))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()
