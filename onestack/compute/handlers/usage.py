"""``/os-simple-tenant-usage``: hours, and vCPU, RAM and disk hours, of the servers
that ran within ``start``..``end`` (every project's for admins, or one project's);
paged by server from 2.40."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    isotime_micro,
    limit_of,
    next_link,
    state,
)
from onestack.compute.handlers.params import MAX_LIMIT, strict_query
from onestack.compute.objects import services, usage
from onestack.compute.objects.usage import ServerUsage
from onestack.kernel.api.faults import BadRequest, NotFound
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-simple-tenant-usage:"
FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def _parse_time(raw: str | None, now: float) -> float:
    if not raw:
        return now
    for fmt in FORMATS:
        try:
            parsed = time.strptime(raw, fmt)
        except ValueError:
            continue
        fraction = float("0." + raw.rsplit(".", 1)[1]) if "%f" in fmt else 0.0
        return calendar.timegm(parsed) + fraction
    raise BadRequest("Invalid datetime string: Datetime is in invalid format")


def _window(req: Request) -> tuple[float, float]:
    now = time.time()
    start, stop = _parse_time(req.query("start"), now), _parse_time(req.query("end"), now)
    if not start < stop:
        raise BadRequest("Invalid start time. The start time cannot occur after the end "
                         "time.")
    return start, min(stop, now)


async def _servers(req: Request, start: float, stop: float, project_id: str | None
                   ) -> tuple[list[ServerUsage], bool]:
    """The servers of the window; from 2.40 one page of them (by ``marker``, the last
    server's id, and ``limit``) and whether more follow."""
    async with state(req).db.reader() as conn:
        servers = await usage.active_in_window(conn, start, stop, project_id)
    if not at_least(req, 40):
        return servers[:MAX_LIMIT], False
    marker = req.query("marker")
    if marker is not None:
        ids = [s.instance_id for s in servers]
        if marker not in ids:
            raise BadRequest(f"Marker {marker} could not be found.")
        servers = servers[ids.index(marker) + 1:]
    limit = min(MAX_LIMIT if (given := limit_of(req)) is None else given, MAX_LIMIT)
    return servers[:limit], len(servers) > limit


def _server(server: ServerUsage, hours: float, now: float) -> dict[str, Any]:
    flavor = server.flavor
    ended = server.ended_at
    return {
        "instance_id": server.instance_id, "name": server.name,
        "tenant_id": server.tenant_id, "flavor": flavor.get("name", ""), "hours": hours,
        "memory_mb": flavor.get("memory_mb", 0),
        "local_gb": flavor.get("root_gb", 0) + flavor.get("ephemeral_gb", 0),
        "vcpus": flavor.get("vcpus", 0), "started_at": isotime_micro(server.launched_at),
        "ended_at": isotime_micro(ended),
        "state": "terminated" if ended is not None else server.vm_state,
        "uptime": int((ended if ended is not None else now) - server.launched_at),
    }


def _summaries(servers: list[ServerUsage], start: float, stop: float,
               detailed: bool) -> list[dict[str, Any]]:
    now = time.time()
    out = []
    for tenant in usage.by_tenant(servers, start, stop):
        summary: dict[str, Any] = {"tenant_id": tenant.tenant_id}
        if detailed:
            summary["server_usages"] = []
        totals = {"total_local_gb_usage": 0.0, "total_vcpus_usage": 0.0,
                  "total_memory_mb_usage": 0.0, "total_hours": 0.0}
        for server, hours in tenant.servers:
            info = _server(server, hours, now)
            totals["total_local_gb_usage"] += info["local_gb"] * hours
            totals["total_vcpus_usage"] += info["vcpus"] * hours
            totals["total_memory_mb_usage"] += info["memory_mb"] * hours
            totals["total_hours"] += hours
            if detailed:
                summary["server_usages"].append(info)
        summary.update(totals, start=isotime_micro(start), stop=isotime_micro(stop))
        out.append(summary)
    return out


def _params(req: Request, *names: str) -> list[str]:
    return [*names, *(("limit", "marker") if at_least(req, 40) else ())]


async def list_usage(req: Request) -> Response:
    if req.path.endswith("/"):
        # ".../os-simple-tenant-usage/" names an empty tenant id, which is none
        raise NotFound("The resource could not be found.")
    strict_query(req, _params(req, "start", "end", "detailed"))
    authorize(req, RULE + "list")
    start, stop = _window(req)
    servers, more = await _servers(req, start, stop, None)
    result: dict[str, Any] = {"tenant_usages": _summaries(
        servers, start, stop, req.query("detailed") == "1")}
    if more and servers:
        result["tenant_usages_links"] = next_link(req, "os-simple-tenant-usage",
                                                  servers[-1].instance_id)
    return json_response(result)


async def show_usage(req: Request) -> Response:
    strict_query(req, _params(req, "start", "end"))
    tenant_id = req.params["tenant_id"]
    authorize(req, RULE + "show", {"project_id": tenant_id})
    start, stop = _window(req)
    servers, more = await _servers(req, start, stop, tenant_id)
    summaries = _summaries(servers, start, stop, detailed=True)
    result: dict[str, Any] = {"tenant_usage": summaries[0] if summaries else {}}
    if more and servers:
        result["tenant_usage_links"] = next_link(
            req, f"os-simple-tenant-usage/{tenant_id}", servers[-1].instance_id)
    return json_response(result)


# -- os-instance_usage_audit_log ---------------------------------------------------------
def _audit_period(before: datetime) -> tuple[datetime, datetime]:
    """Nova's default audit period: the last month completed before ``before``."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    begin = (end - timedelta(days=1)).replace(day=1)
    return begin, end


async def _audit_log(req: Request, before: datetime) -> dict[str, Any]:
    """No host runs usage audits here, so every compute host is one that has not."""
    begin, end = _audit_period(before)
    async with state(req).db.reader() as conn:
        hosts = sorted({s["host"] for s in await services.list_all(
            conn, binary=services.COMPUTE)})
    done = "ALL" if not hosts else f"0 of {len(hosts)}"
    return {"period_beginning": str(begin), "period_ending": str(end),
            "num_hosts": len(hosts), "num_hosts_done": 0, "num_hosts_running": 0,
            "num_hosts_not_run": len(hosts), "hosts_not_run": hosts, "total_instances": 0,
            "total_errors": 0, "overall_status": f"{done} hosts done. 0 errors.", "log": {}}


async def list_audit_logs(req: Request) -> Response:
    authorize(req, "os_compute_api:os-instance-usage-audit-log:list")
    return json_response({"instance_usage_audit_logs": await _audit_log(
        req, datetime.now(UTC).replace(tzinfo=None))})


async def show_audit_log(req: Request) -> Response:
    authorize(req, "os_compute_api:os-instance-usage-audit-log:show")
    raw = req.params["before"]
    try:
        before = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S.%f" if "." in raw
                                   else "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BadRequest(f"Invalid timestamp for date {raw}") from None
    return json_response({"instance_usage_audit_log": await _audit_log(req, before)})


ROUTES: RouteTable = {
    "/os-simple-tenant-usage": {"GET": list_usage},
    "/os-simple-tenant-usage/{tenant_id}": {"GET": show_usage},
    "/os-instance_usage_audit_log": {"GET": list_audit_logs},
    "/os-instance_usage_audit_log/{before}": {"GET": show_audit_log},
}
