"""Nova's security group proxy: ``/os-security-groups`` and ``/os-security-group-rules``
(up to 2.35) and ``/servers/{id}/os-security-groups`` (every version), answered as Nova
answers them, by calling the networking API as the caller and translating its groups
and rules (ingress only) into Nova's shape."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    authorize,
    bus_context,
    context_of,
    state,
    target_of,
)
from onestack.compute.handlers.servers import owned
from onestack.kernel.api.faults import ApiError, BadRequest, Forbidden, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

Group = dict[str, Any]
PROXY_MAX = 35


def proxy_version(req: Request) -> None:
    """The proxy APIs end at 2.35: later versions do not know them."""
    if req.version is not None and req.version.minor > PROXY_MAX:
        raise NotFound("The resource could not be found.")


async def neutron(req: Request, method: str, path: str, *, query: Any = None,
                  body: Any = None) -> tuple[int, Any]:
    """The networking API's answer, as the caller."""
    answer = await state(req).network.api(bus_context(req), method, path,
                                          query=query, body=body)
    return answer["status"], answer["body"]


def neutron_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("NeutronError"), dict):
        return str(body["NeutronError"].get("message", ""))
    return ""


def check_uuid(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise BadRequest("Security group id should be uuid") from None


# -- translation ---------------------------------------------------------------------------
def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Neutron's rule as Nova's network layer sees it."""
    protocol = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if protocol and low is None and high is None:
        low, high = (1, 65535) if str(protocol).upper() in ("TCP", "UDP") else (-1, -1)
    return {"id": rule["id"], "parent_group_id": rule["security_group_id"],
            "protocol": protocol, "from_port": low, "to_port": high,
            "group_id": rule.get("remote_group_id"),
            "cidr": rule.get("remote_ip_prefix") or "0.0.0.0/0"}


def _group(group: dict[str, Any]) -> Group:
    return {"id": group["id"], "name": group["name"], "description": group["description"],
            "project_id": group.get("project_id") or group.get("tenant_id"),
            "rules": [_rule(r) for r in group.get("security_group_rules", [])
                      if r.get("direction") == "ingress"]}


def render_rule(rule: dict[str, Any], groups: dict[str, Group]) -> dict[str, Any] | None:
    body: dict[str, Any] = {"id": rule["id"], "parent_group_id": rule["parent_group_id"],
                            "ip_protocol": rule["protocol"], "from_port": rule["from_port"],
                            "to_port": rule["to_port"], "group": {}, "ip_range": {}}
    if rule["group_id"]:
        source = groups.get(rule["group_id"])
        if source is None:  # gone meanwhile: Nova leaves the rule out
            return None
        body["group"] = {"name": source["name"], "tenant_id": source["project_id"]}
    else:
        body["ip_range"] = {"cidr": rule["cidr"]}
    return body


def render_group(group: Group, groups: dict[str, Group]) -> dict[str, Any]:
    rules = [render_rule(r, groups) for r in group["rules"]]
    return {"id": group["id"], "name": group["name"], "description": group["description"],
            "tenant_id": group["project_id"], "rules": [r for r in rules if r is not None]}


def _sorted(groups: list[Group], known: dict[str, Group]) -> list[dict[str, Any]]:
    rendered = [render_group(g, known) for g in groups]
    return sorted(rendered, key=lambda g: (g["tenant_id"] or "", g["name"]))


async def get_group(req: Request, group_id: str) -> Group:
    status, body = await neutron(req, "GET", f"/v2.0/security-groups/{group_id}")
    if status == 404:
        raise NotFound(f"Security group {group_id} not found.")
    if status != 200:
        raise ApiError(neutron_message(body))
    return _group(body["security_group"])


async def _groups(req: Request, query: list[tuple[str, str]] | None = None) -> list[Group]:
    status, body = await neutron(req, "GET", "/v2.0/security-groups", query=query)
    if status != 200:
        raise ApiError(neutron_message(body))
    return [_group(g) for g in body["security_groups"]]


async def _known(req: Request, groups: list[Group]) -> dict[str, Group]:
    """The groups the rules name as their source, by id."""
    known = {g["id"]: g for g in groups}
    wanted = {r["group_id"] for g in groups for r in g["rules"] if r["group_id"]} - set(known)
    for group_id in sorted(wanted):
        try:
            known[group_id] = await get_group(req, group_id)
        except NotFound:
            pass
    return known


def _property(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"Security group {name} is not a string or unicode")
    stripped = value.strip()
    if not 1 <= len(stripped) <= 255:
        raise BadRequest(f"{name} has a minimum character requirement of 1."
                         if not stripped else f"{name} has more than 255 characters.")
    return value


def _from_body(data: Any, key: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise BadRequest("The request body is invalid." if not isinstance(data, dict)
                         else f"Missing parameter {key}")
    return dict(data[key])


# -- groups --------------------------------------------------------------------------------
async def list_groups(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:get")
    ctx = context_of(req)
    everyone = ctx.is_admin and req.has_query("all_tenants")
    groups = await _groups(req, None if everyone else [("project_id", ctx.project_id or "")])
    offset, limit = _window(req)
    chosen = groups[offset:offset + limit]
    return json_response({"security_groups": _sorted(chosen, await _known(req, chosen))})


def _window(req: Request) -> tuple[int, int]:
    """Nova's ``offset`` and ``limit`` of the old proxies (at most 1000)."""
    values = {}
    for name in ("offset", "limit"):
        raw = req.query(name)
        try:
            values[name] = int(raw) if raw is not None else None
        except ValueError:
            raise BadRequest(f"{name} param must be an integer") from None
        if values[name] is not None and values[name] < 0:  # type: ignore[operator]
            raise BadRequest(f"{name} param must be positive")
    limit = min(values["limit"] or 1000, 1000) if values["limit"] != 0 else 1000
    return values["offset"] or 0, limit


async def show_group(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:show")
    group = await get_group(req, check_uuid(req.params["group_id"]))
    return json_response({"security_group": render_group(group, await _known(req, [group]))})


async def create_group(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:create")
    data = _from_body(await req.json(), "security_group")
    name = _property(data.get("name"), "name")
    description = _property(data.get("description"), "description")
    status, body = await neutron(req, "POST", "/v2.0/security-groups", body={
        "security_group": {"name": name, "description": description}})
    if status == 409:
        raise Forbidden(neutron_message(body))
    if status == 400:
        raise BadRequest(neutron_message(body))
    if status != 201:
        raise ApiError(neutron_message(body))
    group = _group(body["security_group"])
    return json_response({"security_group": render_group(group, await _known(req, [group]))})


async def update_group(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:update")
    group_id = check_uuid(req.params["group_id"])
    await get_group(req, group_id)
    data = _from_body(await req.json(), "security_group")
    name = _property(data.get("name"), "name")
    description = _property(data.get("description"), "description")
    status, body = await neutron(req, "PUT", f"/v2.0/security-groups/{group_id}", body={
        "security_group": {"name": name, "description": description}})
    if status == 404:
        raise NotFound(f"Security group {group_id} not found.")
    if status != 200:
        raise BadRequest(neutron_message(body))
    group = _group(body["security_group"])
    return json_response({"security_group": render_group(group, await _known(req, [group]))})


async def delete_group(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:delete")
    group_id = check_uuid(req.params["group_id"])
    await get_group(req, group_id)
    status, body = await neutron(req, "DELETE", f"/v2.0/security-groups/{group_id}")
    if status == 404:
        raise NotFound(f"Security group {group_id} not found.")
    if status == 409:  # the default group, or one in use
        raise BadRequest(neutron_message(body))
    if status != 204:
        raise ApiError(neutron_message(body))
    return empty_response(202)


async def no_id(req: Request) -> Response:
    """``DELETE /os-security-groups/``: no group is named (the router drops the slash)."""
    raise NotFound("The resource could not be found.")


# -- rules ---------------------------------------------------------------------------------
def _port(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError from None


def new_rule(protocol: Any, low: Any, high: Any, group_id: str | None,
             cidr: str | None) -> dict[str, Any] | None:
    """Nova's ingress rule from the API's fields; None when a CIDR rule lacks its
    protocol or ports."""
    values: dict[str, Any] = {"group_id": group_id, "cidr": None if group_id else cidr}
    upper = str(protocol).upper() if protocol else ""
    if group_id and low is None and high is None:
        if upper == "ICMP":
            low, high = -1, -1
        elif upper in ("TCP", "UDP"):
            low, high = 1, 65535
    if protocol and low is not None and high is not None:
        try:
            low, high = _port(low), _port(high)
        except ValueError:
            raise BadRequest("Type and Code must be integers for ICMP protocol type"
                             if upper == "ICMP" else "To and From ports must be integers"
                             ) from None
        if upper not in ("TCP", "UDP", "ICMP"):
            raise BadRequest(f"Invalid IP protocol {protocol}.")
        if upper in ("TCP", "UDP") and low > high:
            raise BadRequest(f"Invalid port range {low}:{high}. Former value cannot be "
                             f"greater than the later")
        if upper in ("TCP", "UDP") and (low < 1 or high > 65535):
            raise BadRequest(f"Invalid port range {low}:{high}. Valid {upper} ports should "
                             f"be between 1-65535")
        if upper == "ICMP" and not (-1 <= low <= 255 and -1 <= high <= 255):
            raise BadRequest(f"Invalid port range {low}:{high}. For ICMP, the type:code "
                             f"must be valid")
        values.update(protocol=str(protocol), from_port=low, to_port=high)
    elif cidr and not group_id:
        return None
    else:
        values.update(protocol=None, from_port=None, to_port=None)
    return values


def _cidr(value: Any) -> str:
    if not value:
        return "0.0.0.0/0"
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise BadRequest(f"Invalid cidr {value}.") from None
    address, _, prefix = str(value).partition("/")
    if prefix == "0" and address not in ("0.0.0.0", "::"):
        raise BadRequest(f"Bad prefix for network in cidr {value}")
    return str(value)


def _exists(group: Group, rule: dict[str, Any]) -> bool:
    keys = ("group_id", "cidr", "from_port", "to_port", "protocol")
    return any(all(r.get(k) == rule.get(k) for k in keys) for r in group["rules"])


async def create_rule(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:rule:create")
    data = _from_body(await req.json(), "security_group_rule")
    group = await get_group(req, check_uuid(data.get("parent_group_id")))
    source: Group | None = None
    group_id = data.get("group_id")
    if group_id is not None:
        source = await get_group(req, check_uuid(group_id))
    rule = new_rule(data.get("ip_protocol"), data.get("from_port"), data.get("to_port"),
                    source["id"] if source else None,
                    None if source else _cidr(data.get("cidr")))
    if rule is None:
        raise BadRequest("Not enough parameters to build a valid rule.")
    if _exists(group, rule):
        raise BadRequest(f"This rule already exists in group {group['id']}")
    cidr = rule["cidr"]
    payload: dict[str, Any] = {
        "direction": "ingress", "protocol": rule["protocol"],
        "ethertype": "IPv6" if cidr and ipaddress.ip_network(cidr, strict=False).version == 6
        else "IPv4",
        "remote_ip_prefix": cidr, "security_group_id": group["id"],
        "remote_group_id": rule["group_id"]}
    if rule["from_port"] is not None and rule["from_port"] != -1:
        payload["port_range_min"] = rule["from_port"]
    if rule["to_port"] is not None and rule["to_port"] != -1:
        payload["port_range_max"] = rule["to_port"]
    status, body = await neutron(req, "POST", "/v2.0/security-group-rules",
                                 body={"security_group_rule": payload})
    if status == 404:
        raise NotFound(neutron_message(body))
    if status == 409:
        raise Forbidden(neutron_message(body))
    if status == 400:
        raise BadRequest(neutron_message(body))
    if status != 201:
        raise ApiError(neutron_message(body))
    known = {source["id"]: source} if source else {}
    return json_response({"security_group_rule": render_rule(
        _rule(body["security_group_rule"]), known)})


async def delete_rule(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-security-groups:rule:delete")
    rule_id = check_uuid(req.params["rule_id"])
    status, body = await neutron(req, "GET", f"/v2.0/security-group-rules/{rule_id}")
    if status == 404:
        raise NotFound(f"Security group rule {rule_id} not found.")
    await get_group(req, body["security_group_rule"]["security_group_id"])
    status, body = await neutron(req, "DELETE", f"/v2.0/security-group-rules/{rule_id}")
    if status == 404:
        raise NotFound(f"Security group rule {rule_id} not found.")
    if status != 204:
        raise ApiError(neutron_message(body))
    return empty_response(202)


# -- a server's groups ---------------------------------------------------------------------
async def server_groups(req: Request) -> Response:
    instance = await owned(req, req.params["server_id"])
    authorize(req, "os_compute_api:os-security-groups:list",
              target_of(req, instance["project_id"]))
    ports = await state(req).network.list_ports(bus_context(req), device_id=instance["uuid"])
    ids = list(dict.fromkeys(g for p in ports for g in p.get("security_groups") or []))
    groups = await _groups(req, [("id", i) for i in ids]) if ids else []
    return json_response({"security_groups": _sorted(groups, await _known(req, groups))})


ROUTES: RouteTable = {
    "/os-security-groups": {"GET": list_groups, "POST": create_group, "DELETE": no_id},
    "/os-security-groups/{group_id}": {"GET": show_group, "PUT": update_group,
                                       "DELETE": delete_group},
    "/os-security-group-rules": {"POST": create_rule},
    "/os-security-group-rules/{rule_id}": {"DELETE": delete_rule},
    "/servers/{server_id}/os-security-groups": {"GET": server_groups},
}
