"""Floating IPs: an address of an external network, associated with a port
reachable through a router whose gateway is on that network."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.api.faults import NotFound
from onestack.network.objects import common, ports, quotas
from onestack.network.objects.common import Row, bad_request, conflict
from onestack.network.objects.policy import Caller
from onestack.network.objects.routers import routers_on

if TYPE_CHECKING:
    from onestack.network.service import Networking

OWNER = "network:floatingip"


async def _association(conn: AsyncConnection, caller: Caller, fip: Row, port_id: str | None,
                       fixed_ip: str | None) -> Row:
    """router_id, port_id and fixed_ip_address for associating ``fip`` with a port."""
    if not port_id:
        if fixed_ip:
            raise bad_request("fixed_ip_address cannot be specified without a port_id",
                              "BadRequest")
        return {"port_id": None, "fixed_ip_address": None, "router_id": None,
                "status": "DOWN"}
    found = await common.find(conn, "port", id=port_id)
    if not found or not caller.owns(found[0]):
        raise common.not_found("port", port_id)
    port = found[0]
    v4 = [ip for ip in port["fixed_ips"] if ipaddress.ip_address(ip["ip_address"]).version == 4]
    if fixed_ip:
        chosen = [ip for ip in port["fixed_ips"] if ip["ip_address"] == fixed_ip]
        if not chosen:
            raise bad_request(f"Bad floatingip request: Port {port_id} does not have fixed "
                              f"ip {fixed_ip}.", "BadRequest")
    elif not v4:
        raise bad_request(f"Bad floatingip request: Port {port_id} does not have any IPv4 "
                          "address.", "BadRequest")
    elif len(v4) > 1:
        raise bad_request(f"Port {port_id} has multiple fixed IPv4 addresses. Must provide "
                          "a specific IPv4 address when assigning a floating IP",
                          "BadRequest")
    else:
        chosen = v4
    address, subnet_id = chosen[0]["ip_address"], chosen[0]["subnet_id"]
    for other in await common.find(conn, "floatingip", port_id=port_id):
        if other["id"] != fip["id"] and other.get("fixed_ip_address") == address:
            raise conflict(f"Cannot associate floating IP {fip['floating_ip_address']} "
                           f"({fip['id']}) with port {port_id} using fixed IP {address}, as "
                           f"that fixed IP already has a floating IP on external network "
                           f"{other['floating_network_id']}.", "FloatingIPPortAlreadyAssociated")
    for router in await common.find(conn, "router", id=await routers_on(conn, subnet_id)):
        gateway = router.get("external_gateway_info") or {}
        if gateway.get("network_id") == fip["floating_network_id"]:
            return {"port_id": port_id, "fixed_ip_address": address,
                    "router_id": router["id"], "status": "ACTIVE"}
    raise NotFound(f"External network {fip['floating_network_id']} is not reachable from "
                   f"subnet {subnet_id}.  Therefore, cannot associate Port {port_id} with a "
                   "Floating IP.", type="ExternalGatewayForFloatingIPNotFound")


async def create(net: Networking, conn: AsyncConnection, caller: Caller, project_id: str,
                 body: Row) -> Row:
    network_id = body.get("floating_network_id")
    if not network_id:
        raise bad_request("floating_network_id is required")
    network = await common.get(conn, "network", network_id)
    if not network.get("router:external"):
        raise bad_request(f"Bad floatingip request: Network {network_id} is not a valid "
                          "external network.", "BadRequest")
    await quotas.check(net, conn, project_id, "floatingip")
    fip_id = common.new_id()
    request = None
    if body.get("floating_ip_address") or body.get("subnet_id"):
        entry = {}
        if body.get("subnet_id"):
            entry["subnet_id"] = body["subnet_id"]
        if body.get("floating_ip_address"):
            entry["ip_address"] = body["floating_ip_address"]
        request = [entry]
    port = await ports.create(net, conn, network, "", {
        "device_owner": OWNER, "device_id": fip_id, "fixed_ips": request,
        "port_security_enabled": False})
    v4 = [ip for ip in port["fixed_ips"] if ":" not in ip["ip_address"]] or port["fixed_ips"]
    if not v4:
        raise conflict(f"No more IP addresses available on network {network_id}.",
                       "IpAddressGenerationFailure")
    fip = {"id": fip_id, "project_id": project_id,
           "description": body.get("description") or "",
           "floating_ip_address": v4[0]["ip_address"], "floating_network_id": network_id,
           "floating_port_id": port["id"], "dns_domain": "", "dns_name": "",
           "qos_policy_id": None, "port_forwardings": []}
    fip.update(await _association(conn, caller, fip, body.get("port_id"),
                                  body.get("fixed_ip_address")))
    row = await common.insert(conn, "floatingip", fip)
    await net.backend.floatingip_changed(row)
    return row


async def update(net: Networking, conn: AsyncConnection, caller: Caller, current: Row,
                 body: Row) -> Row:
    changes = {k: v for k, v in body.items() if k == "description"}
    if "port_id" in body or "fixed_ip_address" in body:
        changes.update(await _association(conn, caller, current,
                                           body.get("port_id", current.get("port_id")),
                                           body.get("fixed_ip_address")))
    row = await common.update(conn, "floatingip", current, changes)
    await net.backend.floatingip_changed(row)
    return row


async def delete(net: Networking, conn: AsyncConnection, current: Row) -> None:
    await common.delete(conn, "floatingip", current["id"])
    for port in await common.find(conn, "port", id=current.get("floating_port_id") or ""):
        await ports.release_ips(conn, port["id"])
        await common.delete(conn, "port", port["id"])
    await net.backend.floatingip_deleted(current)


async def disassociate_port(net: Networking, conn: AsyncConnection, port_id: str) -> None:
    for fip in await common.find(conn, "floatingip", port_id=port_id):
        row = await common.update(conn, "floatingip", fip, {
            "port_id": None, "fixed_ip_address": None, "router_id": None, "status": "DOWN"})
        await net.backend.floatingip_changed(row)
