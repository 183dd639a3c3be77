"""``/os-hypervisors``: compute nodes with their service's state and their usage.
From 2.53 ids are uuids and search and servers are query parameters of the listings
(``hypervisor_hostname_pattern``, ``with_servers``) rather than routes of their own;
2.88 drops the usage numbers, statistics and the uptime route (uptime joins the
detail)."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    base_url,
    limit_of,
    state,
)
from onestack.compute.handlers.server_view import instance_name
from onestack.compute.handlers.services import reject_unknown
from onestack.compute.objects import hypervisors
from onestack.compute.objects.hosts import is_up
from onestack.compute.objects.hypervisors import Node, Usage
from onestack.compute.objects.services import is_uuid
from onestack.compute.schemas.services import BOOLEAN, FALSY, TRUTHY
from onestack.kernel.api.faults import BadRequest, NotFound
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-hypervisors:%s"
MAX_LIMIT = 1000
_FQDN = re.compile(r"^[a-zA-Z0-9-._]*$")
_LISTING_QUERY = {"limit", "marker", "hypervisor_hostname_pattern", "with_servers"}
_USAGE_FIELDS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
                 "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload",
                 "running_vms", "disk_available_least")


def _gone() -> NotFound:
    """A route this microversion does not have."""
    return NotFound("The resource could not be found.")


def _not_found(ident: str) -> NotFound:
    return NotFound(f"Hypervisor with ID '{ident}' could not be found.")


def _bool_query(req: Request, name: str) -> bool:
    raw = req.query(name)
    if raw is None:
        return False
    if raw not in TRUTHY + FALSY:
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {raw}. "
                         f"'{raw}' is not one of {BOOLEAN['enum']}")
    return raw in TRUTHY


def _check_id(req: Request, ident: str) -> None:
    if at_least(req, 53):
        if not is_uuid(ident):
            raise BadRequest(f"Invalid uuid {ident}")
    elif not ident.lstrip("+-").isdigit():
        raise _not_found(ident)


def _numbers(node: Node, used: Usage, reserved_mb: int) -> dict[str, int]:
    memory_used = used.memory_mb + reserved_mb
    free_disk = node["local_gb"] - used.local_gb
    return {"vcpus": node["vcpus"], "memory_mb": node["memory_mb"],
            "local_gb": node["local_gb"], "vcpus_used": used.vcpus,
            "memory_mb_used": memory_used, "local_gb_used": used.local_gb,
            "free_ram_mb": node["memory_mb"] - memory_used, "free_disk_gb": free_disk,
            "current_workload": used.current_workload, "running_vms": used.running_vms,
            "disk_available_least": free_disk}


def render(req: Request, node: Node, *, detail: bool, used: Usage | None = None,
           servers: list[dict[str, Any]] | None = None, with_servers: bool = False,
           now: float | None = None) -> dict[str, Any]:
    settings = state(req).settings
    service, by_uuid = node["service"], at_least(req, 53)
    alive = is_up(service, settings.service_down_time, now)
    out: dict[str, Any] = {
        "id": node["uuid"] if by_uuid else node["id"],
        "hypervisor_hostname": node["hypervisor_hostname"],
        "state": "up" if alive else "down",
        "status": "disabled" if service["disabled"] else "enabled"}
    if detail:
        out.update(hypervisor_type=node["hypervisor_type"],
                   hypervisor_version=node["hypervisor_version"], host_ip=node["host_ip"],
                   service={"id": service["uuid"] if by_uuid else service["id"],
                            "host": node["host"],
                            "disabled_reason": service["disabled_reason"]})
        if not at_least(req, 88):
            out.update(_numbers(node, used or Usage(), settings.reserved_host_memory_mb))
            if at_least(req, 28):
                out["cpu_info"] = json.loads(node["cpu_info"]) if node["cpu_info"] else {}
            else:
                out["cpu_info"] = node["cpu_info"]
        else:
            out["uptime"] = hypervisors.uptime(node, service, now) if alive else None
    if servers:
        out["servers"] = [{"name": instance_name(s), "uuid": s["uuid"]} for s in servers]
    elif with_servers and at_least(req, 75):
        out["servers"] = []
    return out


def _page(req: Request, nodes: list[Node]) -> tuple[list[Node], int]:
    """Nova pages nodes by id; the marker is a node's id or uuid."""
    start = 0
    marker = req.query("marker")
    if marker is not None:
        for index, node in enumerate(nodes):
            if marker in (str(node["id"]), node["uuid"]):
                start = index + 1
                break
        else:
            raise BadRequest(f"marker [{marker}] not found")
    limit = limit_of(req)
    limit = MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)
    return nodes[start:start + limit], limit


def next_page_links(req: Request, collection: str, items: list[dict[str, Any]],
                    limit: int, key: str = "id") -> list[dict[str, str]]:
    """Nova links the next page whenever this one is full."""
    if not limit or len(items) != limit:
        return []
    query = [(k, v) for k, v in req.query_items if k != "marker"]
    query.append(("marker", str(items[-1][key])))
    return [{"rel": "next",
             "href": f"{base_url(req)}/v2.1/{collection}?{urlencode(query)}"}]


async def _described(req: Request, conn: Any, nodes: list[Node], *, detail: bool,
                     with_servers: bool = False) -> list[dict[str, Any]]:
    """Render nodes that still have a compute service (others await cleanup)."""
    nodes = [n for n in nodes if n["service"] is not None]
    hosts = sorted({n["host"] for n in nodes})
    used = await hypervisors.usage(conn, hosts) if detail else {}
    servers = await hypervisors.servers_on(conn, hosts) if with_servers else {}
    now = time.time()
    return [render(req, n, detail=detail, used=used.get(n["host"]),
                   servers=servers.get(n["host"]), with_servers=with_servers, now=now)
            for n in nodes]


