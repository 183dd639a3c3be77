"""IP address management, pure: subnets, gateways and allocation pools are checked
and addresses chosen here, from plain values; nothing here touches the database.

The caller (objects/ports.py) stores every allocation under a unique key
(network, address), so two writers can never hold the same address: the database
settles races, this module only proposes candidates.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from onestack.kernel.api.faults import ApiError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 address modes where the address comes from the prefix and the MAC (EUI-64).
SLAAC_MODES = ("slaac", "dhcpv6-stateless")


# Refusals that are conflicts (409) rather than bad requests (400).
CONFLICTS = {"IpAddressGenerationFailure", "IpAddressAlreadyAllocated"}


class IpamError(ApiError):
    """A request IPAM refuses; ``kind`` is upstream's exception name (the fault type)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message, type=kind)
        self.kind = kind
        self.status = 409 if kind in CONFLICTS else 400
        self.title = "Conflict" if kind in CONFLICTS else "Bad Request"


def invalid(message: str) -> IpamError:
    return IpamError("InvalidInput", f"Invalid input for operation: {message}")


@dataclass(frozen=True)
class Pool:
    start: int
    end: int  # inclusive

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    def as_dict(self, version: int) -> dict[str, str]:
        make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        return {"start": str(make(self.start)), "end": str(make(self.end))}


def parse_cidr(cidr: str, version: int | None = None, *, subnet: bool = True) -> Network:
    try:
        net = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        raise invalid(f"'{cidr}' is not a valid IP subnet.") from None
    if version is not None and net.version != version:
        raise invalid(f"Invalid CIDR {cidr} for IP version {version}.")
    if subnet and net.num_addresses < 2:
        raise invalid(f"'{cidr}' is too small a subnet.")
    return net


def parse_ip(value: str, what: str = "IP address") -> Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise invalid(f"'{value}' is not a valid {what}") from None


