"""``/v2.0/ports``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.kernel.api.faults import Forbidden
from onestack.kernel.api.request import Request, empty_response
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
from onestack.network.handlers.networks import visible_network
from onestack.network.models import network as network_table
from onestack.network.models import port as port_table
from onestack.network.objects import common, ports
from onestack.network.objects.common import Row, bad_request, conflict, not_found, to_row
from onestack.network.objects.policy import ADMIN, Caller

PORT_ATTRS = ("network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id",
              "device_owner", "status", "security_groups", "allowed_address_pairs",
              "port_security_enabled", "extra_dhcp_opts", "dns_name",
              "propagate_uplink_status")
BINDING = ("binding:host_id", "binding:vif_type", "binding:vif_details", "binding:vnic_type",
           "binding:profile")
# Pushed into SQL when given once: the common filters of big lists.
SQL_FILTERS = ("network_id", "device_id", "device_owner", "mac_address", "id")


def render_port(row: Row, caller: Caller) -> dict[str, Any]:
    out = standard(row)
    for key in PORT_ATTRS:
        out[key] = row.get(key)
    out["dns_assignment"] = []
    if caller.is_admin:
        for key in BINDING:
            out[key] = row.get(key)
    else:
        out["binding:vnic_type"] = row.get("binding:vnic_type")
    return out


def sees_port(caller: Caller, row: Row, network_owner: str | None) -> bool:
    return caller.owns(row) or (network_owner is not None
                                and network_owner == caller.project_id)


async def visible_port(conn: Any, caller: Caller, port_id: str) -> Row:
    row = await common.get(conn, "port", port_id)
    if caller.owns(row):
        return row
    network = await common.find(conn, "network", id=row["network_id"])
    if not network or not sees_port(caller, row, network[0]["project_id"]):
        raise not_found("port", port_id)
    return row


async def list_ports(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    brief = sa.select(port_table.c.id, port_table.c.revision_number, port_table.c.created_at)
    conditions = []
    for key in SQL_FILTERS:
        values = req.query_all(key)
        if len(values) == 1:
            conditions.append(port_table.c[key] == values[0])
    views = net.port_views
    async with net.db.reader() as conn:
        if not caller.is_admin:
            owned = sa.select(network_table.c.id).where(
                network_table.c.project_id == caller.project_id)
            conditions.append(sa.or_(port_table.c.project_id == caller.project_id,
                                     port_table.c.network_id.in_(owned)))
        found = sorted((await conn.execute(brief.where(*conditions))).all(),
                       key=lambda r: r[2])
        stale = [r[0] for r in found if views.get(r[0], (-1,))[0] != r[1]]
        for start in range(0, len(stale), 500):
            chunk = stale[start:start + 500]
            for record in await conn.execute(sa.select(port_table).where(
                    port_table.c.id.in_(chunk))):
                row = to_row(record)
                views[row["id"]] = (row["revision_number"], render_port(row, ADMIN))
    if len(views) > 2 * len(found) + 10000:
        keep = {r[0] for r in found}
        for ident in [i for i in views if i not in keep]:
            del views[ident]
    rendered = [views[r[0]][1] for r in found if r[0] in views]
    if not caller.is_admin:
        rendered = [_for_member(view) for view in rendered]
    return listing(req, "ports", rendered)


def _for_member(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in BINDING or k == "binding:vnic_type"}


async def get_port(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await visible_port(conn, caller, req.params["port_id"])
    return one(req, "port", render_port(row, caller))


def _check_admin_attrs(caller: Caller, body: Row, network: Row) -> None:
    if caller.is_admin:
        return
    if any(key in body for key in ("binding:host_id", "binding:profile")):
        raise Forbidden("(rule:create_port:binding:host_id) is disallowed by policy",
                        type="HTTPForbidden")
    if body.get("mac_address") and network["project_id"] != caller.project_id:
        raise Forbidden("(rule:create_port:mac_address) is disallowed by policy",
                        type="HTTPForbidden")


async def create_port(req: Request) -> Response:
    require_writer(req, "create_port")
    document = await req.json()
    bodies = document.get("ports") if isinstance(document, dict) else None
    if not isinstance(bodies, list):
        bodies = [await body_of(req, "port")]
    caller = caller_of(req)
    net = net_of(req)
    created = []
    async with net.db.writer() as conn:
        for body in bodies:
            if not isinstance(body, dict):
                raise bad_request("Invalid port in bulk request", "HTTPBadRequest")
            if not body.get("network_id"):
                raise bad_request("network_id is required to create a port")
            project = owner_for(req, body)
            network = await visible_network(conn, caller, body["network_id"])
            if not (caller.owns(network) or network.get("shared")):
                raise not_found("network", network["id"])
            _check_admin_attrs(caller, body, network)
            created.append(await ports.create(net, conn, network, project, body))
    if isinstance(document.get("ports"), list):
        from onestack.kernel.api.request import json_response

        return json_response({"ports": [render_port(r, caller) for r in created]}, 201)
    return one(req, "port", render_port(created[0], caller), 201)


async def update_port(req: Request) -> Response:
    body = await body_of(req, "port")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_port(conn, caller, req.params["port_id"])
        network = await common.get(conn, "network", current["network_id"])
        _check_admin_attrs(caller, {k: v for k, v in body.items() if k != "mac_address"},
                           network)
        if "mac_address" in body and not caller.is_admin:
            raise Forbidden("(rule:update_port:mac_address) is disallowed by policy",
                            type="HTTPForbidden")
        row = await ports.update(net, conn, current, body)
    return one(req, "port", render_port(row, caller))


async def delete_port(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_port(conn, caller, req.params["port_id"])
        if current["device_owner"] in ("network:router_interface", "network:router_gateway",
                                       "network:floatingip") and not caller.is_admin:
            raise conflict(f"Port {current['id']} cannot be deleted directly via the port "
                           f"API: has device owner {current['device_owner']}.",
                           "ServicePortInUse")
        if current["device_owner"] == "network:router_interface":
            raise conflict(f"Port {current['id']} cannot be deleted directly via the port "
                           f"API: has device owner {current['device_owner']}.",
                           "ServicePortInUse")
        await ports.delete(net, conn, current)
    return empty_response()
