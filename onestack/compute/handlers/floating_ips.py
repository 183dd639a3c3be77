"""Nova's networking proxies besides security groups: ``/os-floating-ips``,
``/os-floating-ip-pools``, ``/os-networks`` and ``/os-tenant-networks`` (up to 2.35),
and the addFloatingIp / removeFloatingIp server actions (up to 2.43). As Nova, they
call the networking API as the caller and translate its answers."""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    allowed,
    at_least,
    authorize,
    bus_context,
    context_of,
    state,
    target_of,
)
from onestack.compute.handlers.security_groups import neutron, neutron_message, proxy_version
from onestack.compute.handlers.servers import check_locked
from onestack.kernel.api.faults import ApiError, BadRequest, Conflict, Forbidden, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable
from onestack.kernel.api.validation import validate

Instance = dict[str, Any]


# -- floating IPs --------------------------------------------------------------------------
async def _networks(req: Request, query: list[tuple[str, str]] | None = None
                    ) -> list[dict[str, Any]]:
    status, body = await neutron(req, "GET", "/v2.0/networks", query=query)
    if status != 200:
        raise ApiError(neutron_message(body))
    return list(body["networks"])


async def _view(req: Request, fip: dict[str, Any],
                names: dict[str, str] | None = None) -> dict[str, Any]:
    if names is None:
        names = {n["id"]: n["name"] for n in await _networks(
            req, [("id", fip["floating_network_id"])])}
    details = fip.get("port_details") or {}
    return {"id": fip["id"], "ip": fip["floating_ip_address"],
            "pool": names.get(fip["floating_network_id"]) or fip["floating_network_id"],
            "fixed_ip": fip.get("fixed_ip_address"),
            "instance_id": details.get("device_id") if fip.get("port_id") else None}


async def _fip(req: Request, fip_id: str) -> dict[str, Any]:
    status, body = await neutron(req, "GET", f"/v2.0/floatingips/{fip_id}")
    if status != 200:
        raise NotFound(f"Floating IP not found for ID {fip_id}")
    return dict(body["floatingip"])


async def _fip_by_address(req: Request, address: str) -> dict[str, Any] | None:
    status, body = await neutron(req, "GET", "/v2.0/floatingips",
                                 query=[("floating_ip_address", address)])
    if status != 200:
        raise ApiError(neutron_message(body))
    found = [f for f in body["floatingips"] if f["floating_ip_address"] == address]
    return found[0] if found else None


