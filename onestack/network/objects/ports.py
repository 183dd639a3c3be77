"""Ports: fixed IPs (requested or allocated), MAC addresses, security groups,
allowed address pairs, and binding to a host through the backend."""

from __future__ import annotations

import ipaddress
import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.api.faults import BadRequest, Conflict
from onestack.kernel.db import is_duplicate
from onestack.network import ipam
from onestack.network.models import ip_allocation, port_security_group
from onestack.network.objects import common, quotas, security_groups
from onestack.network.objects.common import Row, bad_request, conflict, from_ipam
from onestack.network.objects.subnets import pools_of

if TYPE_CHECKING:
    from onestack.network.service import Networking

MAC_PREFIX = "fa:16:3e"
UPDATABLE = {"name", "description", "admin_state_up", "device_id", "device_owner",
             "fixed_ips", "security_groups", "allowed_address_pairs", "port_security_enabled",
             "binding:host_id", "binding:profile", "binding:vnic_type", "extra_dhcp_opts",
             "dns_name", "mac_address", "propagate_uplink_status"}


def new_mac() -> str:
    return MAC_PREFIX + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


def check_mac(value: str) -> str:
    parts = str(value).split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF"
                                                      for c in p) for p in parts):
        raise bad_request(f"'{value}' is not a valid MAC address")
    mac = str(value).lower()
    if int(parts[0], 16) & 1 or mac == "00:00:00:00:00:00":
        raise bad_request(f"'{value}' is not a valid MAC address")
    return mac


def in_use(address: str, subnet_id: str) -> Conflict:
    return Conflict(f"IP address {address} already allocated in subnet {subnet_id}",
                    type="IpAddressAlreadyAllocated", address=address)


async def _claim(conn: AsyncConnection, network_id: str, address: str, subnet_id: str,
                 port_id: str) -> bool:
    """Take one address; False when another port holds it (the primary key decides)."""
    taken = await conn.scalar(sa.select(ip_allocation.c.port_id).where(
        ip_allocation.c.network_id == network_id, ip_allocation.c.ip_address == address))
    if taken is not None:
        return False
    try:
        async with conn.begin_nested():
            await conn.execute(sa.insert(ip_allocation).values(
                network_id=network_id, ip_address=address, subnet_id=subnet_id,
                port_id=port_id))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            return False
        raise
    return True


async def _allocate_in(net: Networking, conn: AsyncConnection, subnet: Row, port_id: str
                       ) -> str:
    pools = pools_of(subnet)
    size = min(ipam.pool_size(pools), 1 << 20)
    gateway = subnet.get("gateway_ip")
    for probes, number in enumerate(ipam.candidates(pools, net.ip_cursor.get(subnet["id"]))):
        address = ipam.to_text(number, subnet["ip_version"])
        if address != gateway and await _claim(conn, subnet["network_id"], address,
                                               subnet["id"], port_id):
            net.ip_cursor[subnet["id"]] = number
            return address
        if probes >= size:
            break
    raise from_ipam(ipam.exhausted(subnet["network_id"]))


async def assign_ips(net: Networking, conn: AsyncConnection, network: Row, port_id: str,
                     mac: str, requested: list[dict[str, Any]] | None,
                     device_owner: str = "") -> list[dict[str, str]]:
    """Allocate the port's fixed IPs: those requested, else one per IP version (and
    the SLAAC address of every auto-addressed IPv6 subnet)."""
    subnets = sorted(await common.find(conn, "subnet", network_id=network["id"]),
                     key=lambda s: s["created_at"])
    by_id = {s["id"]: s for s in subnets}
    fixed: list[dict[str, str]] = []
    if requested is None:
        versions: set[int] = set()
        for subnet in subnets:
            auto = subnet.get("ipv6_address_mode") in ipam.SLAAC_MODES
            if subnet["ip_version"] in versions and not auto:
                continue
            if auto and device_owner == "network:router_interface":
                continue
            try:
                address = (ipam.eui64(ipam.parse_cidr(subnet["cidr"]), mac) if auto
                           else await _allocate_in(net, conn, subnet, port_id))
            except common.ApiError:
                if subnet is subnets[-1] and not fixed:
                    raise
                continue
            if auto and not await _claim(conn, network["id"], address, subnet["id"],
                                         port_id):
                raise in_use(address, subnet['id'])
            versions.add(subnet["ip_version"])
            fixed.append({"subnet_id": subnet["id"], "ip_address": address})
        return fixed
    if not isinstance(requested, list):
        raise bad_request("Invalid data format for fixed IP")
    for item in requested:
        if not isinstance(item, dict):
            raise bad_request("Invalid data format for fixed IP")
        subnet_id, address = item.get("subnet_id"), item.get("ip_address")
        if subnet_id is None and address is None:
            raise bad_request("Invalid data format for fixed IP")
        if subnet_id is not None and subnet_id not in by_id:
            if subnet_id is not None and not await common.find(conn, "subnet", id=subnet_id):
                raise common.not_found("subnet", subnet_id)
            raise bad_request(f"Failed to create port on network {network['id']}, because "
                              "fixed_ips included invalid subnet " + subnet_id)
        if subnet_id is None:
            ipam.parse_ip(address)
            matching = [s for s in subnets if ipaddress.ip_address(address) in
                        ipaddress.ip_network(s["cidr"])]
            if not matching:
                raise BadRequest(f"IP address {address} is not a valid IP for any subnet on "
                                 "the network.", type="InvalidIpForNetwork", address=address)
            subnet_id = matching[0]["id"]
        subnet = by_id[subnet_id]
        if address is None:
            if subnet.get("ipv6_address_mode") in ipam.SLAAC_MODES:
                address = ipam.eui64(ipam.parse_cidr(subnet["cidr"]), mac)
                if not await _claim(conn, network["id"], address, subnet_id, port_id):
                    raise in_use(address, subnet_id)
            else:
                address = await _allocate_in(net, conn, subnet, port_id)
        else:
            try:
                number = ipam.check_requested(ipam.parse_cidr(subnet["cidr"]), address,
                                              subnet.get("gateway_ip"))
            except ipam.IpamError as error:
                error.details.setdefault("address", address)
                raise from_ipam(error) from None
            address = ipam.to_text(number, subnet["ip_version"])
            if not await _claim(conn, network["id"], address, subnet_id, port_id):
                raise in_use(address, subnet_id)
        fixed.append({"subnet_id": subnet_id, "ip_address": address})
    return fixed


