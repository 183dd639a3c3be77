"""Routers: an external gateway (with SNAT), interfaces by subnet or by port,
static routes. Subnets behind one router must not overlap."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.network import ipam
from onestack.network.models import ip_allocation
from onestack.network.models import port as port_table
from onestack.network.objects import common, ports, quotas
from onestack.network.objects.common import Row, bad_request, conflict
from onestack.network.objects.policy import Caller

if TYPE_CHECKING:
    from onestack.network.service import Networking

GATEWAY = "network:router_gateway"
INTERFACE = "network:router_interface"
INTERFACE_OWNERS = (INTERFACE, "network:router_interface_distributed",
                    "network:ha_router_replicated_interface")


async def interface_ports(conn: AsyncConnection, router_id: str) -> list[Row]:
    return [p for p in await common.find(conn, "port", device_id=router_id)
            if p["device_owner"] in INTERFACE_OWNERS]


async def routers_on(conn: AsyncConnection, subnet_id: str) -> list[str]:
    """The routers with an interface on ``subnet_id`` (by the address index)."""
    found = await conn.execute(
        sa.select(port_table.c.device_id).distinct()
        .select_from(ip_allocation.join(port_table,
                                        port_table.c.id == ip_allocation.c.port_id))
        .where(ip_allocation.c.subnet_id == subnet_id,
               port_table.c.device_owner.in_(INTERFACE_OWNERS)))
    return [r[0] for r in found]


async def _set_gateway(net: Networking, conn: AsyncConnection, router: Row,
                       info: dict[str, Any] | None) -> dict[str, Any] | None:
    """Replace the router's gateway port; returns the new external_gateway_info."""
    old = router.get("external_gateway_info")
    if old:
        if info and info.get("network_id") == old["network_id"] and \
                "external_fixed_ips" not in info:
            return {**old, "enable_snat": bool(info.get("enable_snat", old["enable_snat"]))}
        if await common.find(conn, "floatingip", router_id=router["id"]):
            raise conflict(f"Gateway cannot be updated for router {router['id']}, since a "
                           "gateway to external network "
                           f"{old['network_id']} is required by one or more floating IPs.",
                           "RouterExternalGatewayInUseByFloatingIp")
        for port in await common.find(conn, "port", device_id=router["id"]):
            if port["device_owner"] == GATEWAY:
                await ports.delete(net, conn, port)
    if not info or not info.get("network_id"):
        return None
    network = await common.get(conn, "network", info["network_id"])
    if not network.get("router:external"):
        raise bad_request(f"Network {network['id']} is not a valid external network",
                          "BadRequest")
    fixed = info.get("external_fixed_ips")
    port = await ports.create(net, conn, network, "", {
        "device_owner": GATEWAY, "device_id": router["id"], "fixed_ips": fixed,
        "port_security_enabled": False})
    return {"network_id": network["id"], "enable_snat": bool(info.get("enable_snat", True)),
            "external_fixed_ips": port["fixed_ips"]}


def _check_routes(routes: Any, interfaces: list[Row], subnets: dict[str, Row]) -> list[Row]:
    if not isinstance(routes, list):
        raise bad_request("Invalid format for routes", "InvalidRoutes")
    cidrs = [ipaddress.ip_network(subnets[ip["subnet_id"]]["cidr"]) for p in interfaces
             for ip in p["fixed_ips"] if ip["subnet_id"] in subnets]
    cleaned = []
    for route in routes:
        if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
            raise bad_request(f"Invalid format for routes: {route}", "InvalidRoutes")
        ipam.parse_cidr(route["destination"], subnet=False)
        hop = ipam.parse_ip(route["nexthop"], "nexthop")
        if not any(hop in c for c in cidrs):
            raise bad_request(f"Invalid format for routes: {routes}, the nexthop is not "
                              "connected with router", "InvalidRoutes")
        cleaned.append({"destination": route["destination"], "nexthop": route["nexthop"]})
    return cleaned


async def create(net: Networking, conn: AsyncConnection, project_id: str, body: Row) -> Row:
    await quotas.check(net, conn, project_id, "router")
    router = await common.insert(conn, "router", {
        "project_id": project_id, "name": body.get("name") or "",
        "description": body.get("description") or "",
        "admin_state_up": bool(body.get("admin_state_up", True)), "status": "ACTIVE",
        "external_gateway_info": None, "routes": [],
        "distributed": bool(body.get("distributed", False)),
        "ha": bool(body.get("ha", False)), "flavor_id": body.get("flavor_id"),
        "availability_zone_hints": list(body.get("availability_zone_hints") or [])})
    if body.get("external_gateway_info"):
        info = await _set_gateway(net, conn, router, body["external_gateway_info"])
        router = await common.update(conn, "router", router, {"external_gateway_info": info})
    await net.backend.router_changed(router, [])
    return router


async def update(net: Networking, conn: AsyncConnection, current: Row, body: Row) -> Row:
    changes = {k: v for k, v in body.items() if k in (
        "name", "description", "admin_state_up", "distributed", "ha")}
    if "external_gateway_info" in body:
        changes["external_gateway_info"] = await _set_gateway(
            net, conn, current, body["external_gateway_info"])
    interfaces = await interface_ports(conn, current["id"])
    if "routes" in body:
        subnets = {s["id"]: s for s in await common.find(conn, "subnet", id=[
            ip["subnet_id"] for p in interfaces for ip in p["fixed_ips"]])}
        changes["routes"] = _check_routes(body["routes"] or [], interfaces, subnets)
    row = await common.update(conn, "router", current, changes)
    await net.backend.router_changed(row, interfaces)
    return row


