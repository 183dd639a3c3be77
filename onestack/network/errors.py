"""The refusals of the networking service's bus methods, registered with the bus
codec so that they reach the caller (compute) as themselves. ``str(error)`` is a
message fit for the caller's own API fault; ``subject`` is what the refusal is about
(an address, a network, port or group id or name; Neutron's fault type for the
plain ``NetworkError``). Every class is re-created from ``(message, subject)``."""

from __future__ import annotations

from onestack.kernel.api.faults import ApiError
from onestack.kernel.bus import register_exception


@register_exception
class NetworkError(Exception):
    """Any other refusal (a bad request to networking); ``subject`` is its Neutron
    fault type (InvalidInput, MacAddressInUse, ...)."""

    def __init__(self, message: str, subject: str = "") -> None:
        super().__init__(message, subject)
        self.message = message
        self.subject = subject

    def __str__(self) -> str:
        return self.message


@register_exception
class NetworkNotFound(NetworkError):
    """The network does not exist, or the caller may not put ports on it."""


@register_exception
class PortNotFound(NetworkError):
    """The port does not exist, or the caller may not see it."""


@register_exception
class SecurityGroupNotFound(NetworkError):
    """No security group of the project has that name or id."""


@register_exception
class SecurityGroupNotUnique(NetworkError):
    """More than one security group of the project has that name."""


@register_exception
class FixedIpInUse(NetworkError):
    """The fixed IP asked for is held by another port."""


@register_exception
class InvalidFixedIp(NetworkError):
    """The fixed IP asked for is in none of the network's subnets (or is its network
    or broadcast address)."""


@register_exception
class NoMoreFixedIps(NetworkError):
    """The network has no free address left."""


@register_exception
class PortLimitExceeded(NetworkError):
    """The project's port quota is used up."""


def network_not_found(network_id: str) -> NetworkNotFound:
    return NetworkNotFound(f"Network {network_id} could not be found.", network_id)


def port_not_found(port_id: str) -> PortNotFound:
    return PortNotFound(f"Port id {port_id} could not be found.", port_id)


def security_group_not_found(name: str) -> SecurityGroupNotFound:
    return SecurityGroupNotFound(f"Security group {name} not found.", name)


def translate(error: ApiError, *, network_id: str = "", address: str = "",
              project_id: str = "") -> NetworkError:
    """The bus refusal for an error of the objects layer (Neutron's fault type
    decides), in the words Nova uses for it."""
    kind = str(error.details.get("type") or "")
    ident = str(error.details.get("ident") or "")
    address = str(error.details.get("address") or address)
    if kind == "NetworkNotFound":
        return network_not_found(ident or network_id)
    if kind == "PortNotFound":
        return port_not_found(ident)
    if kind == "SecurityGroupNotFound":
        return security_group_not_found(ident)
    if kind == "IpAddressAlreadyAllocated":
        return FixedIpInUse(f"Fixed IP address {address} is already in use.", address)
    if kind in ("InvalidIpForSubnet", "InvalidIpForNetwork"):
        return InvalidFixedIp(f"Fixed IP {address} is not a valid ip address for network "
                              f"{network_id}.", address)
    if kind == "IpAddressGenerationFailure":
        return NoMoreFixedIps(f"No fixed IP addresses available for network: {network_id}",
                              network_id)
    if kind == "OverQuota":
        return PortLimitExceeded("Maximum number of ports exceeded", project_id)
    return NetworkError(error.message, kind or error.title)

