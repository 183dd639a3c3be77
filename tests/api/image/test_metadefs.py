"""The metadata definitions catalog: namespaces (visibility, protection, owners),
resource types and associations, objects, properties and tags; and the errors a
client meets (400 with a message, 403, 404, 409; never a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud, prepare_state_dir
from tests.api.identity.helpers import make_project, member_token
from tests.api.image.conftest import Projects
from tests.conftest import ADMIN_PASSWORD, Api
from tests.conftest import test_config as cloud_config

NS = "/v2/metadefs/namespaces"
PROPERTY = {"title": "Hypervisor", "type": "string", "enum": ["kvm", "qemu", "xen"]}


async def make_namespace(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(NS, json={"namespace": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def detail(response: Any) -> str:
    return response.json()["errors"][0]["detail"]


async def test_namespace_lifecycle(image: Api) -> None:
    kinds = (await image.get("/v2/metadefs/resource_types")).json()["resource_types"]
    assert {"OS::Glance::Image", "OS::Nova::Flavor"} <= {k["name"] for k in kinds}
    assert all(set(k) == {"name", "created_at", "updated_at"} for k in kinds)
    created = await make_namespace(
        image, "OS::Test::Compute", display_name="Compute", description="Tempest",
        visibility="public", protected=True,
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "hw_"}],
        properties={"cpu": {"title": "CPU", "type": "integer", "minimum": 1}},
        objects=[{"name": "Topology", "required": ["cores"],
                  "properties": {"cores": {"title": "Cores", "type": "integer"}}}],
        tags=[{"name": "fast"}, {"name": "big"}])
    assert created["namespace"] == "OS::Test::Compute"
    assert created["visibility"] == "public" and created["protected"] is True
    assert created["self"] == f"{NS}/OS::Test::Compute"
    assert created["schema"] == "/v2/schemas/metadefs/namespace"
    assert created["owner"] and created["created_at"].endswith("Z")
    assert [a["name"] for a in created["resource_type_associations"]] == ["OS::Glance::Image"]
    assert created["properties"] == {"cpu": {"title": "CPU", "type": "integer",
                                             "minimum": 1}}
    assert created["objects"][0]["name"] == "Topology"
    assert sorted(t["name"] for t in created["tags"]) == ["big", "fast"]
    url = f"{NS}/OS::Test::Compute"
    shown = (await image.get(url)).json()
    assert shown == created
    # the properties as the resource type sees them: with the association's prefix
    seen = (await image.get(f"{url}?resource_type=OS::Glance::Image")).json()
    assert list(seen["properties"]) == ["hw_cpu"]
    listed = (await image.get(NS)).json()
    assert listed["first"] == NS and listed["schema"] == "/v2/schemas/metadefs/namespaces"
    assert "OS::Test::Compute" in [n["namespace"] for n in listed["namespaces"]]
    # protected: not deletable (nor all of its tags at once) until unprotected
    refused = await image.delete(url)
    assert refused.status_code == 403 and "protected" in detail(refused)
    assert (await image.delete(f"{url}/tags")).status_code == 403
    updated = await image.put(url, json={"namespace": "OS::Test::Renamed",
                                         "visibility": "private", "protected": False,
                                         "description": "changed"})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["namespace"], body["visibility"], body["protected"]) == (
        "OS::Test::Renamed", "private", False)
    assert body["display_name"] == "Compute" and body["description"] == "changed"
    assert (await image.get(url)).status_code == 404
    assert (await image.delete(f"{NS}/OS::Test::Renamed")).status_code == 204
    assert (await image.get(f"{NS}/OS::Test::Renamed")).status_code == 404
    assert (await image.delete(f"{NS}/OS::Test::Renamed")).status_code == 404


@pytest.mark.parametrize(("body", "status", "words"), [
    ({}, 400, "namespace"),
    ({"namespace": ""}, 400, "namespace"),
    ({"namespace": "x" * 81}, 400, "namespace"),
    ({"namespace": "n", "visibility": "shared"}, 400, "visibility"),
    ({"namespace": "n", "protected": "yes"}, 400, "protected"),
    ({"namespace": "n", "color": "red"}, 400, "must not contain"),
    ({"namespace": "n", "properties": {"p": {"title": "P"}}}, 400, "type"),
    ({"namespace": "n", "properties": {"p": {"title": "P", "type": "float"}}}, 400, "type"),
    ({"namespace": "n", "properties": {"p": {"title": "P", "type": "string",
                                             "pattern": "("}}}, 400, "pattern"),
    ({"namespace": "n", "properties": {"p": {"title": "P", "type": "integer",
                                             "minimum": 5, "maximum": 1}}}, 400, "minimum"),
    ({"namespace": "n", "objects": [{"name": "o", "required": ["a"]}]}, 400, "required"),
    ({"namespace": "n", "tags": [{"name": "a"}, {"name": "a"}]}, 409, "Duplicate"),
    ({"namespace": "n", "owner": "someone-else"}, 201, ""),
])
async def test_namespace_create_errors(image: Api, body: dict[str, Any], status: int,
                                       words: str) -> None:
    response = await image.post(NS, json=body)
    assert response.status_code == status, response.text
    if status >= 400:
        assert words in detail(response)
        assert (await image.get(f"{NS}/n")).status_code == 404  # nothing half-made


async def test_namespace_conflicts_and_bad_bodies(image: Api) -> None:
    await make_namespace(image, "one")
    await make_namespace(image, "two")
    assert (await image.post(NS, json={"namespace": "one"})).status_code == 409
    renamed = await image.put(f"{NS}/two", json={"namespace": "one"})
    assert renamed.status_code == 409 and "already exists" in detail(renamed)
    assert (await image.post(NS, content=b"{nope", headers={
        "Content-Type": "application/json"})).status_code == 400
    assert (await image.post(NS, json=["namespace"])).status_code == 400
    assert (await image.put(f"{NS}/missing", json={"namespace": "missing"})
            ).status_code == 404
    for path in ("objects", "properties", "tags", "resource_types", "objects/o",
                 "properties/p", "tags/t"):
        assert (await image.get(f"{NS}/missing/{path}")).status_code == 404, path


async def test_visibility_and_owner_rules(image: Api, projects: Projects) -> None:
    alice, bob, reader = projects.alice, projects.bob, projects.reader
    await make_namespace(image, "public-ns", visibility="public")
    await make_namespace(image, "alice-ns", visibility="private", owner=projects.one["id"])
    await make_namespace(image, "admin-ns", visibility="private")

    async def names(api: Api, query: str = "") -> set[str]:
        response = await api.get(f"{NS}{query}")
        assert response.status_code == 200, response.text
        return {n["namespace"] for n in response.json()["namespaces"]}
    assert await names(alice) == {"public-ns", "alice-ns"}
    assert await names(reader) == {"public-ns", "alice-ns"}
    assert await names(bob) == {"public-ns"}
    assert await names(alice, "?visibility=private") == {"alice-ns"}
    assert await names(image) >= {"public-ns", "alice-ns", "admin-ns"}
    assert (await alice.get(f"{NS}/alice-ns")).status_code == 200
    assert (await bob.get(f"{NS}/alice-ns")).status_code == 404
    assert (await bob.get(f"{NS}/alice-ns/tags")).status_code == 404
    assert (await alice.get(f"{NS}/admin-ns")).status_code == 404
    # the catalog is the operator's to change: projects read it only
    assert (await alice.post(NS, json={"namespace": "mine"})).status_code == 403
    assert (await alice.put(f"{NS}/alice-ns", json={"protected": True})).status_code == 403
    assert (await alice.delete(f"{NS}/alice-ns")).status_code == 403
    assert (await bob.post(f"{NS}/public-ns/tags/t")).status_code == 403
    assert (await bob.delete(f"{NS}/alice-ns")).status_code == 403  # policy first
    # an admin gives a namespace to another project
    moved = await image.put(f"{NS}/admin-ns", json={"owner": projects.two["id"]})
    assert moved.json()["owner"] == projects.two["id"]
    assert await names(bob) == {"public-ns", "admin-ns"}
    assert (await image.get("/v2/metadefs/resource_types")).status_code == 200
    assert (await bob.get("/v2/metadefs/resource_types")).status_code == 200


@pytest.fixture
async def open_catalog(tmp_path: Path) -> AsyncIterator[Api]:
    """A cloud whose policy lets project members change the catalog (the image API
    as its admin): what they change is then only what their project owns."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"metadef_admin": "rule:context_is_admin or role:member"\n')
    config = cloud_config(tmp_path / "state")
    config.api.policy_file = str(policy)
    prepare_state_dir(config.state_dir, reset=False)
    cloud = Cloud(config)
    await cloud.build()
    identity = Api(cloud, "identity")
    api = Api(cloud, "image", clients=identity.clients)
    api.token = await identity.token_for("admin", ADMIN_PASSWORD, "admin")
    yield api
    for client in api.clients.values():
        await client.aclose()
    await cloud.close()


