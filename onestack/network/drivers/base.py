"""The boundary between the networking API and a dataplane: every change the
dataplane needs goes through a NetworkBackend, which reports port status back.

``fake`` (fake.py) records intent and builds nothing; the Linux dataplane
(network namespaces, bridges, dnsmasq, nftables) implements the same protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Resource = dict[str, Any]


@dataclass
class Binding:
    """What binding a port to a host gave: how the guest plugs in, and its status."""

    vif_type: str
    vif_details: dict[str, Any] = field(default_factory=dict)
    status: str = "ACTIVE"


@dataclass(frozen=True)
class AgentReport:
    """One agent a backend runs, as its heartbeat describes it (Neutron's agent
    types, binaries and topics, so that clients recognise them)."""

    agent_type: str  # "DHCP agent", "L3 agent", "Metadata agent", ...
    binary: str  # "neutron-dhcp-agent", ...
    topic: str  # "dhcp_agent", ..., "N/A"
    host: str
    availability_zone: str | None = None
    configurations: dict[str, Any] = field(default_factory=dict)


class NetworkBackend(Protocol):
    name: str
    # network types this backend can build ("local", "flat", "vxlan", "vlan")
    network_types: frozenset[str]

    async def network_changed(self, network: Resource) -> None: ...
    async def network_deleted(self, network: Resource) -> None: ...
    async def subnet_changed(self, subnet: Resource) -> None: ...
    async def subnet_deleted(self, subnet: Resource) -> None: ...

    async def bind_port(self, port: Resource, host: str) -> Binding:
        """Plug ``port`` on ``host``; the status it reports becomes the port's."""

    async def unbind_port(self, port: Resource) -> None: ...
    async def port_changed(self, port: Resource) -> None: ...
    async def port_deleted(self, port: Resource) -> None: ...
    async def router_changed(self, router: Resource, interfaces: list[Resource]) -> None: ...
    async def router_deleted(self, router: Resource) -> None: ...
    async def floatingip_changed(self, floatingip: Resource) -> None: ...
    async def floatingip_deleted(self, floatingip: Resource) -> None: ...
    async def security_group_changed(self, group: Resource, rules: list[Resource]) -> None: ...
    async def security_group_deleted(self, group: Resource) -> None: ...
    def agents(self) -> list[AgentReport]:
        """The agents this backend runs now; the service records a heartbeat for each,
        at start and every report interval while it runs."""

    async def close(self) -> None: ...
