"""Networks and subnets as a client sees them: discovery, CRUD, provider attributes,
list semantics, tags and bad input."""

from __future__ import annotations

from tests.api.network.conftest import create, error_type, net_with_subnet
from tests.conftest import Api


async def test_version_discovery_and_extensions(network: Api) -> None:
    root = await network.get("/", token="")
    assert root.status_code == 200
    assert root.json()["versions"][0]["id"] == "v2.0"
    v2 = await network.get("/v2.0")
    assert {"network", "subnet", "port"} <= {r["name"] for r in v2.json()["resources"]}
    aliases = {e["alias"] for e in (await network.get("/v2.0/extensions")).json()["extensions"]}
    assert {"router", "external-net", "security-group", "quotas", "provider", "binding",
            "standard-attr-tag"} <= aliases
    assert (await network.get("/v2.0/extensions/router")).json()["extension"]["alias"] == \
        "router"
    missing = await network.get("/v2.0/extensions/dvr")
    assert missing.status_code == 404


async def test_network_crud_with_standard_attributes(network: Api) -> None:
    net = await create(network, "networks", "network", name="n1", description="d")
    assert net["status"] == "ACTIVE" and net["admin_state_up"] is True
    assert net["mtu"] == 1450 and net["provider:network_type"] == "vxlan"
    assert net["provider:segmentation_id"] >= 1
    assert net["revision_number"] == 0 and net["created_at"].endswith("Z")
    updated = await network.put(f"/v2.0/networks/{net['id']}",
                                json={"network": {"name": "n2"}})
    assert updated.json()["network"]["name"] == "n2"
    assert updated.json()["network"]["revision_number"] == 1
    assert (await network.delete(f"/v2.0/networks/{net['id']}")).status_code == 204
    gone = await network.get(f"/v2.0/networks/{net['id']}")
    assert gone.status_code == 404 and error_type(gone) == "NetworkNotFound"


async def test_provider_flat_and_vxlan_ranges(network: Api) -> None:
    flat = await create(network, "networks", "network", name="pub", **{
        "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": "physnet1"})
    assert flat["router:external"] is True and flat["mtu"] == 1500
    again = await network.post("/v2.0/networks", json={"network": {
        "provider:network_type": "flat", "provider:physical_network": "physnet1"}})
    assert again.status_code == 409 and error_type(again) == "FlatNetworkInUse"
    unknown = await network.post("/v2.0/networks", json={"network": {
        "provider:network_type": "flat", "provider:physical_network": "nowhere"}})
    assert unknown.status_code == 400
    first = await create(network, "networks", "network", **{
        "provider:network_type": "vxlan", "provider:segmentation_id": 4242})
    assert first["provider:segmentation_id"] == 4242
    taken = await network.post("/v2.0/networks", json={"network": {
        "provider:network_type": "vxlan", "provider:segmentation_id": 4242}})
    assert taken.status_code == 409 and error_type(taken) == "TunnelIdInUse"
    bad = await network.post("/v2.0/networks", json={"network": {
        "provider:network_type": "gre"}})
    assert bad.status_code == 400


async def test_subnet_defaults_and_overlap_within_a_network(network: Api) -> None:
    net, sub = await net_with_subnet(network, "192.168.10.0/24")
    assert sub["gateway_ip"] == "192.168.10.1" and sub["enable_dhcp"] is True
    assert sub["allocation_pools"] == [{"start": "192.168.10.2", "end": "192.168.10.254"}]
    overlap = await network.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "192.168.10.128/25", "ip_version": 4}})
    assert overlap.status_code == 400 and "overlaps with another subnet" in overlap.text
    other, _ = await net_with_subnet(network, "192.168.10.0/24")  # another network: fine
    shown = await network.get(f"/v2.0/networks/{net['id']}")
    assert shown.json()["network"]["subnets"] == [sub["id"]]
    assert other["id"] != net["id"]


