"""What the database wants of one host's dataplane: one consistent read of the
networking tables (``load``), and the plans built from it for the bridges, DHCP
servers, routers and firewall of that host."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from onestack.kernel.db import Database
from onestack.network.drivers.linux import l3
from onestack.network.drivers.linux.firewall import PortFilter, port_filter
from onestack.network.drivers.linux.names import Names, inner_name
from onestack.network.models import agent
from onestack.network.objects import common

Row = dict[str, Any]
DHCP_OWNER = "network:dhcp"
GATEWAY_OWNER = "network:router_gateway"
INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                    "network:ha_router_replicated_interface")
LINUX_AGENT = "Linux bridge agent"


@dataclass
class Snapshot:
    networks: dict[str, Row]
    subnets: dict[str, Row]
    ports: dict[str, Row]
    routers: dict[str, Row]
    floatingips: list[Row]
    rules: dict[str, list[Row]]  # security group id -> its rules
    agents: list[Row]
    by_network: dict[str, list[Row]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for port in sorted(self.ports.values(), key=lambda p: p["id"]):
            self.by_network.setdefault(port["network_id"], []).append(port)

    def subnets_of(self, network_id: str) -> list[Row]:
        return sorted((s for s in self.subnets.values() if s["network_id"] == network_id),
                      key=lambda s: s["created_at"])

    def dhcp_subnets(self, network_id: str) -> list[Row]:
        return [s for s in self.subnets_of(network_id)
                if s.get("enable_dhcp") and s["ip_version"] == 4]

    def cidr(self, fixed_ip: Row) -> str:
        subnet = self.subnets.get(fixed_ip["subnet_id"])
        prefix = ipaddress.ip_network(subnet["cidr"]).prefixlen if subnet else 32
        return f"{fixed_ip['ip_address']}/{prefix}"


async def load(db: Database) -> Snapshot:
    """One read of everything; on SQLite inside a write transaction, so that it
    comes after the write whose change asked for this pass."""
    async with db.writer() as conn:
        rules: dict[str, list[Row]] = {}
        for rule in sorted(await common.find(conn, "security_group_rule"),
                           key=lambda r: (r["created_at"], r["id"])):
            rules.setdefault(rule["security_group_id"], []).append(rule)
        return Snapshot(
            networks={r["id"]: r for r in await common.find(conn, "network")},
            subnets={r["id"]: r for r in await common.find(conn, "subnet")},
            ports={r["id"]: r for r in await common.find(conn, "port")},
            routers={r["id"]: r for r in await common.find(conn, "router")},
            floatingips=await common.find(conn, "floatingip"), rules=rules,
            agents=[dict(r._mapping) for r in await conn.execute(
                sa.select(agent).where(agent.c.agent_type == LINUX_AGENT))])


def bridge_of(names: Names, network: Row, mappings: dict[str, str]) -> str:
    if network.get("provider:network_type") == "flat":
        return mappings.get(network.get("provider:physical_network") or "", "")
    return names.bridge(network["id"])


def is_guest(port: Row) -> bool:
    return not (port.get("device_owner") or "").startswith("network:")


@dataclass
class HostPlan:
    """What one host runs."""

    guests: list[Row]  # guest ports bound here
    networks: dict[str, Row]  # network id -> network, for every bridge wanted
    dhcp: dict[str, Row]  # network id -> its DHCP port
    routers: list[l3.RouterPlan]
    filters: list[PortFilter]
    members: dict[str, list[str]]  # security group -> addresses of its ports
    peers: list[str]  # VTEPs of the other hosts


def dhcp_device_id(host_id: str, network_id: str) -> str:
    return f"dhcp{host_id}-{network_id}"


def router_plans(names: Names, snap: Snapshot, mappings: dict[str, str]) -> list[l3.RouterPlan]:
    plans = []
    for router in sorted(snap.routers.values(), key=lambda r: r["id"]):
        if not router.get("admin_state_up", True):
            continue
        plan = l3.RouterPlan(router["id"], names.router_ns(router["id"]),
                             routes=[(r["destination"], r["nexthop"])
                                     for r in router.get("routes") or []])
        info = router.get("external_gateway_info") or {}
        plan.snat = bool(info.get("enable_snat", True))
        for port in snap.ports.values():
            if port["device_id"] != router["id"]:
                continue
            network = snap.networks.get(port["network_id"])
            if network is None or not bridge_of(names, network, mappings):
                continue
            gateway = port["device_owner"] == GATEWAY_OWNER
            if not gateway and port["device_owner"] not in INTERFACE_OWNERS:
                continue
            iface = l3.Interface(
                names.dev("g" if gateway else "r", port["id"]),
                inner_name("qg-" if gateway else "qr-", port["id"]),
                bridge_of(names, network, mappings), int(network.get("mtu") or 1500),
                port["mac_address"], [snap.cidr(ip) for ip in port["fixed_ips"]])
            if not gateway:
                plan.interfaces.append(iface)
                continue
            plan.gateway = iface
            for ip in port["fixed_ips"]:
                subnet = snap.subnets.get(ip["subnet_id"])
                if subnet and subnet["ip_version"] == 4:
                    plan.gateway_ip = plan.gateway_ip or ip["ip_address"]
                    if subnet.get("gateway_ip"):
                        plan.routes.insert(0, ("0.0.0.0/0", subnet["gateway_ip"]))
        plan.interfaces.sort(key=lambda i: i.device)
        if plan.gateway is not None:
            plan.floating = [l3.FloatingIP(f["floating_ip_address"], f["fixed_ip_address"])
                             for f in sorted(snap.floatingips, key=lambda f: f["id"])
                             if f.get("router_id") == router["id"] and f.get("port_id")
                             and f.get("fixed_ip_address")]
        plans.append(plan)
    return plans


def plan_host(names: Names, snap: Snapshot, host: str, host_id: str, *, dhcp: bool,
              l3_agent: bool, mappings: dict[str, str], local_ip: str,
              static_peers: list[str]) -> HostPlan:
    guests = [p for p in snap.ports.values()
              if p.get("binding:host_id") == host and is_guest(p)]
    wanted = {p["network_id"] for p in guests}
    dhcp_ports: dict[str, Row] = {}
    if dhcp:
        for port in snap.ports.values():
            if port["device_owner"] == DHCP_OWNER and \
                    port["device_id"] == dhcp_device_id(host_id, port["network_id"]) and \
                    snap.dhcp_subnets(port["network_id"]):
                dhcp_ports[port["network_id"]] = port
        wanted |= set(dhcp_ports)
    routers = router_plans(names, snap, mappings) if l3_agent else []
    if l3_agent:
        for router in snap.routers.values():
            for port in snap.ports.values():
                if port["device_id"] == router["id"] and (
                        port["device_owner"] in INTERFACE_OWNERS
                        or port["device_owner"] == GATEWAY_OWNER):
                    wanted.add(port["network_id"])
    networks = {n: snap.networks[n] for n in sorted(wanted) if n in snap.networks
                and bridge_of(names, snap.networks[n], mappings)}
    filters = [port_filter(p) for p in sorted(guests, key=lambda p: p["id"])]
    remote = {r["remote_group_id"] for f in filters for g in f.groups
              for r in snap.rules.get(g, []) if r.get("remote_group_id")}
    members: dict[str, list[str]] = {g: [] for g in remote}
    for port in snap.ports.values():
        for group in port.get("security_groups") or []:
            if group in members:
                members[group] += port_filter(port).addresses
    peers = set(static_peers)
    for row in snap.agents:
        tunnel = (row.get("configurations") or {}).get("tunneling_ip")
        if row["host"] != host and tunnel:
            peers.add(tunnel)
    peers.discard(local_ip)
    return HostPlan(guests, networks, dhcp_ports, routers, filters, members, sorted(peers))
