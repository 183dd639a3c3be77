"""``/os-availability-zone``: the zones users may boot into, and (``/detail``, for
admins) every zone with its hosts and their services. A zone is available while one
of its services is enabled; the internal zone (conductor, scheduler) shows only in
the detail."""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import authorize, isotime_micro, state
from onestack.compute.objects import services
from onestack.compute.objects.hosts import is_up
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-availability-zone:%s"


async def _services(req: Request) -> list[dict[str, Any]]:
    async with state(req).db.reader() as conn:
        found = await services.list_all(conn)
        return await services.with_zones(conn, found,
                                         state(req).settings.default_availability_zone)


def _zones(found: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    available = {s["zone"] for s in found if not s["disabled"]}
    unavailable = {s["zone"] for s in found if s["disabled"]} - available
    return sorted(available), sorted(unavailable)


def _zone(name: str, available: bool, hosts: Any = None) -> dict[str, Any]:
    return {"zoneName": name, "zoneState": {"available": available}, "hosts": hosts}


async def list_zones(req: Request) -> Response:
    authorize(req, RULE % "list")
    available, unavailable = _zones(await _services(req))
    info = [_zone(z, True) for z in available if z != services.INTERNAL_ZONE]
    info += [_zone(z, False) for z in unavailable if z != services.INTERNAL_ZONE]
    return json_response({"availabilityZoneInfo": info})


async def list_zones_detail(req: Request) -> Response:
    authorize(req, RULE % "detail")
    found = await _services(req)
    available, unavailable = _zones(found)
    down_time, now = state(req).settings.service_down_time, time.time()
    hosts: dict[str, dict[str, dict[str, Any]]] = {}
    for service in found:
        if service["disabled"]:
            continue
        zone_hosts = hosts.setdefault(service["zone"], {})
        zone_hosts.setdefault(service["host"], {})[service["binary"]] = {
            "available": is_up(service, down_time, now), "active": True,
            "updated_at": isotime_micro(services.last_update(service))}
    info = [_zone(z, True, hosts.get(z, {})) for z in available]
    info += [_zone(z, False) for z in unavailable]
    return json_response({"availabilityZoneInfo": info})


ROUTES: RouteTable = {
    "/os-availability-zone": {"GET": list_zones},
    "/os-availability-zone/detail": {"GET": list_zones_detail},
}
