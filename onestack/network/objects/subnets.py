"""Subnets (IPv4 and IPv6) and subnet pools; the address checks are ipam.py's."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.network import ipam
from onestack.network.models import ip_allocation, port
from onestack.network.objects import common, quotas
from onestack.network.objects.common import Row, bad_request, conflict, from_ipam

if TYPE_CHECKING:
    from onestack.network.service import Networking

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
UPDATABLE = {"name", "description", "gateway_ip", "allocation_pools", "dns_nameservers",
             "host_routes", "enable_dhcp", "service_types", "segment_id"}


def pools_of(row: Row) -> list[ipam.Pool]:
    return [ipam.Pool(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
            for p in row["allocation_pools"]]


def _check_lists(version: int, body: Row) -> None:
    seen = set()
    for server in body.get("dns_nameservers") or []:
        ipam.parse_ip(server, "DNS name server")
        if server in seen:
            raise bad_request(f"Duplicate nameserver '{server}'")
        seen.add(server)
    for route in body.get("host_routes") or []:
        if not isinstance(route, dict) or "destination" not in route or "nexthop" not in route:
            raise bad_request("Invalid data format for hostroute")
        destination = ipam.parse_cidr(route["destination"], subnet=False)
        hop = ipam.parse_ip(route["nexthop"], "nexthop")
        if destination.version != version or hop.version != version:
            raise bad_request(f"Host route {route} is of another IP version than the subnet")


def _check_v6_modes(body: Row, net6: Any) -> None:
    ra, mode = body.get("ipv6_ra_mode"), body.get("ipv6_address_mode")
    for value in (ra, mode):
        if value is not None and value not in IPV6_MODES:
            raise bad_request(f"'{value}' is not in {list(IPV6_MODES)}")
    if ra and mode and ra != mode:
        raise bad_request(f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to "
                          f"'{mode}' is not valid. If both attributes are set, they must "
                          "be the same value")
    if (mode or ra) in ("slaac", "dhcpv6-stateless") and net6.prefixlen != 64:
        raise bad_request(f"Invalid CIDR {net6} for IPv6 address mode. OpenStack uses the EUI-64 "
                          "address format, which requires the prefix to be /64")


async def _cidr_from_pool(conn: AsyncConnection, pool: Row, prefixlen: int | None) -> str:
    length = prefixlen or pool["default_prefixlen"]
    if not pool["min_prefixlen"] <= length <= pool["max_prefixlen"]:
        raise bad_request(f"Illegal prefix bounds: prefixlen={length}")
    taken = [r["cidr"] for r in await common.find(conn, "subnet") if
             r.get("subnetpool_id") == pool["id"]]
    for prefix in pool["prefixes"]:
        for candidate in ipaddress.ip_network(prefix).subnets(new_prefix=length):
            if not any(candidate.overlaps(ipaddress.ip_network(t)) for t in taken):
                return str(candidate)
    raise conflict(f"Insufficient prefix space to allocate subnet size /{length}.",
                   "SubnetAllocationError")


async def create(net: Networking, conn: AsyncConnection, network: Row, project_id: str,
                 body: Row) -> Row:
    await quotas.check(net, conn, project_id, "subnet")
    version = body.get("ip_version", 4)
    if version not in (4, 6):
        raise bad_request(f"{version} is not in [4, 6]")
    pool_row = None
    if body.get("subnetpool_id"):
        pool_row = await common.get(conn, "subnetpool", body["subnetpool_id"])
        if pool_row["ip_version"] != version:
            raise bad_request("Cannot allocate a subnet of another IP version from the pool")
    cidr = body.get("cidr")
    if cidr is None:
        if pool_row is None:
            raise bad_request("A cidr must be specified in the absence of a subnet pool")
        cidr = await _cidr_from_pool(conn, pool_row, body.get("prefixlen"))
    try:
        network_ip, gateway, pools = ipam.validate_subnet(
            cidr, version, body.get("gateway_ip"), default_gw="gateway_ip" not in body,
            pools=body.get("allocation_pools"))
    except ipam.IpamError as error:
        raise from_ipam(error) from None
    if version == 6:
        _check_v6_modes(body, network_ip)
    elif body.get("ipv6_ra_mode") or body.get("ipv6_address_mode"):
        raise bad_request("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp "
                          "is set to False or ip_version is 4")
    _check_lists(version, body)
    for other in await common.find(conn, "subnet", network_id=network["id"]):
        if ipam.overlaps(other["cidr"], str(network_ip)):
            raise bad_request(f"Requested subnet with cidr: {network_ip} for network: "
                              f"{network['id']} overlaps with another subnet")
    values = {
        "project_id": project_id, "network_id": network["id"],
        "name": body.get("name") or "", "description": body.get("description") or "",
        "ip_version": version, "cidr": str(network_ip), "gateway_ip": gateway,
        "allocation_pools": [p.as_dict(version) for p in pools],
        "dns_nameservers": list(body.get("dns_nameservers") or []),
        "host_routes": list(body.get("host_routes") or []),
        "enable_dhcp": bool(body.get("enable_dhcp", True)),
        "ipv6_ra_mode": body.get("ipv6_ra_mode"),
        "ipv6_address_mode": body.get("ipv6_address_mode"),
        "subnetpool_id": body.get("subnetpool_id"),
        "service_types": list(body.get("service_types") or []),
        "segment_id": body.get("segment_id"), "dns_publish_fixed_ip": False,
    }
    return await common.insert(conn, "subnet", values)


async def update(conn: AsyncConnection, current: Row, body: Row) -> Row:
    for fixed in ("cidr", "ip_version", "network_id", "subnetpool_id", "ipv6_ra_mode",
                  "ipv6_address_mode", "prefixlen"):
        if fixed in body and body[fixed] != current.get(fixed):
            raise bad_request(f"Cannot update read-only attribute {fixed}")
    unknown = set(body) - UPDATABLE - {"cidr", "ip_version", "network_id", "subnetpool_id",
                                       "ipv6_ra_mode", "ipv6_address_mode"}
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'",
                          "HTTPBadRequest")
    changes = {k: v for k, v in body.items() if k in UPDATABLE}
    network_ip = ipam.parse_cidr(current["cidr"])
    try:
        if "allocation_pools" in changes:
            pools = ipam.parse_pools(network_ip, changes["allocation_pools"])
            changes["allocation_pools"] = [p.as_dict(current["ip_version"]) for p in pools]
        if "gateway_ip" in changes and changes["gateway_ip"] is not None:
            changes["gateway_ip"] = ipam.check_gateway(network_ip, changes["gateway_ip"])
            number = int(ipaddress.ip_address(changes["gateway_ip"]))
            if any(p.start <= number <= p.end for p in pools_of({**current, **changes})):
                raise ipam.IpamError("GatewayConflictWithAllocationPools",
                                     f"Gateway ip {changes['gateway_ip']} conflicts with "
                                     "allocation pool")
    except ipam.IpamError as error:
        raise from_ipam(error) from None
    _check_lists(current["ip_version"], changes)
    return await common.update(conn, "subnet", current, changes)


async def delete(conn: AsyncConnection, current: Row) -> None:
    busy = await conn.scalar(
        sa.select(sa.func.count()).select_from(ip_allocation.join(
            port, port.c.id == ip_allocation.c.port_id))
        .where(ip_allocation.c.subnet_id == current["id"],
               port.c.device_owner != "network:dhcp"))
    if busy:
        raise conflict(f"Unable to complete operation on subnet {current['id']}: One or "
                       "more ports have an IP allocation from this subnet.", "SubnetInUse")
    await common.delete(conn, "subnet", current["id"])


# -- subnet pools ------------------------------------------------------------------------
async def create_pool(net: Networking, conn: AsyncConnection, project_id: str, body: Row
                      ) -> Row:
    prefixes = body.get("prefixes")
    if not prefixes or not isinstance(prefixes, list):
        raise bad_request("prefixes: a subnet pool needs at least one prefix")
    parsed = [ipam.parse_cidr(p) for p in prefixes]
    versions = {p.version for p in parsed}
    if len(versions) != 1:
        raise bad_request("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
    version = versions.pop()
    biggest = 32 if version == 4 else 128
    smallest_prefix = min(p.prefixlen for p in parsed)
    min_len = int(body.get("min_prefixlen", 8 if version == 4 else 64))
    max_len = int(body.get("max_prefixlen", biggest))
    default = int(body.get("default_prefixlen", min_len))
    if not (0 <= min_len <= default <= max_len <= biggest):
        raise bad_request("Illegal prefix bounds")
    values = {"project_id": project_id, "name": body.get("name") or "",
              "description": body.get("description") or "",
              "prefixes": [str(p) for p in ipaddress.collapse_addresses(parsed)],
              "ip_version": version, "default_prefixlen": default,
              "min_prefixlen": max(min_len, 0), "max_prefixlen": max_len,
              "shared": bool(body.get("shared", False)),
              "is_default": bool(body.get("is_default", False)),
              "default_quota": body.get("default_quota"),
              "address_scope_id": body.get("address_scope_id")}
    del smallest_prefix
    return await common.insert(conn, "subnetpool", values)


async def update_pool(conn: AsyncConnection, current: Row, body: Row) -> Row:
    changes = {k: v for k, v in body.items() if k in {
        "name", "description", "default_prefixlen", "min_prefixlen", "max_prefixlen",
        "is_default", "default_quota", "address_scope_id"}}
    if "prefixes" in body:
        parsed = [ipam.parse_cidr(p) for p in body["prefixes"]]
        old = [ipaddress.ip_network(p) for p in current["prefixes"]]
        if not all(any(o.subnet_of(n) for n in parsed) for o in old):  # type: ignore[arg-type]
            raise bad_request("Existing prefixes must be a subset of the new prefixes")
        changes["prefixes"] = [str(p) for p in ipaddress.collapse_addresses(parsed)]
    return await common.update(conn, "subnetpool", current, changes)