async def _by_pattern(conn: Any, pattern: str) -> list[Node]:
    nodes = await hypervisors.list_all(conn, pattern)
    if not nodes:
        raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return nodes


async def _listing(req: Request, detail: bool) -> Response:
    pattern, with_servers = None, False
    if at_least(req, 53):
        reject_unknown(req, _LISTING_QUERY)
        pattern = req.query("hypervisor_hostname_pattern")
        if pattern is not None and not (0 < len(pattern) <= 255 and _FQDN.match(pattern)):
            raise BadRequest("Invalid input for query parameters hypervisor_hostname_pattern. "
                             f"Value: {pattern}. '{pattern}' does not match "
                             "'^[a-zA-Z0-9-._]*$'")
        with_servers = _bool_query(req, "with_servers")
    paging = at_least(req, 33)
    if paging:
        limit_of(req)
    authorize(req, RULE % ("list-detail" if detail else "list"))
    limit = 0
    async with state(req).db.reader() as conn:
        if pattern is not None:
            if req.has_query("limit") or req.query("marker"):
                raise BadRequest("Paging over hypervisors with the "
                                 "hypervisor_hostname_pattern query parameter is not "
                                 "supported.")
            nodes, paging = await _by_pattern(conn, pattern), False
        else:
            nodes = await hypervisors.list_all(conn)
            if paging:
                nodes, limit = _page(req, nodes)
        found = await _described(req, conn, nodes, detail=detail, with_servers=with_servers)
    reply: dict[str, Any] = {"hypervisors": found}
    links = next_page_links(req, "os-hypervisors/detail" if detail else "os-hypervisors",
                            found, limit) if paging else []
    if links:
        reply["hypervisors_links"] = links
    return json_response(reply)


async def list_hypervisors(req: Request) -> Response:
    return await _listing(req, detail=False)


async def list_hypervisors_detail(req: Request) -> Response:
    return await _listing(req, detail=True)


async def _node(req: Request, conn: Any, ident: str) -> Node:
    node = await hypervisors.get(conn, ident)
    if node is None or node["service"] is None:
        raise _not_found(ident)
    return node


async def show_hypervisor(req: Request) -> Response:
    with_servers = False
    if at_least(req, 53):
        reject_unknown(req, {"with_servers"})
        with_servers = _bool_query(req, "with_servers")
    authorize(req, RULE % "show")
    ident = req.params["hypervisor_id"]
    _check_id(req, ident)
    async with state(req).db.reader() as conn:
        node = await _node(req, conn, ident)
        found = await _described(req, conn, [node], detail=True, with_servers=with_servers)
    return json_response({"hypervisor": found[0]})


async def hypervisor_uptime(req: Request) -> Response:
    if at_least(req, 88):
        raise _gone()
    authorize(req, RULE % "uptime")
    ident = req.params["hypervisor_id"]
    _check_id(req, ident)
    async with state(req).db.reader() as conn:
        node = await _node(req, conn, ident)
    now = time.time()
    if not is_up(node["service"], state(req).settings.service_down_time, now):
        raise BadRequest(f"Compute service of {node['host']} is unavailable at this time.")
    out = render(req, node, detail=False, now=now)
    out["uptime"] = hypervisors.uptime(node, node["service"], now)
    return json_response({"hypervisor": out})


async def search_hypervisors(req: Request) -> Response:
    if at_least(req, 53):
        raise _gone()
    authorize(req, RULE % "search")
    async with state(req).db.reader() as conn:
        nodes = await _by_pattern(conn, req.params["pattern"])
        found = await _described(req, conn, nodes, detail=False)
    return json_response({"hypervisors": found})


async def hypervisor_servers(req: Request) -> Response:
    if at_least(req, 53):
        raise _gone()
    authorize(req, RULE % "servers")
    async with state(req).db.reader() as conn:
        nodes = await _by_pattern(conn, req.params["pattern"])
        found = await _described(req, conn, nodes, detail=False, with_servers=True)
    return json_response({"hypervisors": found})


async def hypervisor_statistics(req: Request) -> Response:
    if at_least(req, 88):
        raise _gone()
    authorize(req, RULE % "statistics")
    reserved = state(req).settings.reserved_host_memory_mb
    async with state(req).db.reader() as conn:
        nodes = [n for n in await hypervisors.list_all(conn)
                 if n["service"] is not None and not n["service"]["disabled"]]
        used = await hypervisors.usage(conn, sorted({n["host"] for n in nodes}))
    totals = dict.fromkeys(_USAGE_FIELDS, 0)
    for node in nodes:
        for key, value in _numbers(node, used[node["host"]], reserved).items():
            totals[key] += value
    return json_response({"hypervisor_statistics": {"count": len(nodes), **totals}})


ROUTES: RouteTable = {
    "/os-hypervisors": {"GET": list_hypervisors},
    "/os-hypervisors/detail": {"GET": list_hypervisors_detail},
    "/os-hypervisors/statistics": {"GET": hypervisor_statistics},
    "/os-hypervisors/{hypervisor_id}": {"GET": show_hypervisor},
    "/os-hypervisors/{hypervisor_id}/uptime": {"GET": hypervisor_uptime},
    "/os-hypervisors/{pattern}/search": {"GET": search_hypervisors},
    "/os-hypervisors/{pattern}/servers": {"GET": hypervisor_servers},
}
