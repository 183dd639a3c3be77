"""The networking service's bus endpoints: what compute calls (through rpcapi.py) to
find the networks and security groups of its servers and to create, bind, unbind,
show and delete their ports; and the heartbeats of the backend's agents. Every
method goes through the same objects as the HTTP handlers; their API errors leave as
the registered refusals of errors.py."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.api import loopback
from onestack.kernel.api.faults import ApiError
from onestack.kernel.api.routing import Router
from onestack.kernel.auth import RequestContext
from onestack.kernel.bus import Target, connect
from onestack.kernel.bus.base import Endpoint
from onestack.kernel.db.retry import retry_on_deadlock
from onestack.network import errors
from onestack.network.objects import agents, common, networks, ports
from onestack.network.objects.common import Row
from onestack.network.objects.policy import Caller, caller_for
from onestack.network.objects.security_groups import default_group_id, ensure_default

if TYPE_CHECKING:
    from onestack.network.service import Networking

log = logging.getLogger(__name__)
TOPIC = "network"


PORT_KEYS = ("id", "project_id", "network_id", "mac_address", "fixed_ips", "device_id",
             "device_owner", "status", "security_groups", "binding:host_id",
             "binding:vif_type", "binding:vif_details")
SUBNET_KEYS = ("id", "name", "project_id", "network_id", "ip_version", "cidr", "gateway_ip",
               "dns_nameservers", "host_routes", "enable_dhcp", "ipv6_address_mode",
               "ipv6_ra_mode")
NETWORK_KEYS = ("id", "name", "project_id", "mtu", "shared", "router:external",
                "provider:network_type", "provider:segmentation_id")


def _context(ctx: dict[str, Any]) -> RequestContext:
    return RequestContext.from_dict({"user_id": "", **ctx})


def _port_view(row: dict[str, Any], floating: list[dict[str, Any]]) -> dict[str, Any]:
    view = {key: row.get(key) for key in PORT_KEYS}
    view["floating_ips"] = [{"floating_ip_address": fip["floating_ip_address"],
                             "fixed_ip_address": fip.get("fixed_ip_address")}
                            for fip in floating]
    return view


async def _port_views(conn: AsyncConnection, rows: list[Row]) -> list[dict[str, Any]]:
    """Views of ``rows`` in created order, with their floating IPs (one query)."""
    fips: dict[str, list[Row]] = {}
    if rows:
        for fip in await common.find(conn, "floatingip", port_id=[r["id"] for r in rows]):
            fips.setdefault(fip["port_id"], []).append(fip)
    ordered = sorted(rows, key=lambda r: (r["created_at"], r["id"]))
    return [_port_view(r, sorted(fips.get(r["id"], []), key=lambda f: f["created_at"]))
            for r in ordered]


async def _visible_ports(conn: AsyncConnection, caller: Caller, rows: list[Row]) -> list[Row]:
    """The ports the caller sees: its project's, and those on its networks."""
    if caller.is_admin:
        return rows
    others = {r["network_id"] for r in rows if not caller.owns(r)}
    owners = {n["id"]: n["project_id"] for n in await common.find(
        conn, "network", id=sorted(others))} if others else {}
    return [r for r in rows if caller.sees_port(r, owners.get(r["network_id"]))]


def _refusals(call: Endpoint) -> Endpoint:
    """The objects layer's API errors leave as the bus refusals of errors.py."""
    @functools.wraps(call)
    async def run(self: NetworkEndpoints, ctx: dict[str, Any], *args: Any,
                  **kwargs: Any) -> Any:
        try:
            return await call(self, ctx, *args, **kwargs)
        except ApiError as error:
            raise errors.translate(error, network_id=kwargs.get("network_id") or "",
                                   project_id=kwargs.get("project_id") or "") from None
    return run