async def release_ips(conn: AsyncConnection, port_id: str) -> None:
    await conn.execute(sa.delete(ip_allocation).where(ip_allocation.c.port_id == port_id))


async def _bind_groups(conn: AsyncConnection, port_id: str, groups: list[str],
                       replace: bool = True) -> None:
    """Record the port's groups in the index that group deletion looks up."""
    if replace:
        await conn.execute(sa.delete(port_security_group)
                           .where(port_security_group.c.port_id == port_id))
    if groups:
        await conn.execute(sa.insert(port_security_group), [
            {"port_id": port_id, "security_group_id": group} for group in groups])


def _check_pairs(pairs: Any) -> list[dict[str, str]]:
    if not isinstance(pairs, list):
        raise bad_request("Allowed address pairs must be a list.")
    cleaned, seen = [], set()
    for pair in pairs:
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise bad_request("AllowedAddressPair must contain ip_address",
                              "AllowedAddressPairsMissingIP")
        if "/" in str(pair["ip_address"]):
            ipam.parse_cidr(pair["ip_address"], subnet=False)
        else:
            ipam.parse_ip(pair["ip_address"])
        entry = {"ip_address": pair["ip_address"]}
        if pair.get("mac_address"):
            entry["mac_address"] = check_mac(pair["mac_address"])
        key = (entry["ip_address"], entry.get("mac_address"))
        if key in seen:
            raise bad_request("Request contains duplicate address pair: "
                              f"mac_address {key[1]} ip_address {key[0]}.",
                              "DuplicateAddressPairInRequest")
        seen.add(key)
        cleaned.append(entry)
    return cleaned


async def _groups(net: Networking, conn: AsyncConnection, project_id: str, body: Row,
                  network: Row, owner: str) -> list[str]:
    security = body.get("port_security_enabled", network.get("port_security_enabled", True))
    if "security_groups" in body and body["security_groups"] is not None:
        ids = list(dict.fromkeys(body["security_groups"]))
        for group_id in ids:
            await common.get(conn, "security_group", group_id)
        if ids and not security:
            raise bad_request("Port security must be enabled and port must have an IP "
                              "address in order to use security groups.",
                              "PortSecurityAndIPRequiredForSecurityGroups")
        return ids
    if not security or owner.startswith("network:") or not project_id:
        return []
    return [await security_groups.ensure_default(net, conn, project_id)]


