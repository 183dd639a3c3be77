"""Tenant isolation and quotas: a project sees its own resources and shared and
external networks; only admins set provider attributes."""

from __future__ import annotations

from onestack.cloud import Cloud
from tests.api.identity.helpers import member_token
from tests.api.network.conftest import Tenants, create, net_with_subnet
from tests.conftest import Api


async def test_projects_see_only_their_own_and_shared(network: Api, tenants: Tenants) -> None:
    mine, _ = await net_with_subnet(tenants.alice, "10.20.0.0/24")
    shared = await create(network, "networks", "network", name="shared", shared=True)
    external = await create(network, "networks", "network", name="ext",
                            **{"router:external": True})
    hidden = await create(network, "networks", "network", name="admin-only")
    seen = {n["id"] for n in (await tenants.bob.get("/v2.0/networks")).json()["networks"]}
    assert shared["id"] in seen and external["id"] in seen
    assert mine["id"] not in seen and hidden["id"] not in seen
    other = await tenants.bob.get(f"/v2.0/networks/{mine['id']}")
    assert other.status_code == 404
    assert (await tenants.bob.delete(f"/v2.0/networks/{mine['id']}")).status_code == 404
    port = await create(tenants.bob, "ports", "port", network_id=shared["id"])
    assert port["project_id"] == tenants.two["id"]
    assert "binding:host_id" not in port and "provider:network_type" not in mine
    alice_ports = (await tenants.alice.get("/v2.0/ports")).json()["ports"]
    assert port["id"] not in [p["id"] for p in alice_ports]
    foreign = await tenants.bob.post("/v2.0/ports", json={"port": {"network_id": mine["id"]}})
    assert foreign.status_code == 404


async def test_only_admins_set_provider_or_shared(tenants: Tenants) -> None:
    for body in ({"provider:network_type": "vxlan"}, {"shared": True},
                 {"router:external": True}):
        refused = await tenants.alice.post("/v2.0/networks", json={"network": body})
        assert refused.status_code == 403, body
    other_project = await tenants.alice.post("/v2.0/networks", json={"network": {
        "project_id": tenants.two["id"]}})
    assert other_project.status_code == 400


async def test_quotas(network: Api, tenants: Tenants) -> None:
    project = tenants.one["id"]
    shown = await tenants.alice.get(f"/v2.0/quotas/{project}")
    assert shown.json()["quota"]["network"] == 100
    refused = await tenants.alice.put(f"/v2.0/quotas/{project}",
                                      json={"quota": {"network": 1}})
    assert refused.status_code == 403
    updated = await network.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 1}})
    assert updated.json()["quota"]["network"] == 1
    await create(tenants.alice, "networks", "network")
    over = await tenants.alice.post("/v2.0/networks", json={"network": {}})
    assert over.status_code == 409 and over.json()["NeutronError"]["type"] == "OverQuota"
    details = await tenants.alice.get(f"/v2.0/quotas/{project}/details")
    assert details.json()["quota"]["network"] == {"limit": 1, "used": 1, "reserved": 0}
    listed = (await network.get("/v2.0/quotas")).json()["quotas"]
    assert [q["project_id"] for q in listed] == [project]
    assert (await network.delete(f"/v2.0/quotas/{project}")).status_code == 204
    assert (await tenants.alice.get(f"/v2.0/quotas/{project}")).json()["quota"]["network"] == 100


async def test_a_reader_reads_but_never_writes_their_projects_resources(
        cloud: Cloud, network: Api, tenants: Tenants) -> None:
    identity = Api(cloud, "identity", clients=network.clients)
    identity.token = network.token
    reader = network.as_token(await member_token(identity, "net-reader", tenants.one,
                                                 role="reader"))
    made = await tenants.alice.post("/v2.0/networks", json={"network": {"name": "owned"}})
    assert made.status_code == 201, made.text
    net_id = made.json()["network"]["id"]
    assert (await reader.get(f"/v2.0/networks/{net_id}")).status_code == 200
    refused = [
        await reader.post("/v2.0/networks", json={"network": {"name": "nope"}}),
        await reader.put(f"/v2.0/networks/{net_id}", json={"network": {"name": "renamed"}}),
        await reader.delete(f"/v2.0/networks/{net_id}"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403], [r.text for r in refused]
    assert (await tenants.alice.get(f"/v2.0/networks/{net_id}")).json()["network"][
        "name"] == "owned"