class NetworkEndpoints:
    """Served at Target("network"); every method takes the caller's context first
    (``RequestContext.to_dict()``): reads answer what that caller may see."""

    def __init__(self, net: Networking) -> None:
        self.net = net
        self._router: Router | None = None

    def _caller(self, ctx: dict[str, Any]) -> Caller:
        return caller_for(self.net, _context(ctx))

    async def get_network(self, ctx: dict[str, Any], network_id: str
                          ) -> dict[str, Any] | None:
        async with self.net.db.reader() as conn:
            found = await common.find(conn, "network", id=network_id)
            if not found or not self._caller(ctx).sees_network(found[0]):
                return None
            subnets = await networks.subnet_ids(conn, [network_id])
        view = {k: found[0].get(k) for k in NETWORK_KEYS}
        view["subnets"] = subnets.get(network_id, [])
        return view

    async def usable_networks(self, ctx: dict[str, Any], project_id: str
                              ) -> list[dict[str, Any]]:
        caller = self._caller(ctx)
        async with self.net.db.reader() as conn:
            rows = [r for r in await common.find(conn, "network")
                    if (r["project_id"] == project_id or r.get("shared"))
                    and not r.get("router:external") and caller.sees_network(r)]
            subnets = await networks.subnet_ids(conn, [r["id"] for r in rows])
        return [{"id": r["id"], "name": r["name"], "project_id": r["project_id"],
                 "shared": bool(r.get("shared")), "subnets": subnets.get(r["id"], [])}
                for r in sorted(rows, key=lambda r: (r["created_at"], r["id"]))]

    @_refusals
    async def resolve_security_groups(self, ctx: dict[str, Any], project_id: str,
                                      names_or_ids: list[str]) -> list[str]:
        net = self.net
        caller = self._caller(ctx)
        if caller.owns({"project_id": project_id}):
            async with net.db.reader() as conn:
                default = await default_group_id(conn, project_id)
            if default is None:  # the project's first use, as Neutron's API makes it
                async with net.db.writer() as conn:
                    await ensure_default(net, conn, project_id)
        async with net.db.reader() as conn:
            groups = [g for g in await common.find(conn, "security_group",
                                                   project_id=project_id)
                      if caller.sees("security_group", g)]
        ids = {g["id"] for g in groups}
        found: list[str] = []
        for wanted in names_or_ids:
            named = [wanted] if wanted in ids else [g["id"] for g in groups
                                                    if g["name"] == wanted]
            if not named:
                raise errors.security_group_not_found(wanted)
            if len(named) > 1:
                raise errors.SecurityGroupNotUnique(
                    f"Multiple security groups found matching '{wanted}'. Use an ID to be "
                    "more specific.", wanted)
            found.append(named[0])
        return list(dict.fromkeys(found))

    @_refusals
    @retry_on_deadlock
    async def create_port(self, ctx: dict[str, Any], network_id: str, project_id: str,
                          device_id: str, host: str = "",
                          device_owner: str = "compute:nova",
                          fixed_ips: list[dict[str, str]] | None = None,
                          security_groups: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"device_id": device_id, "device_owner": device_owner,
                                "binding:host_id": host}
        if fixed_ips is not None:
            body["fixed_ips"] = fixed_ips
        if security_groups is not None:
            body["security_groups"] = security_groups
        caller = self._caller(ctx)
        async with self.net.db.writer() as conn:
            found = await common.find(conn, "network", id=network_id)
            if not found or not (caller.owns(found[0]) or found[0].get("shared")):
                raise errors.network_not_found(network_id)
            row = await ports.create(self.net, conn, found[0], project_id, body)
        return _port_view(row, [])

    @_refusals
    @retry_on_deadlock
    async def bind_port(self, ctx: dict[str, Any], port_id: str, host: str,
                        device_id: str = "") -> dict[str, Any]:
        changes: dict[str, Any] = {"binding:host_id": host}
        if device_id:
            changes.update(device_id=device_id, device_owner="compute:nova")
        async with self.net.db.writer() as conn:
            current = await common.get(conn, "port", port_id)
            row = await ports.update(self.net, conn, current, changes)
            return (await _port_views(conn, [row]))[0]

    @_refusals
    @retry_on_deadlock
    async def unbind_port(self, ctx: dict[str, Any], port_id: str) -> dict[str, Any]:
        async with self.net.db.writer() as conn:
            current = await common.get(conn, "port", port_id)
            row = await ports.update(self.net, conn, current, {
                "binding:host_id": "", "device_id": "", "device_owner": ""})
            return (await _port_views(conn, [row]))[0]

    @_refusals
    @retry_on_deadlock
    async def set_port_security_groups(self, ctx: dict[str, Any], port_id: str,
                                       group_ids: list[str]) -> dict[str, Any]:
        async with self.net.db.writer() as conn:
            current = await common.get(conn, "port", port_id)
            row = await ports.update(self.net, conn, current, {"security_groups": group_ids})
            view = (await _port_views(conn, [row]))[0]
            names = {g["id"]: g["name"] for g in await common.find(
                conn, "security_group", id=list(row["security_groups"]))} \
                if row["security_groups"] else {}
        view["security_group_names"] = [names.get(g, g) for g in view["security_groups"]]
        return view

    @_refusals
    @retry_on_deadlock
    async def delete_port(self, ctx: dict[str, Any], port_id: str) -> None:
        async with self.net.db.writer() as conn:
            found = await common.find(conn, "port", id=port_id)
            if found:
                await ports.delete(self.net, conn, found[0])

    async def get_port(self, ctx: dict[str, Any], port_id: str) -> dict[str, Any] | None:
        async with self.net.db.reader() as conn:
            rows = await _visible_ports(conn, self._caller(ctx),
                                        await common.find(conn, "port", id=port_id))
            return (await _port_views(conn, rows))[0] if rows else None

    async def list_ports(self, ctx: dict[str, Any], device_id: str | None = None,
                         port_ids: list[str] | None = None) -> list[dict[str, Any]]:
        where: dict[str, Any] = {}
        if device_id is not None:
            where["device_id"] = device_id
        if port_ids is not None:
            where["id"] = list(port_ids)
        if not where or where.get("id") == []:
            return []
        async with self.net.db.reader() as conn:
            rows = await _visible_ports(conn, self._caller(ctx),
                                        await common.find(conn, "port", **where))
            return await _port_views(conn, rows)

    async def get_subnets(self, ctx: dict[str, Any], subnet_ids: list[str]
                          ) -> list[dict[str, Any]]:
        if not subnet_ids:
            return []
        caller = self._caller(ctx)
        async with self.net.db.reader() as conn:
            rows = await common.find(conn, "subnet", id=sorted(set(subnet_ids)))
            network_ids = sorted({r["network_id"] for r in rows})
            owners = {n["id"]: n for n in await common.find(conn, "network", id=network_ids)}
            rows = [r for r in rows if caller.owns(r) or (
                r["network_id"] in owners and caller.sees_network(owners[r["network_id"]]))]
            dhcp_ports = await common.find(conn, "port", network_id=network_ids,
                                           device_owner="network:dhcp") if rows else []
        dhcp = {ip["subnet_id"]: ip["ip_address"] for p in dhcp_ports
                for ip in p.get("fixed_ips") or []}
        return [{**{k: r.get(k) for k in SUBNET_KEYS}, "dhcp_server": dhcp.get(r["id"])}
                for r in rows]

    async def api(self, ctx: dict[str, Any], verb: str, path: str,
                  query: list[tuple[str, str]] | None = None, body: Any = None
                  ) -> dict[str, Any]:
        """The networking API as the caller would get it over HTTP (compute's proxy
        APIs: os-security-groups, os-floating-ips, os-networks)."""
        from onestack.network.api import ROUTES

        if self._router is None:
            self._router = Router(ROUTES)
        return await loopback.call(self._router, self.net, _context(ctx), verb, path,
                                   query=query, body=body, fault_style="neutron")

    async def server_addresses(self, ctx: dict[str, Any], device_ids: list[str]
                               ) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {d: [] for d in device_ids}
        if not device_ids:
            return found
        async with self.net.db.reader() as conn:
            rows = await _visible_ports(conn, self._caller(ctx), await common.find(
                conn, "port", device_id=sorted(set(device_ids))))
            for view in await _port_views(conn, rows):
                found[view["device_id"]].append(view)
        return found


async def heartbeats(net: Networking, interval: float = agents.REPORT_INTERVAL) -> None:
    """The backend's agents report while the service runs (a failed report is logged
    and the next one tried: a missed heartbeat or two is what agent_down_time allows)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await agents.report(net)
        except Exception:
            log.exception("agent heartbeat failed")


async def run_periodic(net: Networking) -> None:
    """Serve the bus endpoints and send the agents' heartbeats while the service runs."""
    bus = connect(net.config.bus.url, exchange=net.config.bus.exchange)
    server = await bus.serve(Target(TOPIC), NetworkEndpoints(net))
    try:
        await heartbeats(net)
    finally:
        await server.stop()
        await bus.close()
