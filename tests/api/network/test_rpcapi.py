"""What compute uses: ports made, bound, listed and deleted over the bus."""

from __future__ import annotations

from onestack.cloud import Cloud
from onestack.kernel.bus import Target, connect
from onestack.network.manager import NetworkEndpoints
from onestack.network.rpcapi import NetworkAPI
from tests.api.network.conftest import net_with_subnet
from tests.conftest import Api


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
