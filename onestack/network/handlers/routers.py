"""``/v2.0/routers`` (with interfaces) and ``/v2.0/floatingips``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.network.handlers.common import (
    authorize,
    body_of,
    caller_of,
    changeable,
    creatable,
    listing,
    net_of,
    one,
    project_target,
    standard,
)
from onestack.network.objects import common, floatingips, routers
from onestack.network.objects.common import Row, bad_request, not_found
from onestack.network.objects.policy import Caller

ROUTER_ATTRS = ("admin_state_up", "status", "external_gateway_info", "routes",
                "distributed", "ha", "flavor_id", "availability_zone_hints")


def render_router(row: Row) -> dict[str, Any]:
    """Every attribute; one() and listing() leave out what the caller may not see."""
    out = standard(row)
    for key in ROUTER_ATTRS:
        out[key] = row.get(key)
    out["availability_zones"] = ["nova"]
    return out


async def _visible(conn: Any, caller: Caller, kind: str, ident: str) -> Row:
    row = await common.get(conn, kind, ident)
    if not caller.sees(kind, row):
        raise not_found(kind, ident)
    return row


async def list_routers(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        rows = await common.find(conn, "router")
    rows = [r for r in sorted(rows, key=lambda r: r["created_at"]) if caller.sees("router", r)]
    return listing(req, "routers", [render_router(r) for r in rows])


async def get_router(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await _visible(conn, caller, "router", req.params["router_id"])
    return one(req, "router", render_router(row))


async def create_router(req: Request) -> Response:
    body = await body_of(req, "router")
    project = creatable(req, "router", body)
    net = net_of(req)
    async with net.db.writer() as conn:
        row = await routers.create(net, conn, project, body)
    return one(req, "router", render_router(row), 201)


async def update_router(req: Request) -> Response:
    body = await body_of(req, "router")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "router", req.params["router_id"])
        changeable(req, caller, "router", current, body)
        row = await routers.update(net, conn, current, body)
    return one(req, "router", render_router(row))


async def delete_router(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "router", req.params["router_id"])
        changeable(req, caller, "router", current)
        await routers.delete(net, conn, current)
    return empty_response()


async def _interface_body(req: Request) -> Row:
    document = await req.json()
    if not isinstance(document, dict):
        raise bad_request("Bad router request: a JSON object is required", "BadRequest")
    return document


async def add_interface(req: Request) -> Response:
    body = await _interface_body(req)
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        router = await _visible(conn, caller, "router", req.params["router_id"])
        authorize(req, "add_router_interface", project_target(router["project_id"]))
        info = await routers.add_interface(net, conn, caller, router, body)
    return json_response(info)


async def remove_interface(req: Request) -> Response:
    body = await _interface_body(req)
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        router = await _visible(conn, caller, "router", req.params["router_id"])
        authorize(req, "remove_router_interface", project_target(router["project_id"]))
        info = await routers.remove_interface(net, conn, router, body)
    return json_response(info)


async def add_routes(req: Request) -> Response:
    return await _change_routes(req, add=True)


async def remove_routes(req: Request) -> Response:
    return await _change_routes(req, add=False)


async def _change_routes(req: Request, add: bool) -> Response:
    body = await body_of(req, "router")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "router", req.params["router_id"])
        changeable(req, caller, "router", current, body)
        routes = list(current.get("routes") or [])
        for route in body.get("routes") or []:
            if add and route not in routes:
                routes.append(route)
            elif not add and route in routes:
                routes.remove(route)
        row = await routers.update(net, conn, current, {"routes": routes})
    return one(req, "router", render_router(row))


# -- floating IPs ------------------------------------------------------------------------
FIP_ATTRS = ("floating_ip_address", "floating_network_id", "router_id", "port_id",
             "fixed_ip_address", "status", "dns_domain", "dns_name", "qos_policy_id",
             "port_forwardings")


def render_fip(row: Row, port: Row | None = None) -> dict[str, Any]:
    out = standard(row, named=False)
    for key in FIP_ATTRS:
        out[key] = row.get(key)
    if port is not None:
        out["port_details"] = {key: port.get(key) for key in (
            "name", "network_id", "mac_address", "admin_state_up", "status", "device_id",
            "device_owner")}
    return out


async def _port_of(conn: Any, row: Row) -> Row | None:
    if not row.get("port_id"):
        return None
    found = await common.find(conn, "port", id=row["port_id"])
    return found[0] if found else None


async def list_floatingips(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        rows = [r for r in sorted(await common.find(conn, "floatingip"),
                                  key=lambda r: r["created_at"]) if caller.sees("floatingip", r)]
        ports = {p["id"]: p for p in await common.find(
            conn, "port", id=[r["port_id"] for r in rows if r.get("port_id")])}
    return listing(req, "floatingips", [render_fip(r, ports.get(r.get("port_id") or ""))
                                        for r in rows])


async def get_floatingip(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await _visible(conn, caller, "floatingip", req.params["floatingip_id"])
        port = await _port_of(conn, row)
    return one(req, "floatingip", render_fip(row, port))


async def create_floatingip(req: Request) -> Response:
    body = await body_of(req, "floatingip")
    caller = caller_of(req)
    project = creatable(req, "floatingip", body)
    net = net_of(req)
    async with net.db.writer() as conn:
        network = await common.find(conn, "network", id=body.get("floating_network_id") or "")
        if network and not caller.sees_network(network[0]):
            raise not_found("network", network[0]["id"])
        row = await floatingips.create(net, conn, caller, project, body)
        port = await _port_of(conn, row)
    return one(req, "floatingip", render_fip(row, port), 201)


async def update_floatingip(req: Request) -> Response:
    body = await body_of(req, "floatingip")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "floatingip", req.params["floatingip_id"])
        changeable(req, caller, "floatingip", current, body)
        row = await floatingips.update(net, conn, caller, current, body)
        port = await _port_of(conn, row)
    return one(req, "floatingip", render_fip(row, port))


async def delete_floatingip(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "floatingip", req.params["floatingip_id"])
        changeable(req, caller, "floatingip", current)
        await floatingips.delete(net, conn, current)
    return empty_response()
