"""The fake dataplane: records every call (tests read ``events``), builds nothing,
and reports a bound port ACTIVE at once. It serves the host it runs on, where it
stands in for a DHCP, an L3 and a metadata agent."""

from __future__ import annotations

import socket
from collections import deque
from typing import Any

from onestack.network.drivers.base import AgentReport, Binding, Resource


class FakeBackend:
    name = "fake"
    network_types = frozenset({"local", "flat", "vxlan", "vlan"})

    def __init__(self, keep: int = 1000, host: str | None = None) -> None:
        self.events: deque[tuple[str, str]] = deque(maxlen=keep)
        self.bound: dict[str, str] = {}  # port id -> host
        self.host = host or socket.gethostname()
        # what this process's agents would be serving (those changed since it started)
        self.networks: set[str] = set()
        self.routers: set[str] = set()

    def _record(self, event: str, resource: Resource) -> None:
        self.events.append((event, str(resource.get("id", ""))))

    async def network_changed(self, network: Resource) -> None:
        self._record("network_changed", network)
        self.networks.add(network["id"])

    async def network_deleted(self, network: Resource) -> None:
        self._record("network_deleted", network)
        self.networks.discard(network["id"])

    async def subnet_changed(self, subnet: Resource) -> None:
        self._record("subnet_changed", subnet)

    async def subnet_deleted(self, subnet: Resource) -> None:
        self._record("subnet_deleted", subnet)

    async def bind_port(self, port: Resource, host: str) -> Binding:
        self._record("bind_port", port)
        self.bound[port["id"]] = host
        return Binding("bridge", {"port_filter": True, "connectivity": "l2",
                                  "bridge_name": "brq" + port["network_id"][:11]})

    async def unbind_port(self, port: Resource) -> None:
        self._record("unbind_port", port)
        self.bound.pop(port["id"], None)

    async def port_changed(self, port: Resource) -> None:
        self._record("port_changed", port)

    async def port_deleted(self, port: Resource) -> None:
        self._record("port_deleted", port)
        self.bound.pop(port["id"], None)

    async def router_changed(self, router: Resource, interfaces: list[Resource]) -> None:
        self._record("router_changed", router)
        self.routers.add(router["id"])

    async def router_deleted(self, router: Resource) -> None:
        self._record("router_deleted", router)
        self.routers.discard(router["id"])

    async def floatingip_changed(self, floatingip: Resource) -> None:
        self._record("floatingip_changed", floatingip)

    async def floatingip_deleted(self, floatingip: Resource) -> None:
        self._record("floatingip_deleted", floatingip)

    async def security_group_changed(self, group: Resource, rules: list[Resource]) -> None:
        self._record("security_group_changed", group)

    async def security_group_deleted(self, group: Resource) -> None:
        self._record("security_group_deleted", group)

    def agents(self) -> list[AgentReport]:
        common = {"backend": self.name}
        return [
            AgentReport("DHCP agent", "neutron-dhcp-agent", "dhcp_agent", self.host, "nova",
                        {**common, "networks": len(self.networks)}),
            AgentReport("L3 agent", "neutron-l3-agent", "l3_agent", self.host, "nova",
                        {**common, "agent_mode": "legacy", "routers": len(self.routers)}),
            AgentReport("Metadata agent", "neutron-metadata-agent", "N/A", self.host, None,
                        dict(common)),
        ]

    async def close(self) -> None:
        return None


def build(settings: Any) -> FakeBackend:
    return FakeBackend()
