"""A guest's ports as the metadata documents need them: the networking service's
port views (addresses, MAC, binding, floating IPs) with, for each, its network's MTU
and the details of the subnets of its fixed IPs. Asked of the networking service
through its rpcapi, so the agent (for the config drive) and the metadata API get the
same thing."""

from __future__ import annotations

from typing import Any

from onestack.network.rpcapi import NetworkAPI

Ctx = dict[str, Any]

# Who asks: the ports of a guest may sit on another project's shared network.
SYSTEM_CONTEXT: Ctx = {"user_id": "nova", "roles": ["admin", "service"],
                       "project_id": None, "request_id": ""}


async def guest_ports(network: NetworkAPI, device_id: str,
                      ctx: Ctx | None = None) -> list[dict[str, Any]]:
    """The ports of server ``device_id`` (oldest first), each the rpcapi's port view
    plus ``mtu`` (its network's, None if unknown) and ``subnets``: {subnet id:
    get_subnets' view} for the subnets of its fixed IPs."""
    ctx = ctx or SYSTEM_CONTEXT
    return await with_subnets(network, await network.list_ports(ctx, device_id=device_id),
                              ctx)


async def with_subnets(network: NetworkAPI, ports: list[dict[str, Any]],
                       ctx: Ctx | None = None) -> list[dict[str, Any]]:
    """``ports`` (port views, e.g. an instance's network_info) with ``mtu`` and
    ``subnets`` added, as guest_ports gives them."""
    ctx = ctx or SYSTEM_CONTEXT
    subnet_ids = sorted({ip["subnet_id"] for port in ports
                         for ip in port.get("fixed_ips") or [] if ip.get("subnet_id")})
    subnets = {s["id"]: s for s in await network.get_subnets(ctx, subnet_ids)} \
        if subnet_ids else {}
    mtus: dict[str, int | None] = {}
    for network_id in dict.fromkeys(p["network_id"] for p in ports):
        found = await network.get_network(ctx, network_id)
        mtus[network_id] = (found or {}).get("mtu")
    return [{**port, "mtu": mtus.get(port["network_id"]),
             "subnets": {ip["subnet_id"]: subnets[ip["subnet_id"]]
                         for ip in port.get("fixed_ips") or []
                         if ip.get("subnet_id") in subnets}}
            for port in ports]
