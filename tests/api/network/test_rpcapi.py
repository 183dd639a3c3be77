"""What compute uses: networks and security groups found, ports made, bound, listed,
shown and deleted over the bus, and the refusals compute maps to its faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from onestack.cloud import Cloud
from onestack.kernel.bus import Target, connect
from onestack.network.manager import NetworkEndpoints
from onestack.network.rpcapi import (
    FixedIpInUse,
    InvalidFixedIp,
    NetworkAPI,
    NetworkError,
    NetworkNotFound,
    NoMoreFixedIps,
    PortLimitExceeded,
    PortNotFound,
    SecurityGroupNotFound,
    SecurityGroupNotUnique,
)
from tests.api.network.conftest import Tenants, create, net_with_subnet
from tests.conftest import Api, bus_context, cloud_bus


async def test_compute_creates_binds_and_deletes_ports_over_the_bus(cloud: Cloud,
                                                                    network: Api) -> None:
    net, _ = await net_with_subnet(network, "192.168.10.0/24")
    bus = connect("local://network-rpc-test")
    server = await bus.serve(Target("network"), NetworkEndpoints(cloud.services["network"]))
    try:
        api = NetworkAPI(bus, timeout=10)
        ctx = {"project_id": net["project_id"], "roles": ["admin"]}
        assert (await api.get_network(ctx, net["id"]))["id"] == net["id"]
        port = await api.create_port(ctx, net["id"], net["project_id"], "server-1")
        assert port["status"] == "DOWN"
        assert port["fixed_ips"][0]["ip_address"].startswith("192.168.10.")
        bound = await api.bind_port(ctx, port["id"], "compute-1")
        assert bound["status"] == "ACTIVE" and bound["binding:host_id"] == "compute-1"
        assert [p["id"] for p in await api.list_ports(ctx, "server-1")] == [port["id"]]
        shown = (await network.get(f"/v2.0/ports/{port['id']}")).json()["port"]
        assert shown["status"] == "ACTIVE" and shown["device_owner"] == "compute:nova"
        await api.unbind_port(ctx, port["id"])
        await api.delete_port(ctx, port["id"])
        assert await api.list_ports(ctx, "server-1") == []
        backend = cloud.services["network"].backend
        assert ("port_deleted", port["id"]) in backend.events
    finally:
        await server.stop()
        await bus.close()


# -- through the network service's own bus endpoints, with its loops running ----------
@pytest.fixture
async def rpc(running: Cloud) -> AsyncIterator[NetworkAPI]:
    async with cloud_bus(running) as bus:
        yield NetworkAPI(bus, timeout=10)


ctx_of = bus_context
ADMIN = ctx_of("admin-project", "admin")


async def test_usable_networks_are_own_and_shared_never_external(
        rpc: NetworkAPI, network: Api, tenants: Tenants) -> None:
    one, two = tenants.one["id"], tenants.two["id"]
    shared = await create(network, "networks", "network", name="shared", shared=True)
    shared_subnet = await create(network, "subnets", "subnet", network_id=shared["id"],
                                 cidr="10.50.0.0/24", ip_version=4)
    await create(network, "networks", "network", name="public", shared=True,
                 **{"router:external": True})
    own, own_subnet = await net_with_subnet(tenants.alice, "10.51.0.0/24")
    await net_with_subnet(tenants.bob, "10.52.0.0/24")

    usable = await rpc.usable_networks(ctx_of(one), one)
    assert usable == [
        {"id": shared["id"], "name": "shared", "project_id": shared["project_id"],
         "shared": True, "subnets": [shared_subnet["id"]]},
        {"id": own["id"], "name": "net", "project_id": one, "shared": False,
         "subnets": [own_subnet["id"]]}]
    assert [n["id"] for n in await rpc.usable_networks(ADMIN, one)] == [shared["id"],
                                                                        own["id"]]
    # another project's caller sees none of project one's own networks
    assert [n["id"] for n in await rpc.usable_networks(ctx_of(two), one)] == [shared["id"]]


async def test_get_network_answers_none_for_missing_or_invisible(
        rpc: NetworkAPI, network: Api, tenants: Tenants) -> None:
    one = tenants.one["id"]
    theirs, _ = await net_with_subnet(tenants.bob, "10.53.0.0/24")
    own, own_subnet = await net_with_subnet(tenants.alice, "10.54.0.0/24")
    public = await create(network, "networks", "network", name="public",
                          **{"router:external": True})

    assert await rpc.get_network(ctx_of(one), "no-such-network") is None
    assert await rpc.get_network(ctx_of(one), theirs["id"]) is None
    shown = await rpc.get_network(ctx_of(one), own["id"])
    assert shown is not None
    assert shown["subnets"] == [own_subnet["id"]] and shown["project_id"] == one
    assert {"id", "name", "mtu", "shared", "router:external",
            "provider:network_type"} <= set(shown)
    external = await rpc.get_network(ctx_of(one), public["id"])
    assert external is not None and external["router:external"] is True
    assert (await rpc.get_network(ADMIN, theirs["id"]) or {}).get("id") == theirs["id"]


async def test_security_groups_resolve_and_default_is_made_on_first_use(
        rpc: NetworkAPI, tenants: Tenants) -> None:
    one, two = tenants.one["id"], tenants.two["id"]
    [default] = await rpc.resolve_security_groups(ctx_of(one), one, ["default"])
    listed = (await tenants.alice.get("/v2.0/security-groups")).json()["security_groups"]
    assert [(g["id"], g["name"]) for g in listed] == [(default, "default")]

    web = await create(tenants.alice, "security-groups", "security_group", name="web")
    assert await rpc.resolve_security_groups(ctx_of(one), one, [
        "web", "default", web["id"]]) == [web["id"], default]
    with pytest.raises(SecurityGroupNotFound) as missing:
        await rpc.resolve_security_groups(ctx_of(one), one, ["default", "nope"])
    assert str(missing.value) == "Security group nope not found."
    assert missing.value.subject == "nope"
    # another project's groups are not found for its caller, by name or id
    with pytest.raises(SecurityGroupNotFound):
        await rpc.resolve_security_groups(ctx_of(two), one, [web["id"]])
    for _ in range(2):
        await create(tenants.alice, "security-groups", "security_group", name="twice")
    with pytest.raises(SecurityGroupNotUnique):
        await rpc.resolve_security_groups(ctx_of(one), one, ["twice"])


async def test_create_port_refusals_cross_the_bus_as_themselves(
        rpc: NetworkAPI, network: Api, tenants: Tenants) -> None:
    one = tenants.one["id"]
    net, sub = await net_with_subnet(tenants.alice, "192.168.20.0/24")
    ctx = ctx_of(one)
    taken = await rpc.create_port(ctx, net["id"], one, "server-a",
                                  fixed_ips=[{"ip_address": "192.168.20.10"}])
    assert taken["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "192.168.20.10"}]

    with pytest.raises(FixedIpInUse) as in_use:
        await rpc.create_port(ctx, net["id"], one, "server-b",
                              fixed_ips=[{"ip_address": "192.168.20.10"}])
    assert str(in_use.value) == "Fixed IP address 192.168.20.10 is already in use."
    with pytest.raises(InvalidFixedIp) as outside:
        await rpc.create_port(ctx, net["id"], one, "server-b",
                              fixed_ips=[{"ip_address": "10.9.9.9"}])
    assert outside.value.subject == "10.9.9.9"
    with pytest.raises(InvalidFixedIp):
        await rpc.create_port(ctx, net["id"], one, "server-b", fixed_ips=[
            {"subnet_id": sub["id"], "ip_address": "192.168.20.255"}])
    with pytest.raises(NetworkNotFound):
        await rpc.create_port(ctx, "no-such-network", one, "server-b")
    theirs, _ = await net_with_subnet(tenants.bob, "192.168.21.0/24")
    with pytest.raises(NetworkNotFound):
        await rpc.create_port(ctx, theirs["id"], one, "server-b")
    with pytest.raises(SecurityGroupNotFound):
        await rpc.create_port(ctx, net["id"], one, "server-b", security_groups=["nope"])

    tiny, _ = await net_with_subnet(tenants.alice, "192.168.22.0/30")
    await rpc.create_port(ctx, tiny["id"], one, "server-c")
    with pytest.raises(NoMoreFixedIps) as exhausted:
        await rpc.create_port(ctx, tiny["id"], one, "server-d")
    assert exhausted.value.subject == tiny["id"]

    limited = await network.put(f"/v2.0/quotas/{one}", json={"quota": {"port": 2}})
    assert limited.status_code == 200, limited.text
    with pytest.raises(PortLimitExceeded) as over:
        await rpc.create_port(ctx, net["id"], one, "server-e")
    assert isinstance(over.value, NetworkError)
    assert str(over.value) == "Maximum number of ports exceeded"
    # nothing was left behind by the refusals
    ports = (await tenants.alice.get("/v2.0/ports")).json()["ports"]
    assert sorted(p["device_id"] for p in ports) == ["server-a", "server-c"]


async def test_port_views_with_floating_ips_and_server_addresses(
        rpc: NetworkAPI, network: Api, tenants: Tenants) -> None:
    one = tenants.one["id"]
    public = await create(network, "networks", "network", name="public",
                          **{"router:external": True})
    await create(network, "subnets", "subnet", network_id=public["id"],
                 cidr="172.31.0.0/24", ip_version=4)
    net, sub = await net_with_subnet(network, "10.60.0.0/24")
    router = await create(network, "routers", "router", name="r",
                          external_gateway_info={"network_id": public["id"]})
    added = await network.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                              json={"subnet_id": sub["id"]})
    assert added.status_code == 200, added.text
    shared = await create(network, "networks", "network", name="shared", shared=True)
    await create(network, "subnets", "subnet", network_id=shared["id"],
                 cidr="10.61.0.0/24", ip_version=4)

    first = await rpc.create_port(ADMIN, net["id"], one, "server-a", host="compute-1")
    second = await rpc.create_port(ctx_of(one), shared["id"], one, "server-a")
    other = await rpc.create_port(ctx_of(one), shared["id"], one, "server-b")
    fip = await create(network, "floatingips", "floatingip",
                       floating_network_id=public["id"], port_id=first["id"])

    shown = await rpc.get_port(ctx_of(one), first["id"])
    assert shown is not None
    assert shown["floating_ips"] == [{"floating_ip_address": fip["floating_ip_address"],
                                      "fixed_ip_address": first["fixed_ips"][0]["ip_address"]}]
    assert shown["network_id"] == net["id"] and shown["device_id"] == "server-a"
    assert shown["mac_address"] == first["mac_address"]
    assert shown["fixed_ips"][0]["subnet_id"] == sub["id"]
    assert shown["status"] == "ACTIVE" and shown["binding:vif_type"] != "unbound"
    assert await rpc.get_port(ctx_of(one), "no-such-port") is None
    assert await rpc.get_port(ctx_of(tenants.two["id"]), first["id"]) is None

    picked = await rpc.list_ports(ctx_of(one), port_ids=[other["id"], first["id"]])
    assert [p["id"] for p in picked] == [first["id"], other["id"]]
    assert [p["id"] for p in await rpc.list_ports(ctx_of(one), "server-a",
                                                  port_ids=[second["id"], other["id"]])] \
        == [second["id"]]
    assert await rpc.list_ports(ctx_of(one)) == []

    addresses = await rpc.server_addresses(ctx_of(one), ["server-a", "server-b", "server-z"])
    assert [p["id"] for p in addresses["server-a"]] == [first["id"], second["id"]]
    assert [p["id"] for p in addresses["server-b"]] == [other["id"]]
    assert addresses["server-z"] == []
    assert addresses["server-a"][1]["floating_ips"] == []
    assert await rpc.server_addresses(ctx_of(tenants.two["id"]), ["server-a"]) == {
        "server-a": []}

    with pytest.raises(PortNotFound):
        await rpc.bind_port(ADMIN, "no-such-port", "compute-1")
    await rpc.delete_port(ADMIN, first["id"])
    floating = (await network.get(f"/v2.0/floatingips/{fip['id']}")).json()["floatingip"]
    assert floating["port_id"] is None