def usable_range(net: Network) -> tuple[int, int]:
    """First and last address a pool may hold: IPv4 leaves out the network and
    broadcast addresses, IPv6 the subnet-router anycast address."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen >= 31:
            return first, last
        return first + 1, last - 1
    return first + 1, last


def default_gateway(net: Network) -> str | None:
    first, last = usable_range(net)
    return str(ipaddress.ip_address(first)) if first <= last else None


def default_pools(net: Network, gateway: str | None) -> list[Pool]:
    """The whole usable range, less the gateway."""
    first, last = usable_range(net)
    if gateway is None:
        return [Pool(first, last)] if first <= last else []
    gw = int(ipaddress.ip_address(gateway))
    pools = []
    if first <= gw - 1:
        pools.append(Pool(first, min(gw - 1, last)))
    if gw + 1 <= last:
        pools.append(Pool(max(gw + 1, first), last))
    return pools


def check_gateway(net: Network, gateway: str | None) -> str | None:
    if gateway is None:
        return None
    address = parse_ip(gateway, "gateway IP")
    if address.version != net.version:
        raise invalid(f"Gateway IP {gateway} is of another IP version than the subnet.")
    number = int(address)
    if net.version == 4 and net.prefixlen < 31 and number in (
            int(net.network_address), int(net.broadcast_address)):
        raise invalid(f"Gateway ip {gateway} conflicts with allocation pool")
    if address not in net:
        raise IpamError("InvalidInput", f"Invalid input for operation: Gateway IP {gateway} "
                        f"is not in subnet {net}.")
    return str(address)


def parse_pools(net: Network, pools: Sequence[dict[str, str]]) -> list[Pool]:
    parsed: list[Pool] = []
    for pool in pools:
        try:
            start = parse_ip(pool["start"], "allocation pool start")
            end = parse_ip(pool["end"], "allocation pool end")
        except (KeyError, TypeError):
            raise invalid("Allocation pools need a start and an end.") from None
        if start.version != net.version or end.version != net.version:
            raise IpamError("InvalidAllocationPool",
                            f"The allocation pool {pool['start']}-{pool['end']} spans "
                            "another IP version.")
        if start not in net or end not in net:
            raise IpamError("OutOfBoundsAllocationPool",
                            f"The allocation pool {start}-{end} spans beyond the subnet "
                            f"cidr {net}.")
        if int(start) > int(end):
            raise IpamError("InvalidAllocationPool",
                            f"The allocation pool {start}-{end} is not valid.")
        parsed.append(Pool(int(start), int(end)))
    ordered = sorted(parsed, key=lambda p: p.start)
    for before, after in itertools.pairwise(ordered):
        if after.start <= before.end:
            raise IpamError("OverlappingAllocationPools",
                            "Found overlapping allocation pools.")
    return ordered


def validate_subnet(cidr: str, version: int, gateway: str | None, *, default_gw: bool,
                    pools: Sequence[dict[str, str]] | None
                    ) -> tuple[Network, str | None, list[Pool]]:
    """Check a subnet request. ``default_gw``: no gateway_ip was given (the first
    usable address); ``gateway`` None with ``default_gw`` False: no gateway."""
    net = parse_cidr(cidr, version)
    gw = default_gateway(net) if default_gw else check_gateway(net, gateway)
    if pools is None:
        chosen = default_pools(net, gw)
    else:
        chosen = parse_pools(net, pools)
        if gw is not None and any(p.start <= int(ipaddress.ip_address(gw)) <= p.end
                                  for p in chosen):
            if default_gw:
                gw = None  # upstream: no gateway rather than one inside a pool
            else:
                raise IpamError("GatewayConflictWithAllocationPools",
                                f"Gateway ip {gw} conflicts with allocation pool "
                                f"{chosen[0].as_dict(version)}.")
    return net, gw, chosen


def pool_size(pools: Sequence[Pool]) -> int:
    return sum(p.size for p in pools)


def candidates(pools: Sequence[Pool], after: int | None = None) -> Iterator[int]:
    """Every pool address once, starting just after ``after`` (the last address this
    process handed out) and wrapping round: the next free address is then found in
    one or two probes instead of a scan from the start."""
    ordered = sorted(pools, key=lambda p: p.start)
    if after is None:
        for pool in ordered:
            yield from range(pool.start, pool.end + 1)
        return
    for pool in ordered:
        if pool.end > after:
            yield from range(max(pool.start, after + 1), pool.end + 1)
    for pool in ordered:
        if pool.start <= after:
            yield from range(pool.start, min(pool.end, after) + 1)


def allocate(pools: Sequence[Pool], used: set[int], after: int | None = None) -> int:
    """The next free address of the pools, or IpAddressGenerationFailure."""
    for number in candidates(pools, after):
        if number not in used:
            return number
    raise exhausted()


def exhausted(network_id: str = "") -> IpamError:
    return IpamError("IpAddressGenerationFailure",
                     f"No more IP addresses available on network {network_id}.")


def check_requested(net: Network, address: str, gateway: str | None) -> int:
    """A fixed IP a port asks for: inside the subnet, not its network address."""
    ip = parse_ip(address)
    if ip.version != net.version or ip not in net:
        raise IpamError("InvalidIpForSubnet",
                        f"IP address {address} is not a valid IP for the specified subnet.")
    number = int(ip)
    if net.version == 4 and net.prefixlen < 31 and number in (
            int(net.network_address), int(net.broadcast_address)):
        raise IpamError("InvalidIpForSubnet",
                        f"IP address {address} is not a valid IP for the specified subnet.")
    return number


def eui64(net: Network, mac: str) -> str:
    """The SLAAC address of ``mac`` in an IPv6 /64 (modified EUI-64)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = [*octets[:3], 255, 254, *octets[3:]]
    suffix = int.from_bytes(bytes(interface), "big")
    return str(ipaddress.IPv6Address(int(net.network_address) | suffix))


def to_text(number: int, version: int) -> str:
    return str(ipaddress.IPv4Address(number) if version == 4 else ipaddress.IPv6Address(number))


def overlaps(a: str, b: str) -> bool:
    first, second = ipaddress.ip_network(a), ipaddress.ip_network(b)
    return first.version == second.version and first.overlaps(second)
