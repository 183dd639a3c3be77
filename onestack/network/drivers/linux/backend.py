"""The Linux dataplane (Neutron's Linux bridge, DHCP, L3 and metadata agents in one):
every change the API makes kicks a reconcile pass that reads what the database wants
of this host (snapshot.py) and converges the kernel to it: bridges and VXLAN devices,
``qdhcp-``/``qrouter-`` namespaces, dnsmasq, nftables, metadata proxies. The same
pass runs at start (adopting or removing what an earlier run left), every
``resync_interval`` seconds, and whenever a guest tap appears in or leaves its
bridge (checked every ``status_interval`` seconds).

Port status: binding a guest port answers DOWN unless its tap is already in its
bridge; the port turns ACTIVE when the compute driver has plugged the tap into the
bridge (and DOWN again when the tap goes), written by the reconcile pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onestack.kernel.config import NetworkConfig
from onestack.kernel.metadata_secret import shared_secret
from onestack.network.drivers.base import AgentReport, Binding, Resource
from onestack.network.drivers.linux import dhcp, firewall, l3, netlink, proc, snapshot
from onestack.network.drivers.linux.metadata import MetadataProxy
from onestack.network.drivers.linux.names import Names, inner_name, tap_name
from onestack.network.drivers.linux.snapshot import HostPlan, Snapshot

if TYPE_CHECKING:
    from onestack.network.service import Networking

log = logging.getLogger(__name__)


class LinuxBackend:
    name = "linux"
    network_types = frozenset({"local", "flat", "vxlan"})

    def __init__(self, settings: NetworkConfig) -> None:
        self.settings = settings
        self.names = Names(settings.linux_prefix)
        self.host = settings.host or socket.gethostname()
        self.host_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, self.host))
        self.host_ns = settings.host_namespace
        self.net: Networking | None = None
        self.state_dir = Path("/run/onestack") / self.names.table
        self.metadata: MetadataProxy | None = None
        self._lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._networks: dict[str, Resource] = {}
        self._peers: list[str] = []
        self._firewall = ""
        self._expected: dict[str, tuple[str, str, bool]] = {}  # port -> (tap, bridge, up)
        self._recent: dict[str, float] = {}  # device -> when a binding last ensured it
        self._ready: set[str] = set()  # bridges the last pass ensured
        self._host_ready = False
        self._stopping = False
        self._served = {"networks": 0, "routers": 0, "devices": 0}
        self.passes = 0

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self, net: Networking) -> None:
        """Adopt the kernel state this prefix owns, converge it, then keep it so."""
        self.net = net
        config = net.config
        self.state_dir = Path(config.state_dir) / "network" / self.names.table
        # compute's metadata service listens beside the APIs, on [api] host
        listen = config.api.host if config.api.host not in ("", "0.0.0.0", "::") \
            else "127.0.0.1"
        upstream = self.settings.metadata_upstream or \
            f"{listen}:{config.api.ports.get('compute-metadata', 8775)}"
        host, _, port = upstream.rpartition(":")
        self.metadata = MetadataProxy(self._lookup, (host or "127.0.0.1", int(port)),
                                      lambda: shared_secret(config))
        await self.sync()
        self._task = asyncio.create_task(self._loop(), name=f"linux-dataplane-{self.host}")

    async def close(self) -> None:
        if self._task is not None:
            # let a pass in progress finish (never cancel it in the middle of a query)
            self._stopping = True
            self._kick.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
            self._task = None
        if self.metadata is not None:
            await self.metadata.close()
        if self.settings.stop_dhcp_on_close:
            for where in (self.state_dir / "dhcp").glob("*"):
                await dhcp.stop(where)

    def kick(self) -> None:
        self._kick.set()

    async def _loop(self) -> None:
        last = time.monotonic()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.settings.status_interval)
            if self._stopping:
                return
            try:
                due = time.monotonic() - last >= self.settings.resync_interval
                if self._kick.is_set() or due or await self._taps_moved():
                    await asyncio.sleep(0.01)  # the write that kicked commits meanwhile
                    self._kick.clear()
                    await self.sync()
                    last = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("linux dataplane: reconcile pass failed")
                await asyncio.sleep(1)

    # -- the reconcile pass ---------------------------------------------------------------------
    async def sync(self) -> None:
        """One full pass: database -> kernel (and port status back)."""
        assert self.net is not None, "start() first"
        async with self._lock:
            since = time.monotonic()
            snap = await snapshot.load(self.net.db)
            if self.settings.dhcp_agent and await self._dhcp_ports(snap):
                snap = await snapshot.load(self.net.db)
            plan = snapshot.plan_host(
                self.names, snap, self.host, self.host_id, dhcp=self.settings.dhcp_agent,
                l3_agent=self.settings.l3_agent, mappings=self.settings.physical_networks,
                local_ip=self.settings.local_ip,
                static_peers=[p.strip() for p in self.settings.vxlan_peers.split(",")
                              if p.strip()])
            self._peers = plan.peers
            self._networks.update(plan.networks)
            await self._host()
            ready = set()
            for network in plan.networks.values():
                ready.add(await self._bridge(network))
            self._ready = ready
            await self._sync_dhcp(snap, plan)
            await self._sync_routers(plan)
            await self._remove_stale_devices(plan, since)
            await self._sync_firewall(snap, plan)
            await self._sync_status(snap, plan)
            self._served = {"networks": len(plan.dhcp), "routers": len(plan.routers),
                            "devices": len(plan.guests)}
            self.passes += 1
            log.debug("linux dataplane pass %d on %s: %.3f s", self.passes, self.host,
                      time.monotonic() - since)

    async def _host(self) -> None:
        made = False
        if self.host_ns and self.names.owns(self.host_ns):
            made = await netlink.run(netlink.ensure_ns, self.host_ns)
        if made or not self._host_ready:
            # bridged IP traffic through the inet hooks (conntrack, security groups);
            # per network namespace
            await proc.sysctl(self.host_ns, {"net.bridge.bridge-nf-call-iptables": "1",
                                             "net.bridge.bridge-nf-call-ip6tables": "1"})
            self._host_ready = True

    async def _bridge(self, network: Resource) -> str:
        bridge = snapshot.bridge_of(self.names, network, self.settings.physical_networks)
        if not bridge:
            return ""
        flat = network.get("provider:network_type") == "flat"
        mtu = int(network.get("mtu") or self.settings.default_mtu)
        if flat and not (self.names.owns(bridge) or self.names.owns(self.host_ns)):
            links = await netlink.run(netlink.links, self.host_ns)
            if bridge not in links:
                log.error("physical network bridge %s is missing", bridge)
            return bridge
        await netlink.run(netlink.ensure_bridge, self.host_ns, bridge, None if flat else mtu)
        if network.get("provider:network_type") == "vxlan" and self.settings.local_ip:
            await netlink.run(netlink.ensure_vxlan, self.host_ns,
                              self.names.vxlan(network["id"]),
                              int(network["provider:segmentation_id"]),
                              self.settings.local_ip, mtu, bridge, self._peers)
        return bridge

    async def _dhcp_ports(self, snap: Snapshot) -> bool:
        """The DHCP port of every network with DHCP (made, extended, or removed);
        True when something changed."""
        from onestack.network.objects import common, ports

        assert self.net is not None
        changed = False
        for network in snap.networks.values():
            device = snapshot.dhcp_device_id(self.host_id, network["id"])
            found = [p for p in snap.by_network.get(network["id"], [])
                     if p["device_owner"] == snapshot.DHCP_OWNER and p["device_id"] == device]
            subnets = snap.dhcp_subnets(network["id"]) \
                if network.get("admin_state_up", True) else []
            try:
                if subnets and not found:
                    async with self.net.db.writer() as conn:
                        current = await common.find(conn, "network", id=network["id"])
                        if current:
                            await ports.create(self.net, conn, current[0],
                                               network["project_id"], {
                                "device_owner": snapshot.DHCP_OWNER, "device_id": device,
                                "binding:host_id": self.host, "port_security_enabled": False,
                                "fixed_ips": [{"subnet_id": s["id"]} for s in subnets]})
                    changed = True
                elif found and not subnets:
                    async with self.net.db.writer() as conn:
                        for row in await common.find(conn, "port", id=found[0]["id"]):
                            await ports.delete(self.net, conn, row)
                    changed = True
                elif found:
                    have = {ip["subnet_id"] for ip in found[0]["fixed_ips"]}
                    missing = [s for s in subnets if s["id"] not in have]
                    if missing:
                        async with self.net.db.writer() as conn:
                            row = (await common.find(conn, "port", id=found[0]["id"]))[0]
                            await ports.update(self.net, conn, row, {"fixed_ips": [
                                *({"subnet_id": ip["subnet_id"], "ip_address": ip["ip_address"]}
                                  for ip in row["fixed_ips"]),
                                *({"subnet_id": s["id"]} for s in missing)]})
                        changed = True
            except Exception:
                log.exception("DHCP port of network %s", network["id"])
        return changed

    async def _sync_dhcp(self, snap: Snapshot, plan: HostPlan) -> None:
        if not self.settings.dhcp_agent:
            return
        assert self.metadata is not None
        for network_id, port in plan.dhcp.items():
            network = plan.networks.get(network_id)
            if network is None:
                continue
            ns = self.names.dhcp_ns(network_id)
            device = inner_name("ns-", port["id"])
            mtu = int(network.get("mtu") or self.settings.default_mtu)
            try:
                await netlink.run(netlink.ensure_ns, ns)
                await netlink.run(netlink.ensure_veth, self.host_ns,
                                  self.names.dev("d", port["id"]), ns, device,
                                  snapshot.bridge_of(self.names, network,
                                                     self.settings.physical_networks),
                                  mtu, port["mac_address"])
                addresses = [snap.cidr(ip) for ip in port["fixed_ips"]]
                if self.settings.metadata_proxy:
                    addresses.append(f"{dhcp.METADATA_IP}/32")
                await netlink.run(netlink.sync_addresses, ns, device, addresses)
                subnets = snap.dhcp_subnets(network_id)
                served = {s["id"] for s in subnets}
                config = dhcp.DhcpConfig(
                    network_id, device, subnets,
                    [p for p in snap.by_network.get(network_id, []) if p["id"] != port["id"]],
                    {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]
                     if ip["subnet_id"] in served and self.settings.metadata_proxy}, mtu)
                done = await dhcp.ensure(self.settings.dnsmasq_binary, ns, config,
                                         self.state_dir / "dhcp" / network_id)
                if done != "running":
                    log.info("dnsmasq for network %s %s", network_id, done)
                if self.settings.metadata_proxy:
                    await self.metadata.ensure(network_id, ns)
            except Exception:
                log.exception("DHCP for network %s", network_id)
        stem = self.names.prefix + "qdhcp-"
        for ns in await netlink.run(netlink.namespaces):
            network_id = ns[len(stem):]
            if ns.startswith(stem) and network_id not in plan.dhcp:
                await self.metadata.remove(network_id)
                await dhcp.stop(self.state_dir / "dhcp" / network_id)
                proc.kill_ns_processes(ns)
                await netlink.run(netlink.remove_ns, ns)
                log.info("removed DHCP of network %s", network_id)

    async def _sync_routers(self, plan: HostPlan) -> None:
        if not self.settings.l3_agent:
            return
        for router in plan.routers:
            try:
                await l3.ensure(self.host_ns, router)
            except Exception:
                log.exception("router %s", router.router_id)
        stem = self.names.prefix + "qrouter-"
        wanted = {r.namespace for r in plan.routers}
        for ns in await netlink.run(netlink.namespaces):
            if ns.startswith(stem) and ns not in wanted:
                await l3.remove(ns)
                log.info("removed router %s", ns[len(stem):])

    async def _remove_stale_devices(self, plan: HostPlan, since: float) -> None:
        wanted = set()
        for network in plan.networks.values():
            wanted.add(self.names.bridge(network["id"]))
            wanted.add(self.names.vxlan(network["id"]))
        wanted |= {self.names.dev("d", p["id"]) for p in plan.dhcp.values()}
        for router in plan.routers:
            wanted |= {i.host_device for i in router.interfaces}
            if router.gateway is not None:
                wanted.add(router.gateway.host_device)
        wanted |= set(self.settings.physical_networks.values())
        await netlink.run(self._prune, wanted, since)

    def _prune(self, wanted: set[str], since: float) -> None:
        """Delete the host devices not wanted, but those a binding made since the
        snapshot was read (on the netlink thread: no binding interleaves)."""
        for name in netlink.links(self.host_ns):
            if self.names.host_device(name) and name not in wanted and \
                    self._recent.get(name, 0.0) < since - 5.0:
                netlink.delete_link(self.host_ns, name)

    async def _sync_firewall(self, snap: Snapshot, plan: HostPlan) -> None:
        rules = firewall.render(self.names, plan.filters, snap.rules, plan.members)
        if rules.text != self._firewall:
            await proc.nft(self.host_ns, rules.text)
            self._firewall = rules.text

    async def _sync_status(self, snap: Snapshot, plan: HostPlan) -> None:
        from onestack.network.objects import common

        assert self.net is not None
        links = await netlink.run(netlink.links, self.host_ns)
        expected: dict[str, tuple[str, str, bool]] = {}
        changes: dict[str, str] = {}
        for port in plan.guests:
            network = plan.networks.get(port["network_id"])
            if network is None:
                continue
            bridge = snapshot.bridge_of(self.names, network, self.settings.physical_networks)
            tap = links.get(tap_name(port["id"]))
            plugged = bool(tap and bridge in links and tap.master == links[bridge].index)
            expected[port["id"]] = (tap_name(port["id"]), bridge, plugged)
            status = "ACTIVE" if plugged else "DOWN"
            if port.get("admin_state_up", True) and port["status"] != status:
                changes[port["id"]] = status
        self._expected = expected
        if changes:
            async with self.net.db.writer() as conn:
                for row in await common.find(conn, "port", id=sorted(changes)):
                    if row["status"] != changes[row["id"]]:
                        await common.update(conn, "port", row, {"status": changes[row["id"]]})

    async def _taps_moved(self) -> bool:
        """Whether a guest tap came or went since the last pass (cheap: one dump)."""
        if not self._expected:
            return False
        links = await netlink.run(netlink.links, self.host_ns)
        for tap, bridge, plugged in self._expected.values():
            found = links.get(tap)
            now = bool(found and bridge in links and found.master == links[bridge].index)
            if now != plugged:
                return True
        return False

    async def _lookup(self, network_id: str, address: str) -> tuple[str, str] | None:
        from onestack.network.objects import common

        assert self.net is not None
        async with self.net.db.reader() as conn:
            for port in await common.find(conn, "port", network_id=network_id):
                if port["device_id"] and snapshot.is_guest(port) and any(
                        ip["ip_address"] == address for ip in port["fixed_ips"]):
                    return str(port["device_id"]), str(port["project_id"])
        return None

    # -- binding ---------------------------------------------------------------------------------
    async def _network(self, network_id: str) -> Resource | None:
        from onestack.network.objects import common

        if self.net is not None:
            async with self.net.db.reader() as conn:
                found = await common.find(conn, "network", id=network_id)
            if found:
                self._networks[network_id] = found[0]
                return found[0]
        return self._networks.get(network_id)

    async def _agent_of(self, host: str) -> dict[str, Any] | None:
        import sqlalchemy as sa

        from onestack.network.models import agent

        if self.net is None:
            return None
        async with self.net.db.reader() as conn:
            row = (await conn.execute(sa.select(agent.c.configurations).where(
                agent.c.agent_type == snapshot.LINUX_AGENT, agent.c.host == host))).first()
        return dict(row[0]) if row else None

    async def bind_port(self, port: Resource, host: str) -> Binding:
        network = await self._network(port["network_id"]) or {"id": port["network_id"]}
        names, host_ns = self.names, self.host_ns
        mappings = self.settings.physical_networks
        local = host in ("", self.host) or not snapshot.is_guest(port)
        if not local:
            other = await self._agent_of(host)
            if other:
                names = Names(other.get("prefix") or self.names.prefix)
                host_ns = other.get("host_namespace", host_ns)
                mappings = other.get("bridge_mappings") or mappings
        bridge = snapshot.bridge_of(names, network, mappings)
        mtu = int(network.get("mtu") or self.settings.default_mtu)
        plugged = False
        if local and network.get("provider:network_type") and bridge:
            now = time.monotonic()
            self._recent[bridge] = self._recent[self.names.vxlan(network["id"])] = now
            if bridge not in self._ready:
                await self._host()
                await self._bridge(network)
            plugged = await netlink.run(netlink.plugged, host_ns, tap_name(port["id"]),
                                        bridge)
        self.kick()
        details = {"bridge": bridge, "netns": host_ns, "tap_name": tap_name(port["id"]),
                   "mtu": mtu}
        status = "ACTIVE" if plugged or not snapshot.is_guest(port) else "DOWN"
        return Binding("tap", details, status)

    # -- events: each asks for a reconcile pass ----------------------------------------------
    async def network_changed(self, network: Resource) -> None:
        self._networks[network["id"]] = network
        self.kick()

    async def network_deleted(self, network: Resource) -> None:
        self._networks.pop(network["id"], None)
        self.kick()

    async def subnet_changed(self, subnet: Resource) -> None:
        self.kick()

    async def subnet_deleted(self, subnet: Resource) -> None:
        self.kick()

    async def unbind_port(self, port: Resource) -> None:
        self.kick()

    async def port_changed(self, port: Resource) -> None:
        self.kick()

    async def port_deleted(self, port: Resource) -> None:
        self.kick()

    async def router_changed(self, router: Resource, interfaces: list[Resource]) -> None:
        self.kick()

    async def router_deleted(self, router: Resource) -> None:
        self.kick()

    async def floatingip_changed(self, floatingip: Resource) -> None:
        self.kick()

    async def floatingip_deleted(self, floatingip: Resource) -> None:
        self.kick()

    async def security_group_changed(self, group: Resource, rules: list[Resource]) -> None:
        self.kick()

    async def security_group_deleted(self, group: Resource) -> None:
        self.kick()

    def agents(self) -> list[AgentReport]:
        settings = self.settings
        common = {"backend": self.name, "prefix": self.names.prefix,
                  "host_namespace": self.host_ns}
        reports = [AgentReport(
            snapshot.LINUX_AGENT, "neutron-linuxbridge-agent", "N/A", self.host, None,
            {**common, "tunneling_ip": settings.local_ip,
             "tunnel_types": ["vxlan"] if settings.local_ip else [],
             "bridge_mappings": dict(settings.physical_networks),
             "interface_mappings": {}, "devices": self._served["devices"]})]
        if settings.dhcp_agent:
            reports.append(AgentReport(
                "DHCP agent", "neutron-dhcp-agent", "dhcp_agent", self.host, "nova",
                {**common, "dhcp_driver": "dnsmasq", "networks": self._served["networks"]}))
        if settings.l3_agent:
            reports.append(AgentReport(
                "L3 agent", "neutron-l3-agent", "l3_agent", self.host, "nova",
                {**common, "agent_mode": "legacy", "routers": self._served["routers"]}))
        if settings.dhcp_agent and settings.metadata_proxy:
            reports.append(AgentReport("Metadata agent", "neutron-metadata-agent", "N/A",
                                       self.host, None, dict(common)))
        return reports