async def test_subnet_options_and_bad_input(network: Api) -> None:
    net = await create(network, "networks", "network")
    sub = await create(network, "subnets", "subnet", network_id=net["id"],
                       cidr="203.0.113.0/24", ip_version=4, enable_dhcp=False,
                       gateway_ip="203.0.113.1", dns_nameservers=["8.8.8.8"],
                       host_routes=[{"destination": "10.9.0.0/16", "nexthop": "203.0.113.9"}])
    assert sub["gateway_ip"] == "203.0.113.1" and sub["enable_dhcp"] is False
    assert sub["dns_nameservers"] == ["8.8.8.8"]
    for bad in ({"cidr": "10.0.0.0/24", "gateway_ip": "10.1.0.1"},
                {"cidr": "not-a-cidr"},
                {"cidr": "10.5.0.0/24", "allocation_pools": [{"start": "10.6.0.1",
                                                              "end": "10.6.0.5"}]}):
        response = await network.post("/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, **bad}})
        assert response.status_code == 400, bad
    v6 = await create(network, "subnets", "subnet", network_id=net["id"],
                      cidr="2001:db8::/64", ip_version=6, ipv6_address_mode="slaac",
                      ipv6_ra_mode="slaac")
    assert v6["gateway_ip"] == "2001:db8::1"
    updated = await network.put(f"/v2.0/subnets/{sub['id']}",
                                json={"subnet": {"name": "renamed"}})
    assert updated.json()["subnet"]["name"] == "renamed"
    readonly = await network.put(f"/v2.0/subnets/{sub['id']}",
                                 json={"subnet": {"cidr": "10.0.0.0/24"}})
    assert readonly.status_code == 400


async def test_filter_sort_page_and_fields(network: Api) -> None:
    for name in ("c", "a", "b"):
        await create(network, "networks", "network", name=name)
    ordered = await network.get("/v2.0/networks?sort_key=name&sort_dir=asc&fields=name")
    assert [n["name"] for n in ordered.json()["networks"]] == ["a", "b", "c"]
    assert set(ordered.json()["networks"][0]) == {"name"}
    only = await network.get("/v2.0/networks?name=b")
    assert [n["name"] for n in only.json()["networks"]] == ["b"]
    page = await network.get("/v2.0/networks?sort_key=name&limit=2")
    body = page.json()
    assert [n["name"] for n in body["networks"]] == ["a", "b"]
    assert body["networks_links"][0]["rel"] == "next"
    marker = body["networks"][-1]["id"]
    rest = await network.get(f"/v2.0/networks?sort_key=name&limit=2&marker={marker}")
    assert [n["name"] for n in rest.json()["networks"]] == ["c"]


async def test_tags(network: Api) -> None:
    net = await create(network, "networks", "network", name="tagged")
    base = f"/v2.0/networks/{net['id']}/tags"
    assert (await network.put(base + "/red")).status_code == 201
    assert (await network.put(base, json={"tags": ["a", "b"]})).json() == {"tags": ["a", "b"]}
    assert (await network.get(base + "/a")).status_code == 204
    assert (await network.get(base + "/red")).status_code == 404
    found = await network.get("/v2.0/networks?tags=a,b")
    assert [n["id"] for n in found.json()["networks"]] == [net["id"]]
    none = await network.get("/v2.0/networks?not-tags-any=a")
    assert net["id"] not in [n["id"] for n in none.json()["networks"]]
    assert (await network.delete(base)).status_code == 204
    assert (await network.get(base)).json() == {"tags": []}


async def test_network_in_use_is_409(network: Api) -> None:
    net, _ = await net_with_subnet(network)
    await create(network, "ports", "port", network_id=net["id"])
    busy = await network.delete(f"/v2.0/networks/{net['id']}")
    assert busy.status_code == 409 and error_type(busy) == "NetworkInUse"


async def test_malformed_bodies(network: Api) -> None:
    missing = await network.post("/v2.0/networks", json={"nope": {}})
    assert missing.status_code == 400 and "NeutronError" in missing.json()
    unknown = await network.post("/v2.0/subnets", json={"subnet": {"cidr": "10.0.0.0/24"}})
    assert unknown.status_code == 400
    no_token = await network.get("/v2.0/networks", token="")
    assert no_token.status_code == 401
