"""Namespaces, links, addresses, routes and FDB entries through pyroute2 (netlink).

Every function here is blocking and idempotent; the backend runs them one at a time
on a single worker thread (``run``), so netlink never blocks the event loop and
operations never interleave. A namespace argument of ``""`` is the root namespace."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

log = logging.getLogger(__name__)
T = TypeVar("T")
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
NETNS_DIR = "/run/netns"
FLOOD = "00:00:00:00:00:00"
VXLAN_PORT = 4789


async def run(func: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_worker, func, *args)


@contextlib.contextmanager
def ipr(ns: str) -> Iterator[IPRoute]:
    with IPRoute(netns=ns) if ns else IPRoute() as sock:
        yield sock


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str
    master: int
    mtu: int
    mac: str
    up: bool
    vni: int | None = None
    local: str | None = None


def _kind(msg: Any) -> tuple[str, int | None, str | None]:
    info = msg.get_attr("IFLA_LINKINFO")
    if not info:
        return "", None, None
    kind = info.get_attr("IFLA_INFO_KIND") or ""
    if kind != "vxlan":
        return kind, None, None
    data = info.get_attr("IFLA_INFO_DATA")
    return kind, data.get_attr("IFLA_VXLAN_ID"), data.get_attr("IFLA_VXLAN_LOCAL")


def links(ns: str) -> dict[str, Link]:
    found = {}
    with ipr(ns) as sock:
        for msg in sock.get_links():
            kind, vni, local = _kind(msg)
            name = msg.get_attr("IFLA_IFNAME")
            found[name] = Link(msg["index"], name, kind, msg.get_attr("IFLA_MASTER") or 0,
                               msg.get_attr("IFLA_MTU") or 0,
                               msg.get_attr("IFLA_ADDRESS") or "",
                               bool(msg["flags"] & 1), vni, local)
    return found


def plugged(ns: str, device: str, bridge: str) -> bool:
    """Whether ``device`` is a port of ``bridge``."""
    with ipr(ns) as sock:
        found, master = sock.link_lookup(ifname=device), sock.link_lookup(ifname=bridge)
        if not found or not master:
            return False
        return bool(sock.get_links(found[0])[0].get_attr("IFLA_MASTER") == master[0])


# -- namespaces ------------------------------------------------------------------------------
def namespaces() -> list[str]:
    return sorted(netns.listnetns())


def ensure_ns(name: str) -> bool:
    """Make namespace ``name`` (with its loopback up); True when it was made now."""
    if not name or os.path.exists(os.path.join(NETNS_DIR, name)):
        return False
    netns.create(name)
    with ipr(name) as sock:
        sock.link("set", index=sock.link_lookup(ifname="lo")[0], state="up")
    return True


def remove_ns(name: str) -> None:
    if name and os.path.exists(os.path.join(NETNS_DIR, name)):
        netns.remove(name)


# -- links -----------------------------------------------------------------------------------
def delete_link(ns: str, name: str) -> None:
    with ipr(ns) as sock:
        found = sock.link_lookup(ifname=name)
        if found:
            with contextlib.suppress(NetlinkError):
                sock.link("del", index=found[0])


def ensure_bridge(ns: str, name: str, mtu: int | None = None) -> int:
    with ipr(ns) as sock:
        found = sock.link_lookup(ifname=name)
        if not found:
            sock.link("add", ifname=name, kind="bridge", br_forward_delay=0, br_stp_state=0)
            found = sock.link_lookup(ifname=name)
        changes: dict[str, Any] = {"state": "up"}
        if mtu:
            changes["mtu"] = mtu
        sock.link("set", index=found[0], **changes)
        return int(found[0])


def ensure_vxlan(ns: str, name: str, vni: int, local: str, mtu: int, bridge: str,
                 peers: list[str]) -> None:
    """A VXLAN device in ``bridge``, flooding unknown destinations to every peer VTEP
    (static all-zero FDB entries) and learning where MACs live from what arrives."""
    with ipr(ns) as sock:
        found = sock.get_links(ifname=name) if sock.link_lookup(ifname=name) else []
        if found:
            _, have_vni, have_local = _kind(found[0])
            if have_vni != vni or (have_local or "") != local:
                sock.link("del", index=found[0]["index"])
                found = []
        if not found:
            options: dict[str, Any] = {"vxlan_id": vni, "vxlan_port": VXLAN_PORT,
                                       "vxlan_learning": 1}
            if local:
                options["vxlan_local"] = local
            sock.link("add", ifname=name, kind="vxlan", **options)
        index = sock.link_lookup(ifname=name)[0]
        master = sock.link_lookup(ifname=bridge)[0]
        sock.link("set", index=index, mtu=mtu, master=master, state="up")
        have = set()
        for entry in sock.fdb("dump", ifindex=index):
            if entry.get_attr("NDA_LLADDR") == FLOOD and entry.get_attr("NDA_DST"):
                have.add(entry.get_attr("NDA_DST"))
        for peer in set(peers) - have:
            sock.fdb("append", ifindex=index, lladdr=FLOOD, dst=peer)
        for peer in have - set(peers):
            with contextlib.suppress(NetlinkError):
                sock.fdb("del", ifindex=index, lladdr=FLOOD, dst=peer)


def ensure_veth(host_ns: str, host_name: str, inner_ns: str, inner_name: str, bridge: str,
                mtu: int, mac: str) -> None:
    """A veth pair: ``host_name`` in ``bridge`` of the host namespace, ``inner_name``
    (with the port's MAC) in ``inner_ns``; both up."""
    with ipr(host_ns) as host:
        have_host = bool(host.link_lookup(ifname=host_name))
        with ipr(inner_ns) as inner:
            have_inner = bool(inner.link_lookup(ifname=inner_name))
            if not (have_host and have_inner):
                if have_host:
                    host.link("del", index=host.link_lookup(ifname=host_name)[0])
                if have_inner:
                    inner.link("del", index=inner.link_lookup(ifname=inner_name)[0])
                host.link("add", ifname=host_name, kind="veth",
                          peer={"ifname": inner_name, "net_ns_fd": inner_ns})
            index = inner.link_lookup(ifname=inner_name)[0]
            current = inner.get_links(index)[0]
            if current.get_attr("IFLA_ADDRESS") != mac:
                inner.link("set", index=index, state="down")
                inner.link("set", index=index, address=mac)
            inner.link("set", index=index, mtu=mtu, state="up")
        master = host.link_lookup(ifname=bridge)[0]
        host.link("set", index=host.link_lookup(ifname=host_name)[0], mtu=mtu,
                  master=master, state="up")


# -- addresses and routes -------------------------------------------------------------------------
def sync_addresses(ns: str, ifname: str, wanted: list[str]) -> None:
    """Exactly ``wanted`` (CIDRs "10.0.0.2/24") on ``ifname``; link-local v6 kept."""
    want = {str(ipaddress.ip_interface(a)) for a in wanted}
    with ipr(ns) as sock:
        index = sock.link_lookup(ifname=ifname)[0]
        have = {}
        for msg in sock.get_addr(index=index):
            text = f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}"
            if not ipaddress.ip_interface(text).is_link_local:
                have[str(ipaddress.ip_interface(text))] = msg
        for text in want - set(have):
            iface = ipaddress.ip_interface(text)
            with contextlib.suppress(NetlinkError):
                sock.addr("add", index=index, address=str(iface.ip),
                          prefixlen=iface.network.prefixlen)
        for text in set(have) - want:
            iface = ipaddress.ip_interface(text)
            with contextlib.suppress(NetlinkError):
                sock.addr("del", index=index, address=str(iface.ip),
                          prefixlen=iface.network.prefixlen)


def sync_routes(ns: str, wanted: list[tuple[str, str]]) -> None:
    """Exactly the gateway routes ``wanted`` ((destination CIDR, nexthop)) in the main
    table of ``ns`` (a namespace the backend owns); connected routes are the kernel's."""
    want = {(str(ipaddress.ip_network(d, strict=False)), g) for d, g in wanted}
    with ipr(ns) as sock:
        have = set()
        for family in (2, 10):
            for msg in sock.get_routes(family=family, table=254):
                gateway = msg.get_attr("RTA_GATEWAY")
                if not gateway:
                    continue
                dst = msg.get_attr("RTA_DST") or ("0.0.0.0" if family == 2 else "::")
                have.add((str(ipaddress.ip_network(f"{dst}/{msg['dst_len']}")), gateway))
        for dst, gateway in have - want:
            with contextlib.suppress(NetlinkError):
                sock.route("del", dst=dst, gateway=gateway)
        for dst, gateway in sorted(want - have, key=lambda r: r[0].endswith("/0")):
            try:
                sock.route("replace", dst=dst, gateway=gateway)
            except NetlinkError as error:
                log.warning("route %s via %s in %s: %s", dst, gateway, ns, error)
