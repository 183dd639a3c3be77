"""The typed client of the networking service's bus methods: the only door other
services (compute) use to find the networks and security groups of their servers and
to make, plug and show their ports.

``ctx`` is the caller's ``RequestContext.to_dict()``: reads answer what that caller
may see through Neutron's API (an admin sees everything). Refusals arrive as the
exceptions below (from errors.py, registered with the bus codec); ``str(error)`` is
worded as Nova words the fault:

- ``NetworkNotFound``: no such network, or not one the caller may put ports on.
- ``PortNotFound``: no such port.
- ``SecurityGroupNotFound`` / ``SecurityGroupNotUnique``: a name matches no group,
  or more than one, of the project.
- ``FixedIpInUse``: "Fixed IP address X is already in use."
- ``InvalidFixedIp``: the address is in none of the network's subnets.
- ``NoMoreFixedIps``: the network has no free address.
- ``PortLimitExceeded``: the project's port quota is used up.
- ``NetworkError`` (the base of all of them): any other refusal.
"""

from __future__ import annotations

from typing import Any

from onestack.kernel.bus import Bus, Target
from onestack.network.errors import (
    FixedIpInUse,
    InvalidFixedIp,
    NetworkError,
    NetworkNotFound,
    NoMoreFixedIps,
    PortLimitExceeded,
    PortNotFound,
    SecurityGroupNotFound,
    SecurityGroupNotUnique,
)

__all__ = ["TOPIC", "FixedIpInUse", "InvalidFixedIp", "NetworkAPI", "NetworkError",
           "NetworkNotFound", "NoMoreFixedIps", "PortLimitExceeded", "PortNotFound",
           "SecurityGroupNotFound", "SecurityGroupNotUnique"]

TOPIC = "network"


