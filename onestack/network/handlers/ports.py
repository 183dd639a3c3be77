"""``/v2.0/ports``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as quote
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.kernel.api.request import (
    Request,
    empty_response,
    json_response,
    raw_json_response,
)
from onestack.network.handlers.common import (
    authorize,
    authorize_attributes,
    body_of,
    caller_of,
    creatable,
    listing,
    net_of,
    one,
    project_target,
    shown,
    standard,
)
from onestack.network.handlers.networks import visible_network
from onestack.network.models import network as network_table
from onestack.network.models import port as port_table
from onestack.network.objects import common, ports
from onestack.network.objects.common import Row, bad_request, conflict, isotime, not_found
from onestack.network.objects.policy import Caller

# Stored as columns; every other attribute of a port is in its JSON column, and the
# API renders each of them (objects/ports.py writes only rendered attributes there).
COLUMNS = ("id", "project_id", "name", "description", "created_at", "updated_at",
           "revision_number", "tags", "network_id", "mac_address", "device_id",
           "device_owner")
# Filters answered by the database (the others by ``listing`` on rendered ports).
SQL_FILTERS = {"id": port_table.c.id, "network_id": port_table.c.network_id,
               "device_id": port_table.c.device_id, "device_owner": port_table.c.device_owner,
               "mac_address": port_table.c.mac_address, "name": port_table.c.name,
               "description": port_table.c.description,
               "project_id": port_table.c.project_id, "tenant_id": port_table.c.project_id}
# One list query; JSON columns come back as their text (cast in SQL: no driver decodes
# them), in this order.
LIST_QUERY = sa.select(
    *(port_table.c[name] for name in COLUMNS if name != "tags"),
    sa.cast(port_table.c.tags, sa.Text), sa.cast(port_table.c.attrs, sa.Text),
).order_by(port_table.c.created_at, port_table.c.id)


def render_port(row: Row) -> dict[str, Any]:
    """Every attribute; one() and listing() leave out what the caller may not see."""
    out = standard(row)
    for key, value in row.items():
        if key not in out:
            out[key] = value
    out["dns_assignment"] = []
    return out


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def port_json(record: Sequence[Any], hidden: frozenset[str]) -> str:
    """The JSON of one port straight from its list-query row, as render_port and
    one() give it: the stored attributes are JSON text already, spliced in as they
    are (unless the caller may not see some of them) instead of being decoded and
    encoded again."""
    (ident, project, name, description, created, updated, revision, network_id, mac,
     device_id, owner, tags, attrs) = record
    attrs = _text(attrs).strip()
    if hidden:
        attrs = json.dumps({k: v for k, v in json.loads(attrs).items() if k not in hidden},
                           separators=(",", ":"))
    body = attrs[1:-1].strip()
    project = quote(project)
    return (f'{{"id":{quote(ident)},"project_id":{project},"tenant_id":{project},'
            f'"name":{quote(name)},"description":{quote(description)},'
            f'"tags":{_text(tags)},"created_at":"{isotime(created)}",'
            f'"updated_at":"{isotime(updated)}","revision_number":{int(revision)},'
            f'"network_id":{quote(network_id)},"mac_address":{quote(mac)},'
            f'"device_id":{quote(device_id)},"device_owner":{quote(owner)},'
            f'"dns_assignment":[]{"," if body else ""}{body}}}')


def sees_port(caller: Caller, row: Row, network_owner: str | None) -> bool:
    return caller.sees_port(row, network_owner)


async def visible_port(conn: Any, caller: Caller, port_id: str) -> Row:
    row = await common.get(conn, "port", port_id)
    if caller.sees("port", row):
        return row
    network = await common.find(conn, "network", id=row["network_id"])
    if not network or not sees_port(caller, row, network[0]["project_id"]):
        raise not_found("port", port_id)
    return row


async def list_ports(req: Request) -> Response:
    """One query; each port rendered from its row. Unless the query asks for more
    than the database filters, the body is joined from those texts as it is."""
    caller = caller_of(req)
    query = LIST_QUERY
    for key, column in SQL_FILTERS.items():
        values = req.query_all(key)
        if values:
            query = query.where(column.in_(values) if len(values) > 1 else column == values[0])
    if not caller.is_admin:
        owned = sa.select(network_table.c.id).where(
            network_table.c.project_id == caller.project_id)
        query = query.where(sa.or_(port_table.c.project_id == caller.project_id,
                                   port_table.c.network_id.in_(owned)))
    async with net_of(req).db.reader() as conn:
        records = (await conn.execute(query)).all()
    hidden = caller.hides("port")
    texts = ",".join([port_json(r, hidden) for r in records if caller.reads("port", r[1])])
    if all(key in SQL_FILTERS for key, _ in req.query_items):
        return raw_json_response(f'{{"ports":[{texts}]}}'.encode())
    return listing(req, "ports", json.loads(f"[{texts}]"))


async def get_port(req: Request) -> Response:
    caller = caller_of(req)
    async with net_of(req).db.reader() as conn:
        row = await visible_port(conn, caller, req.params["port_id"])
    return one(req, "port", render_port(row))


def _target(row: Row, network: Row) -> dict[str, Any]:
    """What port rules see: the port's project and its network's owner."""
    return project_target(row["project_id"], **{"network:project_id": network["project_id"],
                                                "network:tenant_id": network["project_id"]})


async def create_port(req: Request) -> Response:
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
            network = await visible_network(conn, caller, body["network_id"])
            if not (caller.owns(network) or network.get("shared")):
                raise not_found("network", network["id"])
            project = creatable(req, "port", body, **{
                "network:project_id": network["project_id"],
                "network:tenant_id": network["project_id"]})
            created.append(await ports.create(net, conn, network, project, body))
    if isinstance(document.get("ports"), list):
        return json_response({"ports": shown(req, "port", [render_port(r) for r in created])},
                             201)
    return one(req, "port", render_port(created[0]), 201)


async def update_port(req: Request) -> Response:
    body = await body_of(req, "port")
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_port(conn, caller, req.params["port_id"])
        target = _target(current, await common.get(conn, "network", current["network_id"]))
        authorize(req, "update_port", target)
        authorize_attributes(req, "update_port", body, target)
        row = await ports.update(net, conn, current, body)
    return one(req, "port", render_port(row))


async def delete_port(req: Request) -> Response:
    caller = caller_of(req)
    net = net_of(req)
    async with net.db.writer() as conn:
        current = await visible_port(conn, caller, req.params["port_id"])
        authorize(req, "delete_port", _target(
            current, await common.get(conn, "network", current["network_id"])))
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
