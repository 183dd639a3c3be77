"""A server's history and its interfaces: instance actions with their events, and
os-interface (ports attached to and detached from a running server)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.compute import models as m
from onestack.compute.handlers.common import (
    allowed,
    at_least,
    authorize,
    body,
    bus_context,
    isotime_micro,
    page,
    state,
    target_of,
)
from onestack.compute.handlers.servers import check_locked, owned
from onestack.compute.objects import states
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable
from onestack.kernel.bus import RemoteError
from onestack.network.rpcapi import NetworkError

Instance = dict[str, Any]


# -- instance actions ----------------------------------------------------------------
def _action_body(req: Request, row: Any) -> dict[str, Any]:
    body = {"action": row.action, "instance_uuid": row.instance_uuid,
            "request_id": row.request_id, "user_id": row.user_id,
            "project_id": row.project_id, "start_time": isotime_micro(row.start_time),
            "message": row.message}
    if at_least(req, 58):
        body["updated_at"] = isotime_micro(row.updated_at or row.start_time)
    return body


async def list_actions(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"], deleted=at_least(req, 21))
    authorize(req, "os_compute_api:os-instance-actions:list",
              target_of(req, instance["project_id"], instance["user_id"]))
    async with state(req).db.reader() as conn:
        rows = (await conn.execute(sa.select(m.instance_action).where(
            m.instance_action.c.instance_uuid == instance["uuid"]).order_by(
                m.instance_action.c.start_time.desc(), m.instance_action.c.id.desc()))).all()
    if at_least(req, 58):
        since = req.query("changes-since")
        if since is not None:
            from onestack.compute.handlers.servers import _timestamp

            limit = _timestamp(since, "changes-since")
            rows = [r for r in rows if (r.updated_at or r.start_time) >= limit]
        chosen, more = page(req, [_action_body(req, r) for r in rows], "request_id")
        result: dict[str, Any] = {"instanceActions": chosen}
        if more and chosen:
            from onestack.compute.handlers.common import next_link

            result["links"] = next_link(
                req, f"servers/{instance['uuid']}/os-instance-actions",
                chosen[-1]["request_id"])
        return json_response(result)
    return json_response({"instanceActions": [_action_body(req, r) for r in rows]})


async def show_action(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"], deleted=at_least(req, 21))
    authorize(req, "os_compute_api:os-instance-actions:show",
              target_of(req, instance["project_id"], instance["user_id"]))
    async with state(req).db.reader() as conn:
        row = (await conn.execute(sa.select(m.instance_action).where(
            m.instance_action.c.instance_uuid == instance["uuid"],
            m.instance_action.c.request_id == req.params["request_id"]).order_by(
                m.instance_action.c.id.desc()))).first()
        if row is None:
            raise NotFound(f"Action {req.params['request_id']} not found")
        events = (await conn.execute(sa.select(m.instance_action_event).where(
            m.instance_action_event.c.action_id == row.id).order_by(
                m.instance_action_event.c.id))).all()
    result = _action_body(req, row)
    target = target_of(req, instance["project_id"], instance["user_id"])
    if at_least(req, 51) or allowed(req, "os_compute_api:os-instance-actions:events", target):
        admin_events = allowed(req, "os_compute_api:os-instance-actions:events", target)
        result["events"] = [_event_body(req, e, admin_events) for e in events]
    return json_response({"instanceAction": result})


def _event_body(req: Request, event: Any, admin: bool) -> dict[str, Any]:
    body = {"event": event.event, "start_time": isotime_micro(event.start_time),
            "finish_time": isotime_micro(event.finish_time), "result": event.result}
    if admin:
        body["traceback"] = event.traceback
    if at_least(req, 62):
        import hashlib

        host = event.host or ""
        body["hostId"] = hashlib.sha224((req.context.project_id or "").encode()  # type: ignore[union-attr]
                                        + host.encode()).hexdigest() if host else ""
        if admin:
            body["host"] = host
    if at_least(req, 84) and admin:
        body["details"] = event.details
    return body


# -- interfaces ----------------------------------------------------------------------
def _interface(vif: dict[str, Any], req: Request) -> dict[str, Any]:
    body = {"port_id": vif["id"], "net_id": vif["network_id"],
            "mac_addr": vif.get("mac_address", ""), "port_state": vif.get("status", "ACTIVE"),
            "fixed_ips": [{"subnet_id": ip.get("subnet_id", ""), "ip_address": ip["ip_address"]}
                          for ip in vif.get("fixed_ips") or []]}
    if at_least(req, 70):
        body["tag"] = vif.get("tag")
    return body


async def list_interfaces(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"], "os_compute_api:os-attach-interfaces:list")
    ports = await state(req).network.list_ports(bus_context(req), device_id=instance["uuid"])
    tags = {v["id"]: v.get("tag") for v in instance["network_info"] or []}
    return json_response({"interfaceAttachments": [
        _interface({**p, "tag": tags.get(p["id"])}, req) for p in ports]})


async def show_interface(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"], "os_compute_api:os-attach-interfaces:show")
    port = await state(req).network.get_port(bus_context(req), req.params["port_id"])
    if port is None or port.get("device_id") != instance["uuid"]:
        raise NotFound(f"Port {req.params['port_id']} is not attached")
    tags = {v["id"]: v.get("tag") for v in instance["network_info"] or []}
    return json_response({"interfaceAttachment": _interface(
        {**port, "tag": tags.get(port["id"])}, req)})


ATTACH = {"type": "object", "properties": {"interfaceAttachment": {
    "type": "object",
    "properties": {"net_id": {"type": "string"}, "port_id": {"type": "string"},
                   "fixed_ips": {"type": "array", "maxItems": 1, "items": {
                       "type": "object", "properties": {"ip_address": {"type": "string"}},
                       "required": ["ip_address"], "additionalProperties": False}},
                   "tag": {"type": "string", "maxLength": 60}},
    "additionalProperties": False}}, "additionalProperties": False}


async def attach_interface(req: Request) -> Response:
    data = await body(req, ATTACH)
    item = data.get("interfaceAttachment") or {}
    instance = await owned(req, req.params["server_id"],
                           "os_compute_api:os-attach-interfaces:create")
    check_locked(req, instance)
    if instance["vm_state"] not in (states.ACTIVE, states.PAUSED, states.STOPPED) or \
            instance["task_state"] is not None:
        raise Conflict(f"Cannot 'attach_interface' instance {instance['uuid']} while it is "
                       f"in vm_state {instance['vm_state']}")
    if item.get("net_id") and item.get("port_id"):
        raise BadRequest("Must not input both network_id and port_id")
    compute = state(req)
    ctx = bus_context(req)
    net_id, port_id = item.get("net_id"), item.get("port_id")
    if port_id:
        port = await compute.network.get_port(ctx, port_id)
        if port is None:
            raise NotFound(f"Port {port_id} could not be found.")
        if port.get("device_id"):
            raise Conflict(f"Port {port_id} is still in use.")
    elif net_id:
        if await compute.network.get_network(ctx, net_id) is None:
            raise NotFound(f"Network {net_id} could not be found.")
    else:
        usable = await compute.network.usable_networks(ctx, instance["project_id"])
        if len(usable) != 1:
            raise Conflict("Multiple possible networks found, use a Network ID to be more "
                           "specific." if usable else "No network available.")
        net_id = usable[0]["id"]
    fixed_ip = (item.get("fixed_ips") or [{}])[0].get("ip_address")
    try:
        vif = await compute.agents.call(instance["host"], "attach_interface", ctx,
                                        instance=instance, network_id=net_id, port_id=port_id,
                                        fixed_ip=fixed_ip, tag=item.get("tag"))
    except (RemoteError, NetworkError) as exc:
        raise BadRequest(f"Failed to attach network adapter device to {instance['uuid']}: "
                         f"{exc}") from None
    return json_response({"interfaceAttachment": _interface(vif, req)})


async def detach_interface(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"],
                           "os_compute_api:os-attach-interfaces:delete")
    check_locked(req, instance)
    port_id = req.params["port_id"]
    compute = state(req)
    port = await compute.network.get_port(bus_context(req), port_id)
    if port is None or port.get("device_id") != instance["uuid"]:
        raise NotFound(f"Port {port_id} is not attached")
    if instance["task_state"] is not None:
        raise Conflict(f"Cannot 'detach_interface' instance {instance['uuid']} while it is "
                       f"in task_state {instance['task_state']}")
    await compute.agents.call(instance["host"], "detach_interface", bus_context(req),
                              instance=instance, port_id=port_id)
    return empty_response(202)


ROUTES: RouteTable = {
    "/servers/{server_id}/os-instance-actions": {"GET": list_actions},
    "/servers/{server_id}/os-instance-actions/{request_id}": {"GET": show_action},
    "/servers/{server_id}/os-interface": {"GET": list_interfaces, "POST": attach_interface},
    "/servers/{server_id}/os-interface/{port_id}": {"GET": show_interface,
                                                     "DELETE": detach_interface},
}
