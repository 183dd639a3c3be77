"""Security groups and anti-spoofing for the guest ports of one host, as two
nftables tables in the host namespace, each replaced whole and atomically.

- ``bridge`` table (stateless, sees the real bridge ports): anti-spoofing on what a
  guest sends (its MAC, its fixed IPs and allowed address pairs, ARP included; no
  DHCP or router advertisements served from a guest); taps not (yet) known to the
  firewall send nothing (``guard_taps``: every ``tap*`` bridge port of the host
  namespace is taken as the backend's); and a packet mark naming the
  guest port a bridged packet comes from (high 16 bits) and goes to (low 16 bits).
- ``inet`` table (stateful; bridged IP traffic reaches it through br_netfilter,
  whose conntrack gives ``ct state``): the security group rules of each port,
  dispatched on those marks, because the inet hooks see the bridge, not the port.
  A port's egress chain *returns* what it allows (so the receiving port's ingress
  chain still decides); its ingress chain accepts.

Ports with port security disabled are not filtered at all."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from onestack.network.drivers.linux.names import Names, tap_name

Row = dict[str, Any]
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "igmp": 2,
             "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
             "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ND_TYPES = ("nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit",
            "nd-router-advert", "mld-listener-query", "mld-listener-report",
            "mld2-listener-report")


@dataclass
class PortFilter:
    """What the firewall needs of one guest port."""

    port_id: str
    mac: str
    addresses: list[str]  # fixed IPs and allowed address pairs (IPs or CIDRs)
    macs: list[str]  # the port's MAC and those of its allowed address pairs
    groups: list[str]
    secure: bool

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)


@dataclass
class Ruleset:
    text: str
    ports: list[str] = field(default_factory=list)


def port_filter(port: Row) -> PortFilter:
    pairs = port.get("allowed_address_pairs") or []
    addresses = [ip["ip_address"] for ip in port.get("fixed_ips") or []]
    addresses += [p["ip_address"] for p in pairs]
    macs = [port["mac_address"]] + [p["mac_address"] for p in pairs if p.get("mac_address")]
    return PortFilter(port["id"], port["mac_address"], addresses, list(dict.fromkeys(macs)),
                      list(port.get("security_groups") or []),
                      bool(port.get("port_security_enabled", True)))


def _split(addresses: list[str]) -> tuple[list[str], list[str]]:
    v4, v6 = [], []
    for text in addresses:
        network = ipaddress.ip_network(text, strict=False)
        value = str(network.network_address) if network.prefixlen == network.max_prefixlen \
            else str(network)
        (v4 if network.version == 4 else v6).append(value)
    return sorted(set(v4)), sorted(set(v6))


def _set(values: list[str]) -> str:
    return "{ " + ", ".join(values) + " }"


def _quoted(values: list[str]) -> str:
    return "{ " + ", ".join(f'"{v}"' for v in values) + " }"


def group_sets(groups: list[str], members: dict[str, list[str]]) -> list[str]:
    """One address set per remote group and IP version (members: group id -> addresses)."""
    lines = []
    for group in groups:
        v4, v6 = _split(members.get(group, []))
        for version, kind, values in ((4, "ipv4_addr", v4), (6, "ipv6_addr", v6)):
            lines.append(f"  set {set_name(group, version)} {{")
            lines.append(f"    type {kind}; flags interval; auto-merge")
            if values:
                lines.append(f"    elements = {_set(values)}")
            lines.append("  }")
    return lines


def set_name(group: str, version: int) -> str:
    return f"g{group.replace('-', '')[:24]}_{version}"


def rule_match(rule: Row) -> str | None:
    """The nft match of one security group rule (None: it can match nothing)."""
    ingress = rule["direction"] == "ingress"
    version = 6 if rule.get("ethertype") == "IPv6" else 4
    parts = ["meta nfproto " + ("ipv6" if version == 6 else "ipv4")]
    ipkw = "ip6" if version == 6 else "ip"
    side = "saddr" if ingress else "daddr"
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        network = ipaddress.ip_network(prefix, strict=False)
        if network.version != version:
            return None
        if network.prefixlen:
            parts.append(f"{ipkw} {side} {network}")
    if rule.get("remote_group_id"):
        parts.append(f"{ipkw} {side} @{set_name(rule['remote_group_id'], version)}")
    protocol = rule.get("protocol")
    if protocol not in (None, "", "any"):
        text = str(protocol).lower()
        number = PROTOCOLS[text] if text in PROTOCOLS else int(text)
        if number == 1 and version == 6:
            number = 58
        low, high = rule.get("port_range_min"), rule.get("port_range_max")
        if number in (1, 58):
            icmp = "icmpv6" if number == 58 else "icmp"
            parts.append(f"meta l4proto {icmp}")
            if low is not None:
                parts.append(f"{icmp} type {int(low)}")
                if high is not None:
                    parts.append(f"{icmp} code {int(high)}")
        else:
            parts.append(f"meta l4proto {number}")
            if number in PORT_PROTOCOLS and low is not None:
                high = low if high is None else high
                parts.append(f"th dport {int(low)}" if low == high
                             else f"th dport {int(low)}-{int(high)}")
    return " ".join(parts)


def _antispoof(port: PortFilter) -> list[str]:
    v4, v6 = _split(port.addresses)
    chain = [f"  chain spoof_{port.port_id.replace('-', '')[:24]} {{",
             f"    ether saddr != {_set(port.macs)} drop",
             f"    arp saddr ether != {_set(port.macs)} drop",
             f"    arp saddr ip != {_set([*v4, '0.0.0.0'])} drop",
             "    ether type ip udp sport 67 drop",
             "    ether type ip6 udp sport 547 drop",
             "    ether type ip6 icmpv6 type nd-router-advert drop",
             "    ip saddr 0.0.0.0 udp dport 67 return"]
    chain.append(f"    ip saddr != {_set(v4)} drop" if v4 else "    ether type ip drop")
    chain.append(f"    ip6 saddr != {_set([*v6, 'fe80::/64', '::'])} drop")
    chain.append("  }")
    return chain


def render(names: Names, ports: list[PortFilter], rules: dict[str, list[Row]],
           members: dict[str, list[str]], guard_taps: bool = True) -> Ruleset:
    """The whole firewall of a host: an nft script replacing both tables."""
    l2, sg = names.table + "_l2", names.table + "_sg"
    secure = sorted((p for p in ports if p.secure), key=lambda p: p.port_id)
    marks = {p.port_id: index + 1 for index, p in enumerate(secure)}
    known = sorted(p.tap for p in ports)
    out = [f"table bridge {l2}", f"delete table bridge {l2}", f"table bridge {l2} {{"]
    for port in secure:
        out += _antispoof(port)
    out += ["  chain guard {",
            "    type filter hook prerouting priority -300; policy accept;"]
    for port in secure:
        out.append(f'    iifname "{port.tap}" jump spoof_{port.port_id.replace("-", "")[:24]}')
    if guard_taps:
        guard = '    iifname "tap*"'
        out.append(f"{guard} iifname != {_quoted(known)} drop" if known else f"{guard} drop")
    out += ["  }", "  chain marking {",
            "    type filter hook forward priority -300; policy accept;"]
    for port in secure:
        mark = marks[port.port_id]
        out.append(f'    iifname "{port.tap}" meta mark set meta mark | {mark << 16:#010x}')
        out.append(f'    oifname "{port.tap}" meta mark set meta mark | {mark:#010x}')
    out += ["  }", "}"]
    out += [f"table inet {sg}", f"delete table inet {sg}", f"table inet {sg} {{"]
    wanted_groups = sorted({r["remote_group_id"] for p in secure for g in p.groups
                            for r in rules.get(g, []) if r.get("remote_group_id")})
    out += group_sets(wanted_groups, members)
    out += ["  chain dispatch {", "    type filter hook forward priority 0; policy accept;"]
    for port in secure:
        mark = marks[port.port_id]
        out.append(f"    meta mark & 0xffff0000 == {mark << 16:#010x} jump out_{mark}")
    for port in secure:
        mark = marks[port.port_id]
        out.append(f"    meta mark & 0x0000ffff == {mark:#010x} jump in_{mark}")
    out.append("  }")
    for port in secure:
        mark = marks[port.port_id]
        chosen = [r for g in port.groups for r in rules.get(g, [])]
        out += [f"  chain out_{mark} {{", "    ct state established,related return",
                "    ct state invalid drop", "    udp sport 68 udp dport 67 return",
                f"    icmpv6 type {_set(list(ND_TYPES[:3]) + list(ND_TYPES[5:]))} return"]
        for rule in chosen:
            match = rule_match(rule) if rule["direction"] == "egress" else None
            if match is not None:
                out.append(f"    {match} return")
        out += ["    drop", "  }"]
        out += [f"  chain in_{mark} {{", "    ct state established,related accept",
                "    ct state invalid drop", "    udp sport 67 udp dport 68 accept",
                f"    icmpv6 type {_set(list(ND_TYPES))} accept"]
        for rule in chosen:
            match = rule_match(rule) if rule["direction"] == "ingress" else None
            if match is not None:
                out.append(f"    {match} accept")
        out += ["    drop", "  }"]
    out.append("}")
    return Ruleset("\n".join(out) + "\n", [p.port_id for p in ports])


def removal(names: Names) -> list[tuple[str, str]]:
    return [("bridge", names.table + "_l2"), ("inet", names.table + "_sg")]
