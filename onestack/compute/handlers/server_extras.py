"""Smaller server APIs: diagnostics, the metadata service's password
(``os-server-password``), deferred delete's restore and forceDelete (no soft delete
here: servers go at once, so only forceDelete finds anything to do), and external
events from the other services (``os-server-external-events``)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.compute import models as m
from onestack.compute.drivers import base as power
from onestack.compute.handlers.common import at_least, authorize, body, state, target_of
from onestack.compute.handlers.servers import check_locked, delete_instance, owned
from onestack.compute.objects import instances, states
from onestack.kernel.api.faults import Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

Instance = dict[str, Any]
POWER_NAMES = {power.RUNNING: "running", power.PAUSED: "paused", power.SHUTDOWN: "shutdown",
               power.CRASHED: "crashed", power.SUSPENDED: "suspended"}


# -- diagnostics ---------------------------------------------------------------------------
async def diagnostics(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"])
    authorize(req, "os_compute_api:os-server-diagnostics",
              target_of(req, instance["project_id"]))
    if not instance["host"] or instance["vm_state"] == states.BUILDING:
        raise Conflict(f"Instance {instance['uuid']} is not ready")
    flavor = instance["flavor"]
    memory_kib = int(flavor["memory_mb"]) * 1024
    vifs = instance["network_info"] or []
    disks = 1 + (1 if flavor.get("ephemeral_gb") else 0) + (1 if flavor.get("swap") else 0)
    if not at_least(req, 48):
        legacy: dict[str, Any] = {"memory": memory_kib}
        for index in range(int(flavor["vcpus"])):
            legacy[f"cpu{index}_time"] = 0
        for index, _ in enumerate(vifs):
            for key in ("rx", "rx_drop", "rx_errors", "rx_packets", "tx", "tx_drop",
                        "tx_errors", "tx_packets"):
                legacy[f"tap{index}_{key}"] = 0
        return json_response(legacy)
    launched = instance["launched_at"]
    stats = dict.fromkeys(("rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate",
                           "tx_octets", "tx_errors", "tx_drop", "tx_packets", "tx_rate"))
    return json_response({
        "state": POWER_NAMES.get(instance["power_state"], "pending"),
        "driver": "libvirt", "hypervisor": instance.get("node") and "qemu",
        "hypervisor_os": "linux",
        "uptime": int(time.time() - launched) if launched else None,
        "config_drive": bool(instance["config_drive"]),
        "num_cpus": int(flavor["vcpus"]), "num_nics": len(vifs), "num_disks": disks,
        "memory_details": {"maximum": memory_kib // 1024, "used": 0},
        "cpu_details": [{"id": i, "time": None, "utilisation": None}
                        for i in range(int(flavor["vcpus"]))],
        "nic_details": [{"mac_address": v.get("mac_address"), **stats} for v in vifs],
        "disk_details": [dict.fromkeys(("read_bytes", "read_requests", "write_bytes",
                                        "write_requests", "errors_count"))
                         for _ in range(disks)]})


# -- the metadata service's password -------------------------------------------------------
async def show_password(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"])
    authorize(req, "os_compute_api:os-server-password:show",
              target_of(req, instance["project_id"]))
    return json_response({"password": (instance["system_metadata"] or {}).get(
        "password", "")})


async def clear_password(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"])
    authorize(req, "os_compute_api:os-server-password:clear",
              target_of(req, instance["project_id"]))
    system = dict(instance["system_metadata"] or {})
    if system.pop("password", None) is not None:
        async with state(req).db.writer() as conn:
            current = await instances.get(conn, instance["uuid"])
            await instances.update(conn, current, {"system_metadata": system})
    return empty_response(204)


# -- deferred delete -----------------------------------------------------------------------
async def restore(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:os-deferred-delete:restore",
              target_of(req, instance["project_id"]))
    raise Conflict(f"Cannot 'restore' instance {instance['uuid']} while it is in vm_state "
                   f"{instance['vm_state']}")


async def force_delete(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:os-deferred-delete:force",
              target_of(req, instance["project_id"], instance["user_id"]))
    check_locked(req, instance)
    await delete_instance(req, instance)
    return empty_response(202)


ACTIONS = {"restore": restore, "forceDelete": force_delete}


# -- external events -----------------------------------------------------------------------
def _events_schema(minor: int) -> dict[str, Any]:
    names = ["network-changed", "network-vif-plugged", "network-vif-unplugged",
             "network-vif-deleted"]
    for since, name in ((51, "volume-extended"), (76, "power-update"),
                        (82, "accelerator-request-bound"), (93, "volume-reimaged")):
        if minor >= since:
            names.append(name)
    event = {"type": "object", "properties": {
        "server_uuid": {"type": "string", "format": "uuid"},
        "name": {"type": "string", "enum": names},
        "status": {"type": "string", "enum": ["failed", "completed", "in-progress"]},
        "tag": {"type": "string", "maxLength": 255}},
        "required": ["server_uuid", "name"], "additionalProperties": False}
    return {"type": "object", "properties": {"events": {
        "type": "array", "minItems": 1, "items": event}},
        "required": ["events"], "additionalProperties": False}


_EVENT_SCHEMAS: dict[int, dict[str, Any]] = {}


async def external_events(req: Request) -> Response:
    authorize(req, "os_compute_api:os-server-external-events:create")
    minor = req.version.minor if req.version is not None else 1
    schema = _EVENT_SCHEMAS.setdefault(minor, _events_schema(minor))
    data = await body(req, schema)
    wanted = sorted({e["server_uuid"] for e in data["events"]})
    async with state(req).db.reader() as conn:
        rows = (await conn.execute(sa.select(m.instance.c.uuid, m.instance.c.host).where(
            m.instance.c.uuid.in_(wanted), m.instance.c.deleted_at.is_(None)))).all()
    hosts = {r.uuid: r.host for r in rows}
    answered, accepted, status = [], 0, 200
    for event in data["events"]:
        event = dict(event)
        if event["server_uuid"] not in hosts:
            event.update(status="failed", code=404)
            status = 207
        elif not hosts[event["server_uuid"]]:
            event.update(status="failed", code=422)
            status = 207
        else:
            event.setdefault("status", "completed")
            event["code"] = 200
            accepted += 1
        answered.append(event)
    if not accepted:
        raise NotFound("No instances found for any event")
    return json_response({"events": answered}, status=status)



ROUTES: RouteTable = {
    "/servers/{server_id}/diagnostics": {"GET": diagnostics},
    "/servers/{server_id}/os-server-password": {"GET": show_password,
                                                "DELETE": clear_password},
    "/os-server-external-events": {"POST": external_events},
}
