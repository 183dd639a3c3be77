"""Routers: a ``qrouter-`` namespace per router, forwarding between its interfaces
(``qr-`` veths into the networks' bridges, holding the subnets' gateway addresses)
and its external gateway (``qg-``, in the external network's bridge, holding the
gateway address and every floating IP as /32); a default route via the external
subnet's gateway and the router's static routes; NAT in one nftables table:
DNAT and SNAT for floating IPs, and SNAT of everything else leaving by the gateway
when ``enable_snat``."""

from __future__ import annotations

from dataclasses import dataclass, field

from onestack.network.drivers.linux import netlink, proc


@dataclass
class Interface:
    host_device: str  # the veth end in the bridge (host namespace)
    device: str  # qr-/qg- + port, inside the router namespace
    bridge: str
    mtu: int
    mac: str
    addresses: list[str]  # CIDRs


@dataclass
class FloatingIP:
    address: str
    fixed: str


@dataclass
class RouterPlan:
    router_id: str
    namespace: str
    interfaces: list[Interface] = field(default_factory=list)
    gateway: Interface | None = None
    gateway_ip: str = ""  # the router's own external address (SNAT source)
    snat: bool = True
    floating: list[FloatingIP] = field(default_factory=list)
    routes: list[tuple[str, str]] = field(default_factory=list)


def nat_script(plan: RouterPlan) -> str:
    table = "onestack_nat"
    out = [f"table ip {table}", f"delete table ip {table}", f"table ip {table} {{",
           "  chain pre {", "    type nat hook prerouting priority dstnat; policy accept;"]
    for fip in plan.floating:
        out.append(f"    ip daddr {fip.address} dnat to {fip.fixed}")
    out += ["  }", "  chain out {", "    type nat hook output priority -100; policy accept;"]
    for fip in plan.floating:
        out.append(f"    ip daddr {fip.address} dnat to {fip.fixed}")
    out += ["  }", "  chain post {", "    type nat hook postrouting priority srcnat; "
            "policy accept;"]
    if plan.gateway is not None:
        device = plan.gateway.device
        for fip in plan.floating:
            out.append(f'    oifname "{device}" ip saddr {fip.fixed} snat to {fip.address}')
        if plan.snat and plan.gateway_ip:
            out.append(f'    oifname "{device}" ct status dnat accept')
            out.append(f'    oifname "{device}" snat to {plan.gateway_ip}')
    out += ["  }", "}"]
    return "\n".join(out) + "\n"


async def ensure(host_ns: str, plan: RouterPlan) -> None:
    await netlink.run(netlink.ensure_ns, plan.namespace)
    await proc.sysctl(plan.namespace, {"net.ipv4.ip_forward": "1",
                                       "net.ipv6.conf.all.forwarding": "1"})
    wanted = [*plan.interfaces, *([plan.gateway] if plan.gateway else [])]
    for iface in wanted:
        await netlink.run(netlink.ensure_veth, host_ns, iface.host_device, plan.namespace,
                          iface.device, iface.bridge, iface.mtu, iface.mac)
        addresses = list(iface.addresses)
        if iface is plan.gateway:
            addresses += [f"{f.address}/32" for f in plan.floating]
        await netlink.run(netlink.sync_addresses, plan.namespace, iface.device, addresses)
    names = {i.device for i in wanted}
    present = await netlink.run(netlink.links, plan.namespace)
    for name in present:
        if name[:3] in ("qr-", "qg-") and name not in names:
            await netlink.run(netlink.delete_link, plan.namespace, name)
    await netlink.run(netlink.sync_routes, plan.namespace, plan.routes)
    await proc.nft(plan.namespace, nat_script(plan))


async def remove(namespace: str) -> None:
    proc.kill_ns_processes(namespace)
    await netlink.run(netlink.remove_ns, namespace)