async def list_fips(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-floating-ips:list")
    status, body = await neutron(req, "GET", "/v2.0/floatingips",
                                 query=[("project_id", context_of(req).project_id or "")])
    if status != 200:
        raise ApiError(neutron_message(body))
    names = {n["id"]: n["name"] for n in await _networks(req, [("router:external", "True")])}
    return json_response({"floating_ips": [await _view(req, f, names)
                                           for f in body["floatingips"]]})


async def show_fip(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-floating-ips:show")
    return json_response({"floating_ip": await _view(req, await _fip(req, req.params["fip_id"]))})


async def create_fip(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-floating-ips:create")
    raw = await req.body()
    data = await req.json() if raw.strip() else None
    pool = data.get("pool") if isinstance(data, dict) else None
    external = await _networks(req, [("router:external", "True")])
    if pool is None:
        # Nova takes [neutron] default_floating_pool; here the one external network
        chosen = external if len(external) == 1 else []
    else:
        chosen = [n for n in external if pool in (n["id"], n["name"])]
    if not chosen:
        raise NotFound("Floating IP pool not found." if pool is None
                       else f"Floating IP pool not found: {pool}")
    status, body = await neutron(req, "POST", "/v2.0/floatingips", body={"floatingip": {
        "floating_network_id": chosen[0]["id"],
        "project_id": context_of(req).project_id}})
    where = f" in pool {pool}" if pool else ""
    if status == 409:
        raise Forbidden(f"IP allocation over quota{where}.")
    if status in (400, 404) and "IpAddressGenerationFailure" in str(body):
        raise NotFound(f"No more floating IPs{where or ' available'}.")
    if status == 400:
        raise BadRequest(neutron_message(body))
    if status != 201:
        raise ApiError(neutron_message(body))
    return json_response({"floating_ip": await _view(
        req, body["floatingip"], {chosen[0]["id"]: chosen[0]["name"]})})


async def delete_fip(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-floating-ips:delete")
    fip = await _fip(req, req.params["fip_id"])
    status, body = await neutron(req, "DELETE", f"/v2.0/floatingips/{fip['id']}")
    if status == 404:
        raise NotFound(f"Floating IP not found for ID {fip['id']}")
    if status == 403:
        raise Forbidden(neutron_message(body))
    if status != 204:
        raise ApiError(neutron_message(body))
    return empty_response(202)


async def list_pools(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-floating-ip-pools")
    external = await _networks(req, [("router:external", "True")])
    return json_response({"floating_ip_pools": [{"name": n["name"]} for n in external]})


# -- server actions (up to 2.43) --------------------------------------------------------
ADDRESS = {"type": "string"}
ADD = {"type": "object", "properties": {"address": ADDRESS, "fixed_address": ADDRESS},
       "required": ["address"], "additionalProperties": False}
REMOVE = {"type": "object", "properties": {"address": ADDRESS}, "required": ["address"],
          "additionalProperties": False}


def _action_version(req: Request) -> None:
    if at_least(req, 44):
        raise NotFound("The resource could not be found.")


def _check_address(value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise BadRequest(f"Invalid input for field/attribute address. Value: {value}. "
                         f"'{value}' is not a 'ip-address'") from None


async def add_floating_ip(req: Request, instance: Instance, data: Any) -> Response:
    _action_version(req)
    data = validate(ADD, data)
    _check_address(data["address"])
    authorize(req, "os_compute_api:os-floating-ips:add", target_of(req, instance["project_id"]))
    check_locked(req, instance)
    ports = await state(req).network.list_ports(bus_context(req), device_id=instance["uuid"])
    fixed = [(p, ip["ip_address"]) for p in ports for ip in p.get("fixed_ips") or []]
    if not ports:
        raise BadRequest("Instance network is not ready yet")
    if not fixed:
        raise BadRequest("No fixed IPs associated to instance")
    wanted = data.get("fixed_address")
    if wanted is not None:
        _check_address(wanted)
        chosen = [(p, a) for p, a in fixed if a == wanted]
        if not chosen:
            raise BadRequest("Specified fixed address not assigned to instance")
    else:
        chosen = [(p, a) for p, a in fixed if ipaddress.ip_address(a).version == 4]
        if not chosen:
            raise BadRequest(f"Unable to associate floating IP {data['address']} to any "
                             f"fixed IPs for instance {instance['uuid']}. Instance has no "
                             f"fixed IPv4 addresses to associate.")
    port, address = chosen[0]
    fip = await _fip_by_address(req, data["address"])
    if fip is None:
        raise NotFound("floating IP not found")
    status, body = await neutron(req, "PUT", f"/v2.0/floatingips/{fip['id']}", body={
        "floatingip": {"port_id": port["id"], "fixed_ip_address": address}})
    if status == 404:
        raise NotFound("floating IP not found")
    if status == 403:
        raise Forbidden(neutron_message(body))
    if status != 200:
        raise BadRequest(f"Unable to associate floating IP {data['address']} to fixed IP "
                         f"{address} for instance {instance['uuid']}. Error: "
                         f"{neutron_message(body)}")
    return empty_response(202)


async def remove_floating_ip(req: Request, instance: Instance, data: Any) -> Response:
    _action_version(req)
    data = validate(REMOVE, data)
    _check_address(data["address"])
    authorize(req, "os_compute_api:os-floating-ips:remove",
              target_of(req, instance["project_id"]))
    check_locked(req, instance)
    fip = await _fip_by_address(req, data["address"])
    if fip is None:
        raise NotFound("floating IP not found")
    holder = (fip.get("port_details") or {}).get("device_id") if fip.get("port_id") else None
    if holder != instance["uuid"]:
        raise Conflict(f"Floating IP {data['address']} is not associated with instance "
                       f"{instance['uuid']}.")
    status, body = await neutron(req, "PUT", f"/v2.0/floatingips/{fip['id']}",
                                 body={"floatingip": {"port_id": None}})
    if status != 200:
        raise BadRequest(neutron_message(body) or "Floating IP is not associated")
    return empty_response(202)


ACTIONS = {"addFloatingIp": add_floating_ip, "removeFloatingIp": remove_floating_ip}


# -- networks ------------------------------------------------------------------------------
NETWORK_FIELDS = ("id", "cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6",
                  "gateway_v6", "label", "netmask_v6")
ADMIN_NETWORK_FIELDS = (
    "created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan",
    "vpn_public_address", "vpn_public_port", "vpn_private_address", "dhcp_start",
    "project_id", "host", "bridge_interface", "multi_host", "priority", "rxtx_base", "mtu",
    "dhcp_server", "enable_dhcp", "share_address")


def _network(req: Request, network: dict[str, Any]) -> dict[str, Any]:
    """Nova's network_dict since nova-network went: the id and the name (as the label)
    of a Neutron network; every other field of the old API is null."""
    fields = NETWORK_FIELDS
    if allowed(req, "context_is_admin"):
        fields += ADMIN_NETWORK_FIELDS
    body: dict[str, Any] = dict.fromkeys(fields)
    body.update(id=network["id"], label=network.get("name"))
    return body


async def _one_network(req: Request) -> dict[str, Any]:
    status, body = await neutron(req, "GET", f"/v2.0/networks/{req.params['network_id']}")
    if status != 200:
        raise NotFound("Network not found")
    return dict(body["network"])


async def list_networks(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-networks:list")
    return json_response({"networks": [_network(req, n) for n in await _networks(req)]})


async def show_network(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-networks:view")
    return json_response({"network": _network(req, await _one_network(req))})


def _tenant_network(network: dict[str, Any]) -> dict[str, Any]:
    return {"id": network["id"], "cidr": str(network.get("cidr")),
            "label": network.get("label") or network.get("name")}


async def list_tenant_networks(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-tenant-networks:list")
    return json_response({"networks": [_tenant_network(n) for n in await _networks(req)]})


async def show_tenant_network(req: Request) -> Response:
    proxy_version(req)
    authorize(req, "os_compute_api:os-tenant-networks:show")
    return json_response({"network": _tenant_network(await _one_network(req))})


ROUTES: RouteTable = {
    "/os-floating-ips": {"GET": list_fips, "POST": create_fip},
    "/os-floating-ips/{fip_id}": {"GET": show_fip, "DELETE": delete_fip},
    "/os-floating-ip-pools": {"GET": list_pools},
    "/os-networks": {"GET": list_networks},
    "/os-networks/{network_id}": {"GET": show_network},
    "/os-tenant-networks": {"GET": list_tenant_networks},
    "/os-tenant-networks/{network_id}": {"GET": show_tenant_network},
}