class NetworkAPI:
    def __init__(self, bus: Bus, timeout: float = 60) -> None:
        self.bus = bus
        self.target = Target(TOPIC)
        self.timeout = timeout

    async def _call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(self.target, method, ctx, timeout=self.timeout, **kwargs)

    async def get_network(self, ctx: dict[str, Any], network_id: str
                          ) -> dict[str, Any] | None:
        """{id, name, project_id, mtu, shared, router:external, provider:network_type,
        provider:segmentation_id, subnets: [ids]}; None when the network does not exist
        or the caller may not see it (its own, shared or external ones; any for an
        admin)."""
        return await self._call("get_network", ctx, network_id=network_id)  # type: ignore[no-any-return]

    async def usable_networks(self, ctx: dict[str, Any], project_id: str
                              ) -> list[dict[str, Any]]:
        """The networks a server of ``project_id`` may use when it names none: the
        project's own and the shared ones, never external ones, oldest first; each
        {id, name, project_id, shared, subnets: [ids]}."""
        return await self._call("usable_networks", ctx, project_id=project_id)  # type: ignore[no-any-return]

    async def resolve_security_groups(self, ctx: dict[str, Any], project_id: str,
                                      names_or_ids: list[str]) -> list[str]:
        """The ids of the project's groups named (by name or id), in order, without
        repeats; the project's ``default`` group is made on first use, as Neutron's API
        does. Raises SecurityGroupNotFound (SecurityGroupNotUnique for a name that
        several groups have)."""
        return await self._call(  # type: ignore[no-any-return]
            "resolve_security_groups", ctx, project_id=project_id,
            names_or_ids=names_or_ids)

    async def create_port(self, ctx: dict[str, Any], network_id: str, project_id: str,
                          device_id: str, host: str = "",
                          fixed_ips: list[dict[str, str]] | None = None,
                          security_groups: list[str] | None = None) -> dict[str, Any]:
        """A port of ``project_id`` on ``network_id`` for server ``device_id``, bound to
        ``host`` when given (the backend then reports it ACTIVE). ``fixed_ips``:
        [{"ip_address"?, "subnet_id"?}], else one address per IP version;
        ``security_groups``: ids, else the project's default group. Raises
        NetworkNotFound, FixedIpInUse, InvalidFixedIp, NoMoreFixedIps,
        PortLimitExceeded, SecurityGroupNotFound, or NetworkError."""
        return await self._call(  # type: ignore[no-any-return]
            "create_port", ctx, network_id=network_id, project_id=project_id,
            device_id=device_id, host=host, fixed_ips=fixed_ips,
            security_groups=security_groups)

    async def bind_port(self, ctx: dict[str, Any], port_id: str, host: str,
                        device_id: str = "") -> dict[str, Any]:
        """Bind the port to ``host`` (and give it to server ``device_id`` when given);
        raises PortNotFound."""
        return await self._call("bind_port", ctx, port_id=port_id, host=host,  # type: ignore[no-any-return]
                                device_id=device_id)

    async def unbind_port(self, ctx: dict[str, Any], port_id: str) -> dict[str, Any]:
        """Unbind the port and free it of its server; raises PortNotFound."""
        return await self._call("unbind_port", ctx, port_id=port_id)  # type: ignore[no-any-return]

    async def set_port_security_groups(self, ctx: dict[str, Any], port_id: str,
                                       group_ids: list[str]) -> dict[str, Any]:
        """Make ``group_ids`` the port's security groups (a server's addSecurityGroup
        and removeSecurityGroup); answers the port's view (as list_ports) with
        ``security_group_names`` beside ``security_groups``. Raises PortNotFound,
        SecurityGroupNotFound, or NetworkError (port security is disabled)."""
        return await self._call("set_port_security_groups", ctx,  # type: ignore[no-any-return]
                                port_id=port_id, group_ids=group_ids)

    async def delete_port(self, ctx: dict[str, Any], port_id: str) -> None:
        """Delete the port (and release its addresses); a missing port is no error."""
        await self._call("delete_port", ctx, port_id=port_id)

    async def get_port(self, ctx: dict[str, Any], port_id: str) -> dict[str, Any] | None:
        """The port's view (as list_ports gives it); None when it does not exist or the
        caller may not see it."""
        return await self._call("get_port", ctx, port_id=port_id)  # type: ignore[no-any-return]

    async def list_ports(self, ctx: dict[str, Any], device_id: str | None = None,
                         port_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """The ports of server ``device_id`` and/or with the ids ``port_ids`` (both
        filters apply when both are given; none answers []), oldest first, each
        {id, project_id, network_id, mac_address, fixed_ips: [{ip_address,
        subnet_id}], device_id, device_owner, status, security_groups,
        binding:host_id, binding:vif_type, binding:vif_details,
        floating_ips: [{floating_ip_address, fixed_ip_address}]}."""
        return await self._call("list_ports", ctx, device_id=device_id,  # type: ignore[no-any-return]
                                port_ids=port_ids)

    async def get_subnets(self, ctx: dict[str, Any], subnet_ids: list[str]
                          ) -> list[dict[str, Any]]:
        """The subnets with these ids that the caller may see (in no set order), each
        {id, name, project_id, network_id, ip_version, cidr, gateway_ip,
        dns_nameservers, host_routes: [{destination, nexthop}], enable_dhcp,
        ipv6_address_mode, ipv6_ra_mode, dhcp_server}; ``dhcp_server`` is the address
        of the subnet's DHCP port (device_owner ``network:dhcp``), else None: what a
        guest's network_data.json needs (Nova's dhcp_server subnet meta)."""
        return await self._call("get_subnets", ctx, subnet_ids=subnet_ids)  # type: ignore[no-any-return]

    async def api(self, ctx: dict[str, Any], verb: str, path: str,
                  query: list[tuple[str, str]] | None = None, body: Any = None
                  ) -> dict[str, Any]:
        """``{"status", "body"}`` of ``verb path`` (``/v2.0/...``) of the networking
        API as the caller would get it over HTTP: for compute's proxy APIs, which Nova
        answers by calling Neutron's API with the caller's token."""
        return await self._call("api", ctx, verb=verb, path=path,  # type: ignore[no-any-return]
                                query=query, body=body)

    async def server_addresses(self, ctx: dict[str, Any], device_ids: list[str]
                               ) -> dict[str, list[dict[str, Any]]]:
        """For each server id, its ports' views (as list_ports), in one query; a server
        without ports maps to []."""
        return await self._call("server_addresses", ctx, device_ids=device_ids)  # type: ignore[no-any-return]