async def create(net: Networking, conn: AsyncConnection, network: Row, project_id: str,
                 body: Row) -> Row:
    await quotas.check(net, conn, project_id, "port")
    port_id = body.get("id") or common.new_id()
    owner = body.get("device_owner") or ""
    security = bool(body.get("port_security_enabled",
                             network.get("port_security_enabled", True)))
    pairs = _check_pairs(body.get("allowed_address_pairs") or [])
    if pairs and not security:
        raise conflict("Port Security must be enabled in order to have allowed address "
                       "pairs on a port.", "AddressPairAndPortSecurityRequired")
    groups = await _groups(net, conn, project_id, body, network, owner)
    mac = check_mac(body["mac_address"]) if body.get("mac_address") else new_mac()
    values = {
        "id": port_id, "project_id": project_id, "network_id": network["id"],
        "name": body.get("name") or "", "description": body.get("description") or "",
        "mac_address": mac, "device_id": body.get("device_id") or "", "device_owner": owner,
        "admin_state_up": bool(body.get("admin_state_up", True)), "status": "DOWN",
        "security_groups": groups, "allowed_address_pairs": pairs,
        "port_security_enabled": security,
        "extra_dhcp_opts": list(body.get("extra_dhcp_opts") or []),
        "binding:host_id": body.get("binding:host_id") or "",
        "binding:profile": body.get("binding:profile") or {},
        "binding:vnic_type": body.get("binding:vnic_type") or "normal",
        "binding:vif_type": "unbound", "binding:vif_details": {},
        "dns_name": body.get("dns_name") or "", "fixed_ips": [],
        "propagate_uplink_status": bool(body.get("propagate_uplink_status", False)),
    }
    for attempt in range(8):
        try:
            async with conn.begin_nested():
                row = await common.insert(conn, "port", values)
            break
        except sa.exc.IntegrityError as exc:
            if not is_duplicate(exc):
                raise
            if body.get("mac_address") or attempt == 7:
                raise conflict(f"Unable to complete operation for network {network['id']}. "
                               f"The mac address {mac} is in use.", "MacAddressInUse") from None
            values["mac_address"] = mac = new_mac()
    await _bind_groups(conn, port_id, groups, replace=False)
    fixed = await assign_ips(net, conn, network, port_id, mac, body.get("fixed_ips"), owner)
    row = await common.update(conn, "port", row, {"fixed_ips": fixed})
    if row["binding:host_id"] or owner.startswith("network:router"):
        row = await bind(net, conn, row)
    return row


async def bind(net: Networking, conn: AsyncConnection, row: Row) -> Row:
    """Bind through the backend; the port takes the status it reports."""
    if not row["binding:host_id"] and not row["device_owner"].startswith("network:router"):
        if row["binding:vif_type"] != "unbound":
            await net.backend.unbind_port(row)
        return await common.update(conn, "port", row, {
            "binding:vif_type": "unbound", "binding:vif_details": {}, "status": "DOWN"})
    binding = await net.backend.bind_port(row, row["binding:host_id"])
    return await common.update(conn, "port", row, {
        "binding:vif_type": binding.vif_type, "binding:vif_details": binding.vif_details,
        "status": binding.status if row["admin_state_up"] else "DOWN"})


async def update(net: Networking, conn: AsyncConnection, current: Row, body: Row) -> Row:
    unknown = set(body) - UPDATABLE - {"network_id", "id", "project_id", "tenant_id"}
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'",
                          "HTTPBadRequest")
    if "network_id" in body and body["network_id"] != current["network_id"]:
        raise bad_request("Cannot update read-only attribute network_id")
    changes = {k: v for k, v in body.items() if k in UPDATABLE}
    security = changes.get("port_security_enabled", current["port_security_enabled"])
    if "allowed_address_pairs" in changes:
        changes["allowed_address_pairs"] = _check_pairs(changes["allowed_address_pairs"] or [])
    pairs = changes.get("allowed_address_pairs", current["allowed_address_pairs"])
    if pairs and not security:
        raise conflict("Port Security must be enabled in order to have allowed address "
                       "pairs on a port.", "AddressPairAndPortSecurityRequired")
    if "security_groups" in changes:
        groups = list(dict.fromkeys(changes["security_groups"] or []))
        for group_id in groups:
            await common.get(conn, "security_group", group_id)
        changes["security_groups"] = groups
        await _bind_groups(conn, current["id"], groups)
    groups = changes.get("security_groups", current["security_groups"])
    if groups and not security:
        raise conflict("Port has security group associated. Cannot disable port security "
                       "or ip address until security group is removed",
                       "PortSecurityPortHasSecurityGroup")
    if "mac_address" in changes:
        changes["mac_address"] = check_mac(changes["mac_address"])
    if "fixed_ips" in changes:
        network = await common.get(conn, "network", current["network_id"])
        await release_ips(conn, current["id"])
        changes["fixed_ips"] = await assign_ips(
            net, conn, network, current["id"], changes.get("mac_address",
                                                           current["mac_address"]),
            changes["fixed_ips"] or [], current["device_owner"])
    try:
        async with conn.begin_nested():
            row = await common.update(conn, "port", current, changes)
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise conflict(f"Unable to complete operation for network "
                           f"{current['network_id']}. The mac address "
                           f"{changes.get('mac_address')} is in use.", "MacAddressInUse") \
                from None
        raise
    if "binding:host_id" in changes or "admin_state_up" in changes:
        row = await bind(net, conn, row)
    else:
        await net.backend.port_changed(row)
    return row


async def delete(net: Networking, conn: AsyncConnection, current: Row) -> None:
    from onestack.network.objects import floatingips

    await floatingips.disassociate_port(net, conn, current["id"])
    await release_ips(conn, current["id"])
    await _bind_groups(conn, current["id"], [])
    await common.delete(conn, "port", current["id"])
    await net.backend.port_deleted(current)
