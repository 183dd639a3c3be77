"""``/v3/policies``: opaque policy blobs stored for other services."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.identity.helpers import make_project, member_token
from tests.conftest import Api


async def test_create_show_list_update_delete(identity: Api) -> None:
    created = await identity.post("/v3/policies", json={"policy": {
        "blob": '{"compute:create": ""}', "type": "application/json", "owner": "nova"}})
    assert created.status_code == 201
    policy = created.json()["policy"]
    assert policy["blob"] == '{"compute:create": ""}'
    assert policy["type"] == "application/json"
    assert policy["owner"] == "nova"  # unknown attributes are kept
    assert policy["links"]["self"].endswith(f"/v3/policies/{policy['id']}")
    assert created.headers["Location"] == policy["links"]["self"]

    shown = await identity.get(f"/v3/policies/{policy['id']}")
    assert shown.json()["policy"] == policy
    listed = await identity.get("/v3/policies")
    assert policy["id"] in {p["id"] for p in listed.json()["policies"]}
    by_type = await identity.get("/v3/policies?type=text/plain")
    assert by_type.json()["policies"] == []

    updated = await identity.patch(f"/v3/policies/{policy['id']}", json={"policy": {
        "type": "application/yaml"}})
    assert updated.status_code == 200
    assert updated.json()["policy"]["type"] == "application/yaml"
    assert updated.json()["policy"]["blob"] == policy["blob"]

    assert (await identity.delete(f"/v3/policies/{policy['id']}")).status_code == 204
    assert (await identity.get(f"/v3/policies/{policy['id']}")).status_code == 404
    assert (await identity.delete(f"/v3/policies/{policy['id']}")).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "application/json"}, "blob"),
    ({"blob": "{}"}, "type"),
    ({"blob": 5, "type": "application/json"}, "blob"),
    ({"blob": "{}", "type": "x" * 256}, "type"),
])
async def test_create_refuses_bad_input(identity: Api, body: dict[str, Any],
                                        field: str) -> None:
    response = await identity.post("/v3/policies", json={"policy": body})
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


async def test_update_refuses_empty_body_and_unknown_policy(identity: Api) -> None:
    created = await identity.post("/v3/policies", json={"policy": {
        "blob": "{}", "type": "application/json"}})
    policy_id = created.json()["policy"]["id"]
    empty = await identity.patch(f"/v3/policies/{policy_id}", json={"policy": {}})
    assert empty.status_code == 400
    missing = await identity.patch("/v3/policies/nope", json={"policy": {"type": "a/b"}})
    assert missing.status_code == 404


async def test_members_can_neither_read_nor_write(identity: Api) -> None:
    created = await identity.post("/v3/policies", json={"policy": {
        "blob": "{}", "type": "application/json"}})
    policy_id = created.json()["policy"]["id"]
    token = await member_token(identity, "pol-member", await make_project(identity, "pol"))
    assert (await identity.get("/v3/policies", token=token)).status_code == 403
    assert (await identity.get(f"/v3/policies/{policy_id}", token=token)).status_code == 403
    assert (await identity.post("/v3/policies", token=token, json={"policy": {
        "blob": "{}", "type": "application/json"}})).status_code == 403
    assert (await identity.delete(f"/v3/policies/{policy_id}",
                                  token=token)).status_code == 403


async def test_the_server_names_the_policy(identity: Api) -> None:
    ids = set()
    for _ in range(2):
        created = await identity.post("/v3/policies", json={"policy": {
            "id": "chosen", "blob": "{}", "type": "application/json"}})
        assert created.status_code == 201
        ids.add(created.json()["policy"]["id"])
    assert len(ids) == 2 and "chosen" not in ids