async def test_projects_change_only_what_they_own(open_catalog: Api) -> None:
    admin = open_catalog
    identity = Api(admin.cloud, "identity", admin.token, admin.clients)
    one, two = await make_project(identity, "one"), await make_project(identity, "two")
    alice = admin.as_token(await member_token(identity, "alice", one))
    bob = admin.as_token(await member_token(identity, "bob", two))
    mine = await make_namespace(alice, "alice-ns", visibility="public")
    assert mine["owner"] == one["id"]
    assert (await alice.post(NS, json={"namespace": "gift", "owner": two["id"]})
            ).status_code == 403
    assert (await alice.post(f"{NS}/alice-ns/tags/t")).status_code == 201
    # bob sees alice's public namespace, and changes nothing in it
    assert (await bob.get(f"{NS}/alice-ns")).status_code == 200
    for method, path, body in (("PUT", "", {"protected": True}), ("DELETE", "", None),
                               ("POST", "/tags/u", None), ("DELETE", "/tags/t", None),
                               ("POST", "/objects", {"name": "o"}),
                               ("POST", "/resource_types", {"name": "OS::Glance::Image"})):
        response = await bob.request(method, f"{NS}/alice-ns{path}", json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert "another project" in detail(response)
    # a private namespace of another project does not exist for bob
    await make_namespace(alice, "alice-private")
    assert (await bob.put(f"{NS}/alice-private", json={})).status_code == 404
    assert (await alice.put(f"{NS}/alice-ns", json={"owner": two["id"]})).status_code == 403
    assert (await alice.delete(f"{NS}/alice-ns")).status_code == 204


async def test_objects(image: Api) -> None:
    await make_namespace(image, "objs")
    url = f"{NS}/objs/objects"
    created = await image.post(url, json={
        "name": "Disk", "description": "A disk", "required": ["size"],
        "properties": {"size": {"title": "Size", "type": "integer", "minimum": 0}}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Disk" and body["required"] == ["size"]
    assert body["self"] == f"{url}/Disk"
    assert body["schema"] == "/v2/schemas/metadefs/object"
    assert (await image.post(url, json={"name": "Disk"})).status_code == 409
    assert (await image.post(url, json={"name": "Other"})).status_code == 201
    assert (await image.post(url, json={})).status_code == 400
    listed = (await image.get(url)).json()
    assert [o["name"] for o in listed["objects"]] == ["Disk", "Other"]
    assert listed["schema"] == "/v2/schemas/metadefs/objects"
    assert (await image.get(f"{url}/Disk")).json()["description"] == "A disk"
    clash = await image.put(f"{url}/Disk", json={"name": "Other"})
    assert clash.status_code == 409
    renamed = await image.put(f"{url}/Disk", json={"name": "Volume"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Volume"
    assert renamed.json()["properties"] == {}  # PUT replaces the whole object
    assert (await image.get(f"{url}/Disk")).status_code == 404
    assert (await image.delete(f"{url}/Volume")).status_code == 204
    assert (await image.delete(f"{url}/Volume")).status_code == 404
    assert (await image.delete(url)).status_code == 204
    assert (await image.get(url)).json()["objects"] == []


async def test_properties(image: Api) -> None:
    await make_namespace(image, "props", resource_type_associations=[
        {"name": "OS::Nova::Flavor", "prefix": "hw:"}])
    url = f"{NS}/props/properties"
    created = await image.post(url, json={"name": "hypervisor", **PROPERTY})
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "hypervisor", **PROPERTY}
    assert (await image.post(url, json={"name": "hypervisor", **PROPERTY})
            ).status_code == 409
    missing_title = await image.post(url, json={"name": "x", "type": "string"})
    assert missing_title.status_code == 400 and "title" in detail(missing_title)
    bad_default = await image.post(url, json={"name": "x", **PROPERTY, "default": "lxc"})
    assert bad_default.status_code == 400 and "default" in detail(bad_default)
    listed = (await image.get(url)).json()
    assert listed["properties"] == {"hypervisor": PROPERTY}
    assert (await image.get(f"{url}/hypervisor")).json()["title"] == "Hypervisor"
    prefixed = await image.get(f"{url}/hw:hypervisor?resource_type=OS::Nova::Flavor")
    assert prefixed.status_code == 200 and prefixed.json()["name"] == "hw:hypervisor"
    assert (await image.get(f"{url}/hypervisor?resource_type=OS::Nova::Flavor")
            ).status_code == 404
    assert (await image.get(f"{url}/hypervisor?resource_type=OS::Glance::Image")
            ).status_code == 404
    updated = await image.put(f"{url}/hypervisor", json={
        "name": "hypervisor_type", "title": "Type", "type": "string"})
    assert updated.status_code == 200 and updated.json()["title"] == "Type"
    assert (await image.get(f"{url}/hypervisor")).status_code == 404
    assert (await image.delete(f"{url}/hypervisor_type")).status_code == 204
    assert (await image.get(url)).json()["properties"] == {}
    await image.post(url, json={"name": "a", "title": "A", "type": "boolean"})
    assert (await image.delete(url)).status_code == 204
    assert (await image.get(url)).json()["properties"] == {}


async def test_tags(image: Api) -> None:
    await make_namespace(image, "tagged")
    url = f"{NS}/tagged/tags"
    one = await image.post(f"{url}/first")
    assert one.status_code == 201 and one.json()["name"] == "first"
    assert (await image.post(f"{url}/first")).status_code == 409
    assert (await image.post(f"{url}/{'t' * 81}")).status_code == 400
    # several at once replace the tags...
    many = await image.post(url, json={"tags": [{"name": "a"}, {"name": "b"},
                                                {"name": "c"}]})
    assert many.status_code == 201, many.text
    assert [t["name"] for t in many.json()["tags"]] == ["a", "b", "c"]
    assert sorted(t["name"] for t in (await image.get(url)).json()["tags"]) == [
        "a", "b", "c"]
    # ...or join them with X-Openstack-Append
    appended = await image.post(url, json={"tags": [{"name": "d"}]},
                                headers={"X-Openstack-Append": "true"})
    assert appended.status_code == 201
    assert (await image.post(url, json={"tags": [{"name": "a"}]},
                             headers={"X-Openstack-Append": "true"})).status_code == 409
    duplicate = await image.post(url, json={"tags": [{"name": "x"}, {"name": "x"}]})
    assert duplicate.status_code == 409 and "Duplicate" in detail(duplicate)
    assert (await image.post(url, json={"tags": [{"nom": "x"}]})).status_code == 400
    assert (await image.post(url, json={"tags": [{"name": "z"}]}, headers={
        "X-Openstack-Append": "maybe"})).status_code == 400
    page = (await image.get(f"{url}?sort_key=name&sort_dir=asc&limit=2")).json()
    assert [t["name"] for t in page["tags"]] == ["a", "b"]
    rest = (await image.get(f"{url}?sort_key=name&sort_dir=asc&marker=b")).json()
    assert [t["name"] for t in rest["tags"]] == ["c", "d"]
    assert (await image.get(f"{url}?sort_key=color")).status_code == 400
    renamed = await image.put(f"{url}/a", json={"name": "alpha"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "alpha"
    assert (await image.put(f"{url}/alpha", json={"name": "b"})).status_code == 409
    assert (await image.get(f"{url}/alpha")).json()["name"] == "alpha"
    assert (await image.delete(f"{url}/alpha")).status_code == 204
    assert (await image.get(f"{url}/alpha")).status_code == 404
    assert (await image.delete(url)).status_code == 204
    assert (await image.get(url)).json()["tags"] == []


async def test_resource_type_associations(image: Api) -> None:
    await make_namespace(image, "assoc", visibility="public")
    url = f"{NS}/assoc/resource_types"
    created = await image.post(url, json={"name": "OS::Cinder::Volume", "prefix": "vol_",
                                          "properties_target": "image"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["prefix"], body["properties_target"]) == (
        "OS::Cinder::Volume", "vol_", "image")
    assert (await image.post(url, json={"name": "OS::Cinder::Volume"})).status_code == 409
    # an unknown resource type is registered on first use
    assert (await image.post(url, json={"name": "OS::Test::Thing"})).status_code == 201
    kinds = (await image.get("/v2/metadefs/resource_types")).json()["resource_types"]
    assert "OS::Test::Thing" in {k["name"] for k in kinds}
    listed = (await image.get(url)).json()["resource_type_associations"]
    assert {a["name"] for a in listed} == {"OS::Cinder::Volume", "OS::Test::Thing"}
    filtered = (await image.get(f"{NS}?resource_types=OS::Test::Thing")).json()
    assert [n["namespace"] for n in filtered["namespaces"]] == ["assoc"]
    assert (await image.post(url, json={"prefix": "x"})).status_code == 400
    assert (await image.delete(f"{url}/OS::Test::Thing")).status_code == 204
    assert (await image.delete(f"{url}/OS::Test::Thing")).status_code == 404
    assert (await image.get(f"{NS}?resource_types=OS::Test::Thing")).json()[
        "namespaces"] == []


async def test_names_beyond_ascii(image: Api) -> None:
    created = await image.post(NS, json={"namespace": "Espace::Données é"})
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"{NS}/Espace::Donn%C3%A9es%20%C3%A9")
    url = f"{NS}/Espace::Données é"
    assert (await image.get(url)).json()["namespace"] == "Espace::Données é"
    assert (await image.post(f"{url}/tags/étiquette")).status_code == 201
    assert (await image.get(f"{url}/tags/étiquette")).json()["name"] == "étiquette"
    assert (await image.post(f"{url}/objects", json={"name": "objet"})).status_code == 201
    assert (await image.delete(url)).status_code == 204


async def test_namespace_paging(image: Api) -> None:
    for name in ("p-a", "p-b", "p-c"):
        await make_namespace(image, name)
    first = (await image.get(f"{NS}?sort_key=namespace&sort_dir=asc&limit=2")).json()
    assert [n["namespace"] for n in first["namespaces"]] == ["p-a", "p-b"]
    assert "marker=p-b" in first["next"]
    rest = (await image.get(first["next"])).json()
    assert [n["namespace"] for n in rest["namespaces"]] == ["p-c"]
    assert "next" not in rest
    for query in ("limit=0", "limit=x", "sort_key=owner", "sort_dir=up", "marker=nope",
                  "visibility=shared"):
        response = await image.get(f"{NS}?{query}")
        assert response.status_code == 400, query
        assert detail(response)
