"""``/v2.0/routers`` (with interfaces) and ``/v2.0/floatingips``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.network.handlers.common import (
    body_of,
    caller_of,
    listing,
    net_of,
    one,
    owner_for,
    require_writer,
    standard,
)
from onestack.network.objects import common, floatingips, routers
from onestack.network.objects.common import Row, bad_request, not_found
from onestack.network.objects.policy import Caller

ROUTER_ATTRS = ("admin_state_up", "status", "external_gateway_info", "routes",
                "distributed", "ha", "flavor_id", "availability_zone_hints")


def render_router(row: Row, caller: Caller) -> dict[str, Any]:
    out = standard(row)
    for key in ROUTER_ATTRS:
        out[key] = row.get(key)
    out["availability_zones"] = ["nova"]
    if not caller.is_admin:
        out.pop("distributed")
        out.pop("ha")
    return out


async def _visible(conn: Any, caller: Caller, kind: str, ident: str) -> Row:
    row = await common.get(conn, kind, ident)
    if not caller.owns(row):
        raise not_found(kind, ident)
    return row


async def list_routers(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        rows = await common.find(conn, "router")
    rows = [r for r in sorted(rows, key=lambda r: r["created_at"]) if caller.owns(r)]
    return listing(req, "routers", [render_router(r, caller) for r in rows])


async def get_router(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await _visible(conn, caller, "router", req.params["router_id"])
    return one(req, "router", render_router(row, caller))


async def create_router(req: Request) -> Response:
    require_writer(req, "create_router")
    body = await body_of(req, "router")
    caller = caller_of(req)
    project = owner_for(req, body)
    net = net_of(req)
    async with net.db.writer() as conn:
        row = await routers.create(net, conn, caller, project, body)
    return one(req, "router", render_router(row, caller), 201)


async def update_router(req: Request) -> Response:
    body = await body_of(req, "router")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "router", req.params["router_id"])
        row = await routers.update(net, conn, caller, current, body)
    return one(req, "router", render_router(row, caller))


async def delete_router(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "router", req.params["router_id"])
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
        info = await routers.add_interface(net, conn, caller, router, body)
    return json_response(info)


async def remove_interface(req: Request) -> Response:
    body = await _interface_body(req)
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        router = await _visible(conn, caller, "router", req.params["router_id"])
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
        routes = list(current.get("routes") or [])
        for route in body.get("routes") or []:
            if add and route not in routes:
                routes.append(route)
            elif not add and route in routes:
                routes.remove(route)
        row = await routers.update(net, conn, caller, current, {"routes": routes})
    return one(req, "router", render_router(row, caller))


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
                                  key=lambda r: r["created_at"]) if caller.owns(r)]
        rendered = [render_fip(r, await _port_of(conn, r)) for r in rows]
    return listing(req, "floatingips", rendered)


async def get_floatingip(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await _visible(conn, caller, "floatingip", req.params["floatingip_id"])
        port = await _port_of(conn, row)
    return one(req, "floatingip", render_fip(row, port))


async def create_floatingip(req: Request) -> Response:
    require_writer(req, "create_floatingip")
    body = await body_of(req, "floatingip")
    caller = caller_of(req)
    project = owner_for(req, body)
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
        row = await floatingips.update(net, conn, caller, current, body)
        port = await _port_of(conn, row)
    return one(req, "floatingip", render_fip(row, port))


async def delete_floatingip(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await _visible(conn, caller, "floatingip", req.params["floatingip_id"])
        await floatingips.delete(net, conn, current)
    return empty_response()
