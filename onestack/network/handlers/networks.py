"""``/v2.0/networks``, ``/v2.0/subnets`` and ``/v2.0/subnetpools``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.kernel.api.faults import Forbidden
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.network.handlers.common import (
    body_of,
    caller_of,
    changeable,
    creatable,
    listing,
    net_of,
    one,
    shown,
    standard,
)
from onestack.network.objects import common, networks, subnets
from onestack.network.objects.common import Row, bad_request, not_found
from onestack.network.objects.policy import Caller

# What a new network gets unless asked otherwise (its attribute rules apply to the rest).
CREATE_DEFAULTS = {"shared": False, "router:external": False}
NETWORK_ATTRS = ("admin_state_up", "shared", "router:external", "mtu",
                 "port_security_enabled", "availability_zone_hints", "is_default",
                 "dns_domain")


def render_network(row: Row, subnet_ids: list[str]) -> dict[str, Any]:
    """Every attribute; one() and listing() leave out what the caller may not see."""
    out = standard(row)
    for key in NETWORK_ATTRS:
        out[key] = row.get(key)
    out.update({"status": "ACTIVE", "subnets": subnet_ids, "availability_zones": ["nova"],
                "ipv4_address_scope": None, "ipv6_address_scope": None,
                "l2_adjacency": True})
    for key in networks.PROVIDER:
        out[key] = row.get(key)
    return out


async def visible_network(conn: Any, caller: Caller, network_id: str) -> Row:
    row = await common.get(conn, "network", network_id)
    if not caller.sees_network(row):
        raise not_found("network", network_id)
    return row


async def list_networks(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        rows = [r for r in sorted(await common.find(conn, "network"),
                                  key=lambda r: r["created_at"]) if caller.sees_network(r)]
        ids = await networks.subnet_ids(conn)
    return listing(req, "networks", [render_network(r, ids.get(r["id"], []))
                                     for r in rows])


async def get_network(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await visible_network(conn, caller, req.params["network_id"])
        ids = await networks.subnet_ids(conn, [row["id"]])
    return one(req, "network", render_network(row, ids.get(row["id"], [])))


async def create_network(req: Request) -> Response:
    document = await req.json()
    if isinstance(document, dict) and isinstance(document.get("networks"), list):
        return await _bulk(req, document["networks"])
    body = await body_of(req, "network")
    project = creatable(req, "network", body, CREATE_DEFAULTS)
    net = net_of(req)
    async with net.db.writer() as conn:
        row = await networks.create(net, conn, project, body)
    await net.backend.network_changed(row)
    return one(req, "network", render_network(row, []), 201)


async def _bulk(req: Request, bodies: list[Any]) -> Response:
    net = net_of(req)
    created = []
    async with net.db.writer() as conn:
        for body in bodies:
            if not isinstance(body, dict):
                raise bad_request("Invalid network in bulk request", "HTTPBadRequest")
            project = creatable(req, "network", body, CREATE_DEFAULTS)
            created.append(await networks.create(net, conn, project, body))
    return json_response({"networks": shown(req, "network", [render_network(r, [])
                                                             for r in created])}, 201)


async def update_network(req: Request) -> Response:
    body = await body_of(req, "network")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_network(conn, caller, req.params["network_id"])
        changeable(req, caller, "network", current, body)
        row = await networks.update(net, conn, current, body)
        ids = await networks.subnet_ids(conn, [row["id"]])
    await net.backend.network_changed(row)
    return one(req, "network", render_network(row, ids.get(row["id"], [])))


async def delete_network(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_network(conn, caller, req.params["network_id"])
        changeable(req, caller, "network", current)
        removed = await networks.delete(net, conn, current)
    for subnet in removed:
        await net.backend.subnet_deleted(subnet)
    await net.backend.network_deleted(current)
    return empty_response()


# -- subnets -----------------------------------------------------------------------------
SUBNET_ATTRS = ("network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools",
                "dns_nameservers", "host_routes", "enable_dhcp", "ipv6_ra_mode",
                "ipv6_address_mode", "subnetpool_id", "service_types", "segment_id",
                "dns_publish_fixed_ip")


def render_subnet(row: Row) -> dict[str, Any]:
    out = standard(row)
    for key in SUBNET_ATTRS:
        out[key] = row.get(key)
    return out


def sees_subnet(caller: Caller, row: Row, network: Row | None) -> bool:
    return (caller.owns(row) or (network is not None and (
        caller.owns(network) or bool(network.get("shared"))))) \
        and caller.reads("subnet", row["project_id"])


async def visible_subnet(conn: Any, caller: Caller, subnet_id: str) -> Row:
    row = await common.get(conn, "subnet", subnet_id)
    network = (await common.find(conn, "network", id=row["network_id"]) or [None])[0]
    if not sees_subnet(caller, row, network):
        raise not_found("subnet", subnet_id)
    return row


async def list_subnets(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        found = await common.find(conn, "subnet")
        nets = {n["id"]: n for n in await common.find(conn, "network")} if found else {}
    rows = [r for r in sorted(found, key=lambda r: r["created_at"])
            if sees_subnet(caller, r, nets.get(r["network_id"]))]
    return listing(req, "subnets", [render_subnet(r) for r in rows])


async def get_subnet(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        row = await visible_subnet(conn, caller_of(req), req.params["subnet_id"])
    return one(req, "subnet", render_subnet(row))


async def create_subnet(req: Request) -> Response:
    document = await req.json()
    bulk = isinstance(document, dict) and isinstance(document.get("subnets"), list)
    bodies = document["subnets"] if bulk else [await body_of(req, "subnet")]
    caller = caller_of(req)
    net = net_of(req)
    created = []
    async with net.db.writer() as conn:
        for body in bodies:
            if not isinstance(body, dict) or not body.get("network_id"):
                raise bad_request("network_id is required to create a subnet")
            project = creatable(req, "subnet", body)
            network = await visible_network(conn, caller, body["network_id"])
            if not caller.owns(network):
                raise Forbidden("(rule:create_subnet) is disallowed by policy",
                                type="HTTPForbidden")
            created.append(await subnets.create(net, conn, network, project, body))
    for row in created:
        await net.backend.subnet_changed(row)
    if bulk:
        return json_response({"subnets": shown(req, "subnet", [render_subnet(r)
                                                               for r in created])}, 201)
    return one(req, "subnet", render_subnet(created[0]), 201)


async def update_subnet(req: Request) -> Response:
    body = await body_of(req, "subnet")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_subnet(conn, caller, req.params["subnet_id"])
        changeable(req, caller, "subnet", current, body)
        row = await subnets.update(conn, current, body)
    await net.backend.subnet_changed(row)
    return one(req, "subnet", render_subnet(row))


async def delete_subnet(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_subnet(conn, caller, req.params["subnet_id"])
        changeable(req, caller, "subnet", current)
        await subnets.delete(conn, current)
    await net.backend.subnet_deleted(current)
    return empty_response()


# -- subnet pools ------------------------------------------------------------------------
POOL_ATTRS = ("prefixes", "ip_version", "default_prefixlen", "min_prefixlen",
              "max_prefixlen", "shared", "is_default", "default_quota", "address_scope_id")


def render_pool(row: Row) -> dict[str, Any]:
    out = standard(row)
    for key in POOL_ATTRS:
        out[key] = row.get(key)
    out["default_prefixlen"] = row["default_prefixlen"]
    return out


def _sees_pool(caller: Caller, row: Row) -> bool:
    return (caller.owns(row) or bool(row.get("shared"))) \
        and caller.reads("subnetpool", row["project_id"])


async def _visible_pool(conn: Any, caller: Caller, pool_id: str) -> Row:
    row = await common.get(conn, "subnetpool", pool_id)
    if not _sees_pool(caller, row):
        raise not_found("subnetpool", pool_id)
    return row


async def list_pools(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        rows = await common.find(conn, "subnetpool")
    rows = [r for r in sorted(rows, key=lambda r: r["created_at"])
            if _sees_pool(caller, r)]
    return listing(req, "subnetpools", [render_pool(r) for r in rows])


async def get_pool(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        row = await _visible_pool(conn, caller_of(req), req.params["subnetpool_id"])
    return one(req, "subnetpool", render_pool(row))


async def create_pool(req: Request) -> Response:
    body = await body_of(req, "subnetpool")
    project = creatable(req, "subnetpool", body, {"shared": False, "is_default": False})
    net = net_of(req)
    async with net.db.writer() as conn:
        row = await subnets.create_pool(net, conn, project, body)
    return one(req, "subnetpool", render_pool(row), 201)


async def update_pool(req: Request) -> Response:
    body = await body_of(req, "subnetpool")
    caller = caller_of(req)
    async with net_of(req).db.writer() as conn:
        current = await _visible_pool(conn, caller, req.params["subnetpool_id"])
        changeable(req, caller, "subnetpool", current, body)
        row = await subnets.update_pool(conn, current, body)
    return one(req, "subnetpool", render_pool(row))


async def delete_pool(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.writer() as conn:
        current = await _visible_pool(conn, caller, req.params["subnetpool_id"])
        changeable(req, caller, "subnetpool", current)
        if any(s.get("subnetpool_id") == current["id"]
               for s in await common.find(conn, "subnet")):
            raise common.conflict(f"Subnet pool {current['id']} cannot be deleted: it has "
                                  "subnets.", "SubnetPoolInUse")
        await common.delete(conn, "subnetpool", current["id"])
    return empty_response()
