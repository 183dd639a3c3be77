"""Security groups and rules: the ``default`` group of a project, made on first use
with its standard rules; protocol names and numbers, port ranges, ethertypes,
remote groups and prefixes; duplicates are 409 SecurityGroupRuleExists."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.network.models import default_security_group, port_security_group
from onestack.network.objects import common, locks, quotas
from onestack.network.objects.common import Row, bad_request, conflict

if TYPE_CHECKING:
    from onestack.network.service import Networking

PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
             "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
             "vrrp": 112}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ICMP_PROTOCOLS = {1, 58}
ETHERTYPES = {"ipv4": "IPv4", "ipv6": "IPv6"}
RULE_KEYS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
             "remote_ip_prefix", "remote_group_id", "remote_address_group_id")


async def default_group_id(conn: AsyncConnection, project_id: str, *, latest: bool = False
                           ) -> str | None:
    """``latest``: a locking read, which sees a row another transaction committed
    after this one began (MariaDB's repeatable reads would not otherwise; and
    PostgreSQL reads what is committed at every statement)."""
    query = sa.select(default_security_group.c.security_group_id).where(
        default_security_group.c.project_id == project_id)
    return await conn.scalar(query.with_for_update(read=True) if latest else query)


async def ensure_default(net: Networking, conn: AsyncConnection, project_id: str) -> str:
    """The project's default group, created with its rules when missing (in the
    caller's write transaction)."""
    found = await default_group_id(conn, project_id)
    if found:
        return found
    await locks.take_turn(conn, project_id, "default_security_group")
    found = await default_group_id(conn, project_id, latest=True)
    if found:  # made by the transaction that had the turn before
        return found
    group = await common.insert(conn, "security_group", {
        "project_id": project_id, "name": "default",
        "description": "Default security group", "stateful": True, "shared": False})
    await conn.execute(sa.insert(default_security_group).values(
        project_id=project_id, security_group_id=group["id"]))
    for ethertype in ("IPv4", "IPv6"):
        await _insert_rule(conn, group, {"direction": "egress", "ethertype": ethertype})
        await _insert_rule(conn, group, {"direction": "ingress", "ethertype": ethertype,
                                         "remote_group_id": group["id"]})
    await net.backend.security_group_changed(group, await rules_of(conn, [group["id"]]))
    return str(group["id"])


async def rules_of(conn: AsyncConnection, group_ids: list[str]) -> list[Row]:
    if not group_ids:
        return []
    return sorted(await common.find(conn, "security_group_rule", security_group_id=group_ids),
                  key=lambda r: r["created_at"])


async def _insert_rule(conn: AsyncConnection, group: Row, values: Row) -> Row:
    rule = {key: values.get(key) for key in RULE_KEYS}
    return await common.insert(conn, "security_group_rule", {
        **rule, "project_id": group["project_id"], "security_group_id": group["id"],
        "description": values.get("description") or "",
        "normalized_cidr": _normalized(rule.get("remote_ip_prefix"))})


def _normalized(prefix: str | None) -> str | None:
    if prefix is None:
        return None
    return str(ipaddress.ip_network(prefix, strict=False))


async def create_group(net: Networking, conn: AsyncConnection, project_id: str, body: Row
                       ) -> Row:
    await ensure_default(net, conn, project_id)
    if body.get("name") == "default":
        raise conflict("Default security group already exists.",
                       "SecurityGroupDefaultAlreadyExists")
    await quotas.check(net, conn, project_id, "security_group")
    group = await common.insert(conn, "security_group", {
        "project_id": project_id, "name": body.get("name") or "",
        "description": body.get("description") or "",
        "stateful": bool(body.get("stateful", True)), "shared": False})
    for ethertype in ("IPv4", "IPv6"):
        await _insert_rule(conn, group, {"direction": "egress", "ethertype": ethertype})
    await net.backend.security_group_changed(group, await rules_of(conn, [group["id"]]))
    return group


async def update_group(conn: AsyncConnection, current: Row, body: Row) -> Row:
    if current["name"] == "default" and body.get("name", "default") != "default":
        raise conflict("Updating default security group not allowed.",
                       "SecurityGroupCannotUpdateDefault")
    if current["name"] != "default" and body.get("name") == "default":
        raise conflict("Default security group already exists.",
                       "SecurityGroupDefaultAlreadyExists")
    changes = {k: v for k, v in body.items() if k in ("name", "description", "stateful")}
    return await common.update(conn, "security_group", current, changes)


async def delete_group(net: Networking, conn: AsyncConnection, current: Row,
                       is_admin: bool) -> None:
    if current["id"] == await default_group_id(conn, current["project_id"]) and not is_admin:
        raise conflict("Insufficient rights for removing default security group.",
                       "SecurityGroupCannotRemoveDefault")
    in_use = await conn.scalar(sa.select(port_security_group.c.port_id).where(
        port_security_group.c.security_group_id == current["id"]).limit(1))
    if in_use is not None:
        raise conflict(f"Security Group {current['id']} in use.", "SecurityGroupInUse")
    await conn.execute(sa.delete(default_security_group).where(
        default_security_group.c.security_group_id == current["id"]))
    for rule in await rules_of(conn, [current["id"]]):
        await common.delete(conn, "security_group_rule", rule["id"])
    await common.delete(conn, "security_group", current["id"])
    await net.backend.security_group_deleted(current)


