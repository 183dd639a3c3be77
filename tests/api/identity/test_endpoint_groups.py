"""OS-EP-FILTER: endpoint groups, project associations, and the narrower catalog a
project-scoped token then carries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.identity.helpers import make_project, member_token
from tests.conftest import Api

EP = "/v3/OS-EP-FILTER"


async def make_service(identity: Api, type_: str) -> dict[str, Any]:
    response = await identity.post("/v3/services", json={"service": {
        "type": type_, "name": type_}})
    assert response.status_code == 201, response.text
    return response.json()["service"]


async def make_endpoint(identity: Api, service: dict[str, Any], interface: str = "public"
                        ) -> dict[str, Any]:
    response = await identity.post("/v3/endpoints", json={"endpoint": {
        "service_id": service["id"], "interface": interface,
        "url": f"http://{service['type']}.example/{interface}", "region_id": "RegionOne"}})
    assert response.status_code == 201, response.text
    return response.json()["endpoint"]


async def make_group(identity: Api, name: str, filters: dict[str, Any]) -> dict[str, Any]:
    response = await identity.post(f"{EP}/endpoint_groups", json={"endpoint_group": {
        "name": name, "description": f"{name} endpoints", "filters": filters}})
    assert response.status_code == 201, response.text
    return response.json()["endpoint_group"]


async def test_endpoint_group_crud(identity: Api) -> None:
    service = await make_service(identity, "widget")
    group = await make_group(identity, "widgets", {"service_id": service["id"]})
    assert group["filters"] == {"service_id": service["id"]}
    assert group["links"]["self"].endswith(f"{EP}/endpoint_groups/{group['id']}")
    listed = (await identity.get(f"{EP}/endpoint_groups")).json()["endpoint_groups"]
    assert group in listed
    by_name = await identity.get(f"{EP}/endpoint_groups?name=nope")
    assert by_name.json()["endpoint_groups"] == []
    url = f"{EP}/endpoint_groups/{group['id']}"
    assert (await identity.get(url)).json()["endpoint_group"] == group
    assert (await identity.head(url)).status_code == 200
    updated = await identity.patch(url, json={"endpoint_group": {
        "name": "renamed", "filters": {"interface": "admin"}}})
    assert updated.status_code == 200
    assert updated.json()["endpoint_group"]["name"] == "renamed"
    assert updated.json()["endpoint_group"]["filters"] == {"interface": "admin"}
    assert (await identity.delete(url)).status_code == 204
    assert (await identity.get(url)).status_code == 404
    assert (await identity.delete(url)).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"filters": {"interface": "public"}}, "name"),
    ({"name": "g"}, "filters"),
    ({"name": "g", "filters": {}}, "filters"),
    ({"name": "g", "filters": {"url": "http://x"}}, "filters"),
    ({"name": "g", "filters": {"interface": 3}}, "filters.interface"),
    ({"name": "g", "filters": "service_id"}, "filters"),
])
async def test_create_refuses_bad_input(identity: Api, body: dict[str, Any],
                                        field: str) -> None:
    response = await identity.post(f"{EP}/endpoint_groups", json={"endpoint_group": body})
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


async def test_group_endpoints_and_project_associations(identity: Api) -> None:
    service = await make_service(identity, "gadget")
    public = await make_endpoint(identity, service, "public")
    await make_endpoint(identity, service, "internal")
    group = await make_group(identity, "gadget-public", {"service_id": service["id"],
                                                         "interface": "public"})
    url = f"{EP}/endpoint_groups/{group['id']}"
    matched = (await identity.get(f"{url}/endpoints")).json()["endpoints"]
    assert [e["id"] for e in matched] == [public["id"]]

    project = await make_project(identity, "filtered")
    assoc = f"{url}/projects/{project['id']}"
    assert (await identity.get(assoc)).status_code == 404
    assert (await identity.put(assoc)).status_code == 204
    shown = (await identity.get(assoc)).json()["project_endpoint_group"]
    assert shown["endpoint_group_id"] == group["id"]
    assert shown["project_id"] == project["id"]
    projects = (await identity.get(f"{url}/projects")).json()["projects"]
    assert [p["id"] for p in projects] == [project["id"]]
    groups = await identity.get(f"{EP}/projects/{project['id']}/endpoint_groups")
    assert [g["id"] for g in groups.json()["endpoint_groups"]] == [group["id"]]
    endpoints = await identity.get(f"{EP}/projects/{project['id']}/endpoints")
    assert [e["id"] for e in endpoints.json()["endpoints"]] == [public["id"]]
    assert (await identity.delete(assoc)).status_code == 204
    assert (await identity.delete(assoc)).status_code == 404
    assert (await identity.put(f"{url}/projects/no-such-project")).status_code == 404


async def test_project_endpoint_associations(identity: Api) -> None:
    service = await make_service(identity, "gizmo")
    endpoint = await make_endpoint(identity, service)
    project = await make_project(identity, "direct")
    url = f"{EP}/projects/{project['id']}/endpoints/{endpoint['id']}"
    assert (await identity.head(url)).status_code == 404
    assert (await identity.put(url)).status_code == 204
    assert (await identity.head(url)).status_code == 204
    assert (await identity.get(url)).status_code == 204
    listed = await identity.get(f"{EP}/projects/{project['id']}/endpoints")
    assert [e["id"] for e in listed.json()["endpoints"]] == [endpoint["id"]]
    owners = await identity.get(f"{EP}/endpoints/{endpoint['id']}/projects")
    assert [p["id"] for p in owners.json()["projects"]] == [project["id"]]
    assert (await identity.put(f"{EP}/projects/{project['id']}/endpoints/nope")
            ).status_code == 404
    # deleting the endpoint forgets the association
    assert (await identity.delete(f"/v3/endpoints/{endpoint['id']}")).status_code == 204
    listed = await identity.get(f"{EP}/projects/{project['id']}/endpoints")
    assert listed.json()["endpoints"] == []
    assert (await identity.delete(url)).status_code == 404


async def test_a_filtered_project_sees_only_its_endpoints_in_the_catalog(identity: Api
                                                                         ) -> None:
    service = await make_service(identity, "thing")
    chosen = await make_endpoint(identity, service, "public")
    hidden = await make_endpoint(identity, service, "admin")
    project = await make_project(identity, "narrow")
    token = await member_token(identity, "narrow-member", project)

    def endpoint_ids(catalog: list[dict[str, Any]]) -> set[str]:
        return {e["id"] for entry in catalog for e in entry["endpoints"]}

    before = (await identity.get("/v3/auth/catalog", token=token)).json()["catalog"]
    assert {chosen["id"], hidden["id"]} <= endpoint_ids(before)  # no filter: everything
    put = await identity.put(f"{EP}/projects/{project['id']}/endpoints/{chosen['id']}")
    assert put.status_code == 204
    after = (await identity.get("/v3/auth/catalog", token=token)).json()["catalog"]
    assert endpoint_ids(after) == {chosen["id"]}
    issued = await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": token}},
        "scope": {"project": {"id": project["id"]}}}})
    assert endpoint_ids(issued.json()["token"]["catalog"]) == {chosen["id"]}
    # other projects keep the whole catalog
    admin_catalog = (await identity.get("/v3/auth/catalog")).json()["catalog"]
    assert hidden["id"] in endpoint_ids(admin_catalog)


async def test_members_can_neither_read_nor_change_filters(identity: Api) -> None:
    service = await make_service(identity, "doohickey")
    group = await make_group(identity, "dh", {"service_id": service["id"]})
    project = await make_project(identity, "ep-member-proj")
    token = await member_token(identity, "ep-member", project)
    url = f"{EP}/endpoint_groups/{group['id']}"
    assert (await identity.get(f"{EP}/endpoint_groups", token=token)).status_code == 403
    assert (await identity.get(url, token=token)).status_code == 403
    assert (await identity.delete(url, token=token)).status_code == 403
    assert (await identity.put(f"{url}/projects/{project['id']}",
                               token=token)).status_code == 403
