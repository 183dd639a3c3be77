"""``/os-services``: list compute services, enable or disable them, force them down and
delete them. Before 2.53 the body names a service by host and binary and the path
names the action (``PUT /os-services/disable``); from 2.53 the path names the service
by uuid and the body says what changes."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    body,
    bus_context,
    isotime_micro,
    state,
)
from onestack.compute.objects import services
from onestack.compute.objects.hosts import is_up
from onestack.compute.schemas import services as schemas
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

log = logging.getLogger(__name__)
RULE = "os_compute_api:os-services:%s"


def reject_unknown(req: Request, allowed: set[str]) -> None:
    """A query schema without additional properties, worded as Nova's."""
    unknown = list(dict.fromkeys(k for k, _ in req.query_items if k not in allowed))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise BadRequest(f"Additional properties are not allowed ({names} {verb} unexpected)")


def integer_id(ident: str) -> int:
    try:
        return int(ident)
    except ValueError:
        raise BadRequest("Invalid input received: id must be an integer") from None


def render(req: Request, service: dict[str, Any], now: float) -> dict[str, Any]:
    out = {"id": service["uuid"] if at_least(req, 53) else service["id"],
           "binary": service["binary"], "host": service["host"], "zone": service["zone"],
           "status": "disabled" if service["disabled"] else "enabled",
           "state": "up" if is_up(service, state(req).settings.service_down_time, now)
           else "down",
           "updated_at": isotime_micro(services.last_update(service)),
           "disabled_reason": service["disabled_reason"]}
    if at_least(req, 11):
        out["forced_down"] = bool(service["forced_down"])
    return out


async def _zoned(req: Request, conn: Any, service: dict[str, Any]) -> dict[str, Any]:
    return (await services.with_zones(conn, [service],
                                      state(req).settings.default_availability_zone))[0]


async def list_services(req: Request) -> Response:
    if at_least(req, 75):
        reject_unknown(req, {"host", "binary"})
    authorize(req, RULE % "list")
    async with state(req).db.reader() as conn:
        found = await services.list_all(conn, host=req.query("host") or None,
                                        binary=req.query("binary") or None)
        found = await services.with_zones(conn, found,
                                          state(req).settings.default_availability_zone)
    now = time.time()
    return json_response({"services": [render(req, s, now) for s in found]})


async def _check_forced_up(conn: Any, host: str) -> None:
    if await services.done_evacuations(conn, host):
        raise BadRequest(
            f"Unable to force up host {host} as `done` evacuation migration records remain "
            "associated with the host. Ensure the compute service has been restarted, "
            "allowing these records to move to `completed` before retrying this request.")


def _require_compute(binary: str) -> None:
    if binary != services.COMPUTE:
        raise BadRequest(f"Updating a {binary} service is not supported. Only nova-compute "
                         "services can be updated.")


async def _update_by_host(req: Request, action: str, data: dict[str, Any]) -> Response:
    """Before 2.53: the action in the path, the service in the body."""
    authorize(req, RULE % "update")
    actions = {"enable", "disable", "disable-log-reason"}
    if at_least(req, 11):
        actions.add("force-down")
    if action not in actions:
        raise NotFound("Unknown action")
    host, binary = data["host"], data["binary"]
    reply: dict[str, Any] = {"host": host, "binary": binary}
    if action == "enable":
        changes: dict[str, Any] = {"disabled": False, "disabled_reason": None}
        reply["status"] = "enabled"
    elif action == "force-down":
        if "forced_down" not in data:
            raise BadRequest("Missing forced_down field")
        forced_down = schemas.as_bool(data["forced_down"])
        changes = {"forced_down": forced_down}
        reply["forced_down"] = forced_down
    else:
        reason = None
        if action == "disable-log-reason":
            if "disabled_reason" not in data:
                raise BadRequest("Missing disabled reason field")
            reason = data["disabled_reason"]
            reply["disabled_reason"] = reason
        changes = {"disabled": True, "disabled_reason": reason}
        reply["status"] = "disabled"
    async with state(req).db.writer() as conn:
        if changes.get("forced_down") is False and binary == services.COMPUTE:
            await _check_forced_up(conn, host)
        _require_compute(binary)
        service = await services.find(conn, host, binary)
        if service is None:
            raise NotFound(f"Host '{host}' is not mapped to any cell")
        await services.update(conn, service, changes)
    return json_response({"service": reply})


async def _update_by_uuid(req: Request, ident: str, data: dict[str, Any]) -> Response:
    """From 2.53: the service by uuid in the path, the changes in the body."""
    if not services.is_uuid(ident):
        raise BadRequest(f"Invalid uuid {ident}")
    authorize(req, RULE % "update")
    async with state(req).db.writer() as conn:
        service = await services.get(conn, ident)
        if service is None:
            raise NotFound(f"Service {ident} could not be found.")
        _require_compute(service["binary"])
        changes: dict[str, Any] = {}
        if data.get("status") == "enabled":
            if data.get("disabled_reason"):
                raise BadRequest("Specifying 'disabled_reason' with status 'enabled' is "
                                 "invalid.")
            changes.update(disabled=False, disabled_reason=None)
        elif data.get("status") == "disabled":
            changes.update(disabled=True, disabled_reason=data.get("disabled_reason"))
        if "forced_down" in data:
            changes["forced_down"] = schemas.as_bool(data["forced_down"])
            if not changes["forced_down"]:
                await _check_forced_up(conn, service["host"])
        if not changes:
            raise BadRequest("No updates were requested. Fields 'status' or 'forced_down' "
                             "should be specified.")
        service = await _zoned(req, conn, await services.update(conn, service, changes))
    return json_response({"service": render(req, service, time.time())})


async def update_service(req: Request) -> Response:
    ident = req.params["service_id"]
    if at_least(req, 53):
        return await _update_by_uuid(req, ident, await body(req, schemas.UPDATE_V253))
    minor = req.version.minor if req.version is not None else 1
    return await _update_by_host(req, ident, await body(req, schemas.update_by_host(minor)))


async def delete_service(req: Request) -> Response:
    authorize(req, RULE % "delete")
    ident = req.params["service_id"]
    if at_least(req, 53):
        if not services.is_uuid(ident):
            raise BadRequest(f"Invalid uuid {ident}")
    else:
        integer_id(ident)
    async with state(req).db.writer() as conn:
        service = await services.get(conn, ident)
        if service is None:
            raise NotFound(f"Service {ident} not found.")
        if service["binary"] == services.COMPUTE:
            if await services.instance_count(conn, service["host"]):
                raise Conflict("Unable to delete compute service that is hosting instances. "
                               "Migrate or delete the instances first.")
            for node in await services.nodes_of(conn, service):
                if await services.migrations_in_progress(conn, node["host"],
                                                         node["hypervisor_hostname"]):
                    raise Conflict("Unable to delete compute service that has in-progress "
                                   "migrations. Complete the migrations or delete the "
                                   "instances first.")
        node_uuids = await services.delete(conn, service)
    for node_uuid in node_uuids:
        try:
            await state(req).placement.delete_provider(bus_context(req), node_uuid)
        except Exception:  # as Nova: the service is gone; an orphan provider is logged
            log.exception("could not delete the resource provider of compute node %s",
                          node_uuid)
    return empty_response(204)


ROUTES: RouteTable = {
    "/os-services": {"GET": list_services},
    "/os-services/{service_id}": {"PUT": update_service, "DELETE": delete_service},
}