async def delete(net: Networking, conn: AsyncConnection, current: Row) -> None:
    if await interface_ports(conn, current["id"]):
        raise conflict(f"Router {current['id']} still has ports", "RouterInUse")
    await _set_gateway(net, conn, current, None)
    await common.delete(conn, "router", current["id"])
    await net.backend.router_deleted(current)


async def _check_overlap(conn: AsyncConnection, router_id: str, subnet: Row) -> None:
    for port in await interface_ports(conn, router_id):
        for ip in port["fixed_ips"]:
            if ip["subnet_id"] == subnet["id"]:
                raise bad_request(f"Router already has a port on subnet {subnet['id']}",
                                  "BadRequest")
            other = await common.get(conn, "subnet", ip["subnet_id"])
            if ipam.overlaps(other["cidr"], subnet["cidr"]):
                raise bad_request(f"Bad router request: Cidr {subnet['cidr']} of subnet "
                                  f"{subnet['id']} overlaps with cidr {other['cidr']} of "
                                  f"subnet {other['id']}.", "BadRequest")


async def add_interface(net: Networking, conn: AsyncConnection, caller: Caller, router: Row,
                        body: Row) -> Row:
    if "subnet_id" in body and "port_id" in body:
        raise bad_request("Bad router request: Cannot specify both subnet-id and port-id",
                          "BadRequest")
    if body.get("port_id"):
        port = await common.get(conn, "port", body["port_id"])
        if not caller.owns(port):
            raise common.not_found("port", port["id"])
        if port["device_id"]:
            raise conflict(f"Unable to complete operation on port {port['id']} for network "
                           f"{port['network_id']}. Port already has an attached device "
                           f"{port['device_id']}.", "PortInUse")
        if not port["fixed_ips"]:
            raise bad_request("Bad router request: Router port must have at least one "
                              "fixed IP.", "BadRequest")
        for ip in port["fixed_ips"]:
            await _check_overlap(conn, router["id"], await common.get(conn, "subnet",
                                                                      ip["subnet_id"]))
        port = await common.update(conn, "port", port, {
            "device_id": router["id"], "device_owner": INTERFACE, "status": "ACTIVE"})
    elif body.get("subnet_id"):
        subnet = await common.get(conn, "subnet", body["subnet_id"])
        network = await common.get(conn, "network", subnet["network_id"])
        if not (caller.owns(subnet) or caller.owns(network)):
            raise common.not_found("subnet", subnet["id"])
        if not subnet.get("gateway_ip"):
            raise bad_request(f"Bad router request: Subnet {subnet['id']} does not have a "
                              "gateway IP.", "BadRequest")
        await _check_overlap(conn, router["id"], subnet)
        port = await ports.create(net, conn, network, router["project_id"], {
            "device_owner": INTERFACE, "device_id": router["id"],
            "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}],
            "port_security_enabled": False})
    else:
        raise bad_request("Bad router request: Either subnet_id or port_id must be "
                          "specified", "BadRequest")
    await net.backend.router_changed(router, await interface_ports(conn, router["id"]))
    return interface_info(router, port)


def interface_info(router: Row, port: Row) -> Row:
    subnet_ids = [ip["subnet_id"] for ip in port["fixed_ips"]]
    return {"id": router["id"], "tenant_id": router["project_id"],
            "project_id": router["project_id"], "port_id": port["id"],
            "network_id": port["network_id"], "subnet_id": subnet_ids[0] if subnet_ids
            else None, "subnet_ids": subnet_ids}


async def remove_interface(net: Networking, conn: AsyncConnection, router: Row, body: Row
                           ) -> Row:
    interfaces = await interface_ports(conn, router["id"])
    if body.get("port_id"):
        found = [p for p in interfaces if p["id"] == body["port_id"]]
        if not found:
            raise common.NotFound(f"Router {router['id']} does not have an interface with id "
                                  f"{body['port_id']}", type="RouterInterfaceNotFound")
        if body.get("subnet_id") and body["subnet_id"] not in [
                ip["subnet_id"] for ip in found[0]["fixed_ips"]]:
            raise conflict(f"Subnet {body['subnet_id']} is not on port {body['port_id']}",
                           "SubnetMismatchForPort")
    elif body.get("subnet_id"):
        found = [p for p in interfaces
                 if body["subnet_id"] in [ip["subnet_id"] for ip in p["fixed_ips"]]]
        if not found:
            await common.get(conn, "subnet", body["subnet_id"])
            raise common.NotFound(f"Router {router['id']} has no interface on subnet "
                                  f"{body['subnet_id']}",
                                  type="RouterInterfaceNotFoundForSubnet")
    else:
        raise bad_request("Bad router request: Either subnet_id or port_id must be "
                          "specified", "BadRequest")
    port = found[0]
    subnet_ids = {ip["subnet_id"] for ip in port["fixed_ips"]}
    for fip in await common.find(conn, "floatingip", router_id=router["id"]):
        if fip.get("port_id"):
            inner = await common.find(conn, "port", id=fip["port_id"])
            if inner and subnet_ids & {ip["subnet_id"] for ip in inner[0]["fixed_ips"]}:
                raise conflict(f"Router interface for subnet {sorted(subnet_ids)[0]} on "
                               f"router {router['id']} cannot be deleted, as it is required "
                               "by one or more floating IPs.",
                               "RouterInterfaceInUseByFloatingIP")
    info = interface_info(router, port)
    await ports.delete(net, conn, port)
    await net.backend.router_changed(router, await interface_ports(conn, router["id"]))
    return info
