"""``/os-hosts`` (up to 2.42, admin only): the hosts of the enabled services with their
zones, a compute host's resources (total, used now, claimed by its servers, per
project), enabling and disabling its compute service, and the power actions a
hypervisor driver may not offer (501 then, as Nova's libvirt driver answers)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.compute import models as m
from onestack.compute.handlers.common import authorize, body, state
from onestack.compute.objects import services
from onestack.kernel.api.faults import ApiError, NotFound
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable

CHOICES = ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]
UPDATE = {"type": "object",
          "properties": {"status": {"type": "string", "enum": CHOICES},
                         "maintenance_mode": {"type": "string", "enum": CHOICES}},
          "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
          "additionalProperties": False}


class NotImplementedByDriver(ApiError):
    status = 501
    title = "Not Implemented"


def _version(req: Request) -> None:
    if req.version is not None and req.version.minor > 42:
        raise NotFound("The resource could not be found.")


async def list_hosts(req: Request) -> Response:
    _version(req)
    authorize(req, "os_compute_api:os-hosts:list")
    zone = req.query("zone")
    async with state(req).db.reader() as conn:
        found = await services.with_zones(conn, await services.list_all(conn),
                                          state(req).settings.default_availability_zone)
    return json_response({"hosts": [
        {"host_name": s["host"], "service": s["topic"], "zone": s["zone"]}
        for s in found if not s["disabled"] and (not zone or s["zone"] == zone)]})


async def _compute_node(req: Request, host: str) -> dict[str, Any]:
    async with state(req).db.reader() as conn:
        row = (await conn.execute(sa.select(m.compute_node).where(
            m.compute_node.c.host == host).order_by(m.compute_node.c.id))).first()
    if row is None:
        raise NotFound(f"Compute host {host} could not be found.")
    return dict(row._mapping)


def _resource(host: str, project: str, cpu: int, memory: int, disk: int) -> dict[str, Any]:
    return {"resource": {"host": host, "project": project, "cpu": cpu, "memory_mb": memory,
                         "disk_gb": disk}}


async def show_host(req: Request) -> Response:
    _version(req)
    authorize(req, "os_compute_api:os-hosts:show")
    host = req.params["host"]
    node = await _compute_node(req, host)
    async with state(req).db.reader() as conn:
        flavors = (await conn.execute(sa.select(m.instance.c.project_id, m.instance.c.flavor)
                                      .where(m.instance.c.host == host,
                                             m.instance.c.deleted_at.is_(None))
                                      .order_by(m.instance.c.created_at))).all()
    per_project: dict[str, list[int]] = {}
    for project, flavor in flavors:
        flavor = flavor or {}
        sums = per_project.setdefault(project, [0, 0, 0])
        sums[0] += int(flavor.get("vcpus") or 0)
        sums[1] += int(flavor.get("memory_mb") or 0)
        sums[2] += int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0)
    used = [sum(v[i] for v in per_project.values()) for i in range(3)]
    resources = [
        _resource(host, "(total)", node["vcpus"], node["memory_mb"], node["local_gb"]),
        _resource(host, "(used_now)", used[0], used[1] + state(req).settings
                  .reserved_host_memory_mb, used[2]),
        _resource(host, "(used_max)", *used),
        *(_resource(host, project, *sums) for project, sums in per_project.items())]
    return json_response({"host": resources})


async def update_host(req: Request) -> Response:
    _version(req)
    authorize(req, "os_compute_api:os-hosts:update")
    data = await body(req, UPDATE)
    host = req.params["host"]
    result: dict[str, Any] = {"host": host}
    async with state(req).db.writer() as conn:
        service = await services.find(conn, host, services.COMPUTE)
        if service is None:
            raise NotFound(f"Compute host {host} could not be found.")
        if "status" in data:
            enabled = data["status"].lower() == "enable"
            await services.update(conn, service, {"disabled": not enabled})
            result["status"] = "enabled" if enabled else "disabled"
    if "maintenance_mode" in data:
        raise NotImplementedByDriver("Virt driver does not implement host maintenance mode.")
    return json_response(result)


def _power_action(action: str) -> Any:
    async def run(req: Request) -> Response:
        _version(req)
        authorize(req, f"os_compute_api:os-hosts:{action}")
        await _compute_node(req, req.params["host"])
        raise NotImplementedByDriver("Virt driver does not implement host power management.")
    return run



ROUTES: RouteTable = {
    "/os-hosts": {"GET": list_hosts},
    "/os-hosts/{host}": {"GET": show_host, "PUT": update_host},
    "/os-hosts/{host}/startup": {"GET": _power_action("start")},
    "/os-hosts/{host}/shutdown": {"GET": _power_action("shutdown")},
    "/os-hosts/{host}/reboot": {"GET": _power_action("reboot")},
}
