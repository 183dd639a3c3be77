"""Version discovery, ``/v2.0/extensions``, quotas and tags."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import public
from onestack.network.handlers.common import (
    authorize,
    body_of,
    caller_of,
    net_of,
    project_target,
)
from onestack.network.objects import common, quotas
from onestack.network.objects.common import bad_request, not_found

UPDATED = "2013-02-03T10:00:00-00:00"
# What is implemented, under upstream's aliases (clients and Tempest adapt to this list).
EXTENSIONS = {
    "agent": "agent",
    "allowed-address-pairs": "Allowed Address Pairs",
    "binding": "Port Binding",
    "external-net": "Neutron external network",
    "ext-gw-mode": "Neutron L3 Configurable external gateway mode",
    "extraroute": "Neutron Extra Route",
    "extraroute-atomic": "Atomically add/remove extra routes",
    "net-mtu": "Network MTU",
    "net-mtu-writable": "Network MTU (writable)",
    "port-security": "Port Security",
    "project-id": "project_id field enabled",
    "provider": "Provider Network",
    "quotas": "Quota management support",
    "quota_details": "Quota details management support",
    "router": "Neutron L3 Router",
    "security-group": "security-group",
    "security-groups-remote-address-group": None,
    "sorting": "Sorting support",
    "pagination": "Pagination support",
    "standard-attr-description": "standard-attr-description",
    "standard-attr-revisions": "Resource revision numbers",
    "standard-attr-tag": "Tag support for resources with standard attribute: subnet, "
                         "trunk, network_segment_range, router, network, policy, "
                         "subnetpool, port, security_group, floatingip",
    "standard-attr-timestamp": "Resource timestamps",
    "subnet_allocation": "Subnet Allocation",
    "binding-extended": "Port Bindings Extended",
    "stateful-security-group": "Stateful security group",
}
EXTENSIONS = {k: v for k, v in EXTENSIONS.items() if v is not None}


def _extension(alias: str) -> dict[str, Any]:
    return {"alias": alias, "name": EXTENSIONS[alias], "description": EXTENSIONS[alias],
            "updated": UPDATED, "links": []}


@public
async def versions(req: Request) -> Response:
    base = net_of(req).base_url
    return json_response({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
        {"href": base + "/v2.0/", "rel": "self"}]}]})


async def v2(req: Request) -> Response:
    base = net_of(req).base_url
    names = {"network": "networks", "subnet": "subnets", "port": "ports",
             "subnetpool": "subnetpools", "router": "routers", "floatingip": "floatingips",
             "security_group": "security-groups",
             "security_group_rule": "security-group-rules", "quota": "quotas",
             "agent": "agents"}
    return json_response({"resources": [
        {"name": name, "collection": path,
         "links": [{"href": f"{base}/v2.0/{path}", "rel": "self"}]}
        for name, path in names.items()]})


async def list_extensions(req: Request) -> Response:
    return json_response({"extensions": [_extension(a) for a in sorted(EXTENSIONS)]})


async def get_extension(req: Request) -> Response:
    alias = req.params["alias"]
    if alias not in EXTENSIONS:
        raise not_found("extension", alias)
    return json_response({"extension": _extension(alias)})


# -- quotas ------------------------------------------------------------------------------
def _quota_body(project_id: str, limits: dict[str, int]) -> dict[str, Any]:
    return {**limits, "project_id": project_id, "tenant_id": project_id}


def _own_or_admin(req: Request, project_id: str) -> None:
    authorize(req, "get_quota", project_target(project_id))


async def list_quotas(req: Request) -> Response:
    authorize(req, "get_quota")  # no project: the rule's admin part alone
    net = net_of(req)
    async with net.db.reader() as conn:
        projects = await quotas.overridden_projects(conn)
        found = [_quota_body(p, await quotas.limits(net, conn, p)) for p in projects]
    return json_response({"quotas": found})


async def get_quota(req: Request) -> Response:
    project_id = req.params["project_id"]
    _own_or_admin(req, project_id)
    net = net_of(req)
    async with net.db.reader() as conn:
        limits = await quotas.limits(net, conn, project_id)
    return json_response({"quota": limits})


async def get_default_quota(req: Request) -> Response:
    _own_or_admin(req, req.params["project_id"])
    return json_response({"quota": quotas.defaults(net_of(req))})


async def get_quota_details(req: Request) -> Response:
    project_id = req.params["project_id"]
    _own_or_admin(req, project_id)
    net = net_of(req)
    async with net.db.reader() as conn:
        limits = await quotas.limits(net, conn, project_id)
        used = await quotas.usage(conn, project_id)
    return json_response({"quota": {name: {"limit": limits[name], "used": used[name],
                                           "reserved": 0} for name in limits}})


async def update_quota(req: Request) -> Response:
    authorize(req, "update_quota", project_target(req.params["project_id"]))
    body = await body_of(req, "quota")
    values = {}
    for key, value in body.items():
        if key not in quotas.RESOURCES:
            raise bad_request(f"Unrecognized attribute(s) '{key}'", "HTTPBadRequest")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise bad_request(f"'{value}' is not an integer") from None
        if number < -1:
            raise bad_request(f"'{value}' should be greater than or equal to -1")
        values[key] = number
    net = net_of(req)
    project_id = req.params["project_id"]
    async with net.db.writer() as conn:
        await quotas.set_limits(conn, project_id, values)
        limits = await quotas.limits(net, conn, project_id)
    return json_response({"quota": limits})


async def delete_quota(req: Request) -> Response:
    authorize(req, "delete_quota", project_target(req.params["project_id"]))
    async with net_of(req).db.writer() as conn:
        await quotas.reset(conn, req.params["project_id"])
    return empty_response()


# -- tags --------------------------------------------------------------------------------
TAGGED = {"networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
          "floatingips": "floatingip", "security-groups": "security_group",
          "subnetpools": "subnetpool"}


def _check_tag(tag: str) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag:
        raise bad_request(f"'{tag}' is not a valid tag")
    return tag


async def _tagged(req: Request, conn: Any) -> tuple[str, dict[str, Any]]:
    kind = TAGGED.get(req.params["collection"])
    if kind is None:
        raise not_found("resource", req.params["collection"])
    row = await common.get(conn, kind, req.params["resource_id"])
    caller = caller_of(req)
    visible = caller.sees_network(row) if kind == "network" else caller.sees(kind, row)
    if not visible:
        raise not_found(kind, row["id"])
    return kind, row


async def list_tags(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        _, row = await _tagged(req, conn)
    return json_response({"tags": row["tags"]})


async def get_tag(req: Request) -> Response:
    async with net_of(req).db.reader() as conn:
        _, row = await _tagged(req, conn)
    if req.params["tag"] not in row["tags"]:
        raise not_found("tag", req.params["tag"])
    return empty_response()


async def replace_tags(req: Request) -> Response:
    document = await req.json()
    tags = document.get("tags") if isinstance(document, dict) else None
    if not isinstance(tags, list):
        raise bad_request("Invalid tags body: a list of tags is required")
    tags = list(dict.fromkeys(_check_tag(t) for t in tags))
    async with net_of(req).db.writer() as conn:
        kind, row = await _tagged(req, conn)
        await common.update(conn, kind, row, {"tags": tags})
    return json_response({"tags": tags})


async def add_tag(req: Request) -> Response:
    tag = _check_tag(req.params["tag"])
    async with net_of(req).db.writer() as conn:
        kind, row = await _tagged(req, conn)
        if tag not in row["tags"]:
            await common.update(conn, kind, row, {"tags": [*row["tags"], tag]})
    return empty_response(201)


async def remove_tag(req: Request) -> Response:
    async with net_of(req).db.writer() as conn:
        kind, row = await _tagged(req, conn)
        if req.params["tag"] not in row["tags"]:
            raise not_found("tag", req.params["tag"])
        await common.update(conn, kind, row, {
            "tags": [t for t in row["tags"] if t != req.params["tag"]]})
    return empty_response()


async def remove_all_tags(req: Request) -> Response:
    async with net_of(req).db.writer() as conn:
        kind, row = await _tagged(req, conn)
        await common.update(conn, kind, row, {"tags": []})
    return empty_response()
