"""IPAM, pure: subnet and gateway checks, pools, allocation, release, exhaustion."""

from __future__ import annotations

import ipaddress

import pytest

from onestack.network import ipam


def test_default_gateway_and_pools_leave_out_network_broadcast_and_gateway() -> None:
    net, gateway, pools = ipam.validate_subnet("192.168.10.0/24", 4, None, default_gw=True,
                                               pools=None)
    assert str(net) == "192.168.10.0/24"
    assert gateway == "192.168.10.1"
    assert [p.as_dict(4) for p in pools] == [{"start": "192.168.10.2",
                                             "end": "192.168.10.254"}]


def test_no_gateway_gives_the_whole_usable_range() -> None:
    _, gateway, pools = ipam.validate_subnet("10.0.0.0/29", 4, None, default_gw=False,
                                             pools=None)
    assert gateway is None
    assert [p.as_dict(4) for p in pools] == [{"start": "10.0.0.1", "end": "10.0.0.6"}]


def test_gateway_in_the_middle_splits_the_pool() -> None:
    _, _, pools = ipam.validate_subnet("10.0.0.0/29", 4, "10.0.0.3", default_gw=False,
                                       pools=None)
    assert [p.as_dict(4) for p in pools] == [{"start": "10.0.0.1", "end": "10.0.0.2"},
                                             {"start": "10.0.0.4", "end": "10.0.0.6"}]


@pytest.mark.parametrize("gateway, kind", [
    ("10.1.0.1", "InvalidInput"),       # outside the subnet
    ("10.0.0.255", "InvalidInput"),     # broadcast
    ("fe80::1", "InvalidInput"),        # other version
    ("not-an-ip", "InvalidInput"),
])
def test_bad_gateways(gateway: str, kind: str) -> None:
    with pytest.raises(ipam.IpamError) as caught:
        ipam.validate_subnet("10.0.0.0/24", 4, gateway, default_gw=False, pools=None)
    assert caught.value.kind == kind


def test_gateway_inside_a_given_pool_conflicts() -> None:
    with pytest.raises(ipam.IpamError) as caught:
        ipam.validate_subnet("10.0.0.0/24", 4, "10.0.0.5", default_gw=False,
                             pools=[{"start": "10.0.0.2", "end": "10.0.0.10"}])
    assert caught.value.kind == "GatewayConflictWithAllocationPools"


@pytest.mark.parametrize("pools, kind", [
    ([{"start": "10.0.0.2", "end": "10.0.1.10"}], "OutOfBoundsAllocationPool"),
    ([{"start": "10.0.0.20", "end": "10.0.0.10"}], "InvalidAllocationPool"),
    ([{"start": "10.0.0.2", "end": "10.0.0.20"}, {"start": "10.0.0.15", "end": "10.0.0.30"}],
     "OverlappingAllocationPools"),
    ([{"start": "10.0.0.2"}], "InvalidInput"),
])
def test_bad_pools(pools: list[dict[str, str]], kind: str) -> None:
    with pytest.raises(ipam.IpamError) as caught:
        ipam.validate_subnet("10.0.0.0/24", 4, None, default_gw=True, pools=pools)
    assert caught.value.kind == kind


def test_bad_cidrs() -> None:
    for cidr, version in (("10.0.0.0/33", 4), ("nonsense", 4), ("10.0.0.0/24", 6),
                          ("10.0.0.1/32", 4)):
        with pytest.raises(ipam.IpamError):
            ipam.validate_subnet(cidr, version, None, default_gw=True, pools=None)


def test_allocation_is_first_free_then_exhausts() -> None:
    pools = [ipam.Pool(int(ipaddress.ip_address("10.0.0.2")),
                       int(ipaddress.ip_address("10.0.0.4")))]
    used: set[int] = set()
    got = []
    for _ in range(3):
        number = ipam.allocate(pools, used)
        used.add(number)
        got.append(ipam.to_text(number, 4))
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    with pytest.raises(ipam.IpamError) as caught:
        ipam.allocate(pools, used)
    assert caught.value.kind == "IpAddressGenerationFailure"
    used.discard(int(ipaddress.ip_address("10.0.0.3")))  # released on delete
    assert ipam.to_text(ipam.allocate(pools, used), 4) == "10.0.0.3"


def test_candidates_start_after_the_cursor_and_wrap() -> None:
    pools = [ipam.Pool(1, 3), ipam.Pool(10, 11)]
    assert list(ipam.candidates(pools)) == [1, 2, 3, 10, 11]
    assert list(ipam.candidates(pools, after=2)) == [3, 10, 11, 1, 2]
    assert list(ipam.candidates(pools, after=11)) == [1, 2, 3, 10, 11]


def test_requested_addresses() -> None:
    net = ipam.parse_cidr("10.0.0.0/24")
    assert ipam.check_requested(net, "10.0.0.9", "10.0.0.1") == int(
        ipaddress.ip_address("10.0.0.9"))
    for bad in ("10.0.1.9", "10.0.0.0", "10.0.0.255", "::1"):
        with pytest.raises(ipam.IpamError) as caught:
            ipam.check_requested(net, bad, None)
        assert caught.value.kind in ("InvalidIpForSubnet", "InvalidInput")


def test_ipv6_defaults_and_slaac_eui64() -> None:
    net, gateway, pools = ipam.validate_subnet("2001:db8::/64", 6, None, default_gw=True,
                                               pools=None)
    assert gateway == "2001:db8::1"
    assert pools[0].as_dict(6)["start"] == "2001:db8::2"
    assert ipam.eui64(net, "fa:16:3e:12:34:56") == "2001:db8::f816:3eff:fe12:3456"


def test_overlaps() -> None:
    assert ipam.overlaps("10.0.0.0/24", "10.0.0.128/25")
    assert not ipam.overlaps("10.0.0.0/24", "10.0.1.0/24")
    assert not ipam.overlaps("10.0.0.0/24", "2001:db8::/64")