def _protocol(value: Any) -> tuple[str | None, int | None]:
    if value is None or value == "" or str(value).lower() == "any":
        return None, None
    text = str(value).lower()
    if text in PROTOCOLS:
        return text, PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text, int(text)
    raise bad_request(f"Security group rule protocol {value} not supported. Only protocol "
                      f"values {sorted(PROTOCOLS)} and integer representations [0 to 255] are "
                      "supported.", "SecurityGroupRuleInvalidProtocol")


def _port(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid value for port {value}") from None
    return number


def check_rule(body: Row) -> Row:
    direction = body.get("direction")
    if direction not in ("ingress", "egress"):
        raise bad_request(f"{direction} is not in ['ingress', 'egress']")
    ethertype = ETHERTYPES.get(str(body.get("ethertype") or "IPv4").lower())
    if ethertype is None:
        raise bad_request(f"{body.get('ethertype')} is not in ['IPv4', 'IPv6']",
                          "SecurityGroupRuleInvalidEtherType")
    protocol, number = _protocol(body.get("protocol"))
    low = _port(body.get("port_range_min"), "port_range_min")
    high = _port(body.get("port_range_max"), "port_range_max")
    if (low is not None or high is not None) and protocol is None:
        raise bad_request("Must also specify protocol if port range is given.",
                          "SecurityGroupProtocolRequiredWithPorts")
    if number in PORT_PROTOCOLS:
        for port in (low, high):
            if port is not None and not 1 <= port <= 65535:
                raise bad_request(f"Invalid value for port {port}",
                                  "SecurityGroupInvalidPortValue")
        if high is not None and low is None:
            raise bad_request("For TCP/UDP protocols, port_range_min must be <= "
                              "port_range_max", "SecurityGroupInvalidPortRange")
        if low is not None and high is not None and low > high:
            raise bad_request("For TCP/UDP protocols, port_range_min must be <= "
                              "port_range_max", "SecurityGroupInvalidPortRange")
    elif number in ICMP_PROTOCOLS:
        for port, what, field in ((low, "type", "port_range_min"),
                                  (high, "code", "port_range_max")):
            if port is not None and not 0 <= port <= 255:
                raise bad_request(f"Invalid value for ICMP {what} ({field}) {port}. It must "
                                  "be 0 to 255.", "SecurityGroupInvalidIcmpValue")
        if high is not None and low is None:
            raise bad_request(f"ICMP code (port-range-max) {high} is provided but ICMP type "
                              "(port-range-min) is missing.", "SecurityGroupMissingIcmpType")
        if number == 58 and ethertype == "IPv4":
            raise bad_request(f"Ethertype IPv4 is not supported by protocol {protocol}.",
                              "SecurityGroupEthertypeConflictWithProtocol")
    elif (low is not None or high is not None) and protocol is not None:
        raise bad_request(f"Protocol {protocol} does not support port ranges.",
                          "SecurityGroupInvalidProtocolForPort")
    prefix = body.get("remote_ip_prefix")
    if prefix is not None and body.get("remote_group_id"):
        raise bad_request("Only remote_ip_prefix or remote_group_id may be provided.",
                          "SecurityGroupRemoteGroupAndRemoteIpPrefix")
    if prefix is not None:
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise bad_request(f"'{prefix}' is not a valid IP subnet") from None
        if (network.version == 4) != (ethertype == "IPv4"):
            raise bad_request(f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                              "SecurityGroupRuleParameterConflict")
    return {"direction": direction, "ethertype": ethertype, "protocol": protocol,
            "port_range_min": low, "port_range_max": high, "remote_ip_prefix": prefix,
            "remote_group_id": body.get("remote_group_id"),
            "remote_address_group_id": body.get("remote_address_group_id"),
            "description": body.get("description") or ""}


def _same(a: Row, b: Row) -> bool:
    def key(rule: Row) -> tuple[Any, ...]:
        protocol = rule.get("protocol")
        number = PROTOCOLS.get(protocol, protocol) if protocol else None
        return (rule["direction"], rule["ethertype"], str(number) if number is not None
                else None, rule.get("port_range_min"), rule.get("port_range_max"),
                _normalized(rule.get("remote_ip_prefix")), rule.get("remote_group_id"))
    return key(a) == key(b)


async def create_rule(net: Networking, conn: AsyncConnection, group: Row, body: Row) -> Row:
    rule = check_rule(body)
    if rule["remote_group_id"]:
        await common.get(conn, "security_group", rule["remote_group_id"])
    await quotas.check(net, conn, group["project_id"], "security_group_rule")
    for existing in await rules_of(conn, [group["id"]]):
        if _same(existing, rule):
            raise conflict(f"Security group rule already exists. Rule id is "
                           f"{existing['id']}.", "SecurityGroupRuleExists")
    created = await _insert_rule(conn, group, rule)
    await net.backend.security_group_changed(group, await rules_of(conn, [group["id"]]))
    return created


async def delete_rule(net: Networking, conn: AsyncConnection, rule: Row) -> None:
    await common.delete(conn, "security_group_rule", rule["id"])
    group = await common.get(conn, "security_group", rule["security_group_id"])
    await net.backend.security_group_changed(group, await rules_of(conn, [group["id"]]))
