"""Networks and their segment: provider types, segmentation ids from configured
ranges, MTU."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.db import is_duplicate
from onestack.network.models import ip_allocation, port, segment_allocation, subnet
from onestack.network.objects import common, quotas
from onestack.network.objects.common import Row, bad_request, conflict

if TYPE_CHECKING:
    from onestack.network.service import Networking

PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
VXLAN_OVERHEAD = 50
# Ports that go with the network rather than hold it in use.
NETWORK_OWNED = ("network:dhcp", "network:floatingip")


def vxlan_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for item in text.split(","):
        if item.strip():
            first, _, last = item.partition(":")
            ranges.append((int(first), int(last or first)))
    return ranges


def max_mtu(net: Networking, network_type: str) -> int:
    mtu = net.settings.default_mtu
    return mtu - VXLAN_OVERHEAD if network_type == "vxlan" else mtu


async def _claim(conn: AsyncConnection, kind: str, physnet: str, ident: int,
                 network_id: str) -> bool:
    try:
        async with conn.begin_nested():
            await conn.execute(sa.insert(segment_allocation).values(
                network_type=kind, physical_network=physnet, segmentation_id=ident,
                network_id=network_id))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            return False
        raise
    return True


async def allocate_segment(net: Networking, conn: AsyncConnection, network_id: str,
                           body: Row) -> dict[str, Any]:
    settings = net.settings
    kind = body.get("provider:network_type") or settings.tenant_network_type
    physnet = body.get("provider:physical_network")
    seg_id = body.get("provider:segmentation_id")
    supported = {t.strip() for t in settings.network_types.split(",") if t.strip()}
    supported &= set(net.backend.network_types)
    if kind not in supported:
        raise bad_request(f"network_type value '{kind}' not supported")
    if kind in ("local", "vxlan") and physnet:
        raise bad_request(f"provider:physical_network specified for {kind} network")
    if kind in ("flat", "vlan"):
        if not physnet:
            raise bad_request(f"provider:physical_network required for {kind} provider "
                              "network")
        if physnet not in settings.physical_networks:
            raise bad_request(f"physical_network '{physnet}' unknown for {kind} provider "
                              "network")
    if kind in ("local", "flat") and seg_id is not None:
        raise bad_request(f"provider:segmentation_id specified for {kind} network")
    if kind == "flat":
        if not await _claim(conn, "flat", physnet, 0, network_id):
            raise conflict(f"Unable to create the flat network. Physical network {physnet} "
                           "is in use.", "FlatNetworkInUse")
    elif kind == "vlan":
        if not isinstance(seg_id, int) or not 1 <= seg_id <= 4094:
            raise bad_request("provider:segmentation_id out of range (1 through 4094)")
        if not await _claim(conn, "vlan", physnet, seg_id, network_id):
            raise conflict(f"Unable to create the network. The VLAN {seg_id} on physical "
                           f"network {physnet} is in use.", "VlanIdInUse")
    elif kind == "vxlan":
        if seg_id is not None:
            if not isinstance(seg_id, int) or not 1 <= seg_id < 2 ** 24:
                raise bad_request(f"{seg_id} is not a valid VXLAN VNI")
            if not await _claim(conn, "vxlan", "", seg_id, network_id):
                raise conflict(f"Unable to create the network. The tunnel ID {seg_id} is "
                               "in use.", "TunnelIdInUse")
        else:
            seg_id = await _free_vni(conn, settings.vxlan_ranges, network_id)
    return {"provider:network_type": kind, "provider:physical_network": physnet,
            "provider:segmentation_id": seg_id}


async def _free_vni(conn: AsyncConnection, ranges: str, network_id: str) -> int:
    used = {r[0] for r in await conn.execute(
        sa.select(segment_allocation.c.segmentation_id)
        .where(segment_allocation.c.network_type == "vxlan"))}
    for first, last in vxlan_ranges(ranges):
        for vni in range(first, last + 1):
            if vni not in used and await _claim(conn, "vxlan", "", vni, network_id):
                return vni
    raise conflict("Unable to create the network. No tenant network is available for "
                   "allocation.", "NoNetworkAvailable")


async def create(net: Networking, conn: AsyncConnection, project_id: str, body: Row) -> Row:
    await quotas.check(net, conn, project_id, "network")
    network_id = common.new_id()
    segment = await allocate_segment(net, conn, network_id, body)
    limit = max_mtu(net, segment["provider:network_type"])
    mtu = body.get("mtu", limit)
    if not isinstance(mtu, int) or mtu < 68 or mtu > limit:
        raise bad_request(f"Requested MTU is too big, maximum is {limit}"
                          if isinstance(mtu, int) and mtu > limit else f"Invalid MTU {mtu}")
    values = {
        "id": network_id, "project_id": project_id, "name": body.get("name") or "",
        "description": body.get("description") or "",
        "admin_state_up": bool(body.get("admin_state_up", True)),
        "shared": bool(body.get("shared", False)),
        "router:external": bool(body.get("router:external", False)),
        "mtu": mtu, "port_security_enabled": bool(body.get("port_security_enabled", True)),
        "availability_zone_hints": list(body.get("availability_zone_hints") or []),
        "is_default": bool(body.get("is_default", False)),
        "dns_domain": body.get("dns_domain") or "", **segment,
    }
    return await common.insert(conn, "network", values)


UPDATABLE = {"name", "description", "admin_state_up", "shared", "router:external", "mtu",
             "port_security_enabled", "is_default", "dns_domain", "availability_zone_hints"}


async def update(net: Networking, conn: AsyncConnection, current: Row, body: Row) -> Row:
    if any(k in body for k in PROVIDER):
        raise bad_request("Plugin does not support updating provider attributes")
    unknown = set(body) - UPDATABLE - {"id", "project_id", "tenant_id"}
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'",
                          "HTTPBadRequest")
    if "mtu" in body:
        limit = max_mtu(net, current["provider:network_type"])
        if not isinstance(body["mtu"], int) or not 68 <= body["mtu"] <= limit:
            raise bad_request(f"Requested MTU is too big, maximum is {limit}")
    changes = {k: v for k, v in body.items() if k in UPDATABLE}
    return await common.update(conn, "network", current, changes)


async def delete(net: Networking, conn: AsyncConnection, current: Row) -> list[Row]:
    """Remove the network with its subnets and network-owned ports; a port in use
    keeps it (409 NetworkInUse). Returns the subnets removed."""
    busy = await conn.scalar(sa.select(sa.func.count()).select_from(port).where(
        port.c.network_id == current["id"], port.c.device_owner.notin_(NETWORK_OWNED)))
    if busy:
        raise conflict(f"Unable to complete operation on network {current['id']}. There "
                       "are one or more ports still in use on the network.", "NetworkInUse")
    subnets = await common.find(conn, "subnet", network_id=current["id"])
    for fip in await common.find(conn, "floatingip", floating_network_id=current["id"]):
        await common.delete(conn, "floatingip", fip["id"])
        await net.backend.floatingip_deleted(fip)
    await conn.execute(sa.delete(ip_allocation).where(
        ip_allocation.c.network_id == current["id"]))
    await conn.execute(sa.delete(port).where(port.c.network_id == current["id"]))
    await conn.execute(sa.delete(subnet).where(subnet.c.network_id == current["id"]))
    await conn.execute(sa.delete(segment_allocation).where(
        segment_allocation.c.network_id == current["id"]))
    await common.delete(conn, "network", current["id"])
    return subnets


async def subnet_ids(conn: AsyncConnection, network_ids: list[str] | None = None
                     ) -> dict[str, list[str]]:
    query = sa.select(subnet.c.network_id, subnet.c.id).order_by(subnet.c.created_at)
    if network_ids is not None:
        query = query.where(subnet.c.network_id.in_(network_ids))
    found: dict[str, list[str]] = {}
    for network_id, subnet_id in await conn.execute(query):
        found.setdefault(network_id, []).append(subnet_id)
    return found
