"""Tokens: issue, scope, validate, check, revoke, as a client sees them."""

from __future__ import annotations

from tests.conftest import ADMIN_PASSWORD, Api, password_auth


async def test_version_documents(identity: Api) -> None:
    root = await identity.get("/", token="")
    assert root.status_code == 300
    assert root.json()["versions"]["values"][0]["id"].startswith("v3.")
    v3 = await identity.get("/v3", token="")
    assert v3.status_code == 200
    assert v3.json()["version"]["status"] == "stable"
    assert v3.headers["x-openstack-request-id"].startswith("req-")


async def test_project_scoped_token_has_catalog_roles_and_subject_header(identity: Api
                                                                         ) -> None:
    response = await identity.post("/v3/auth/tokens",
                                   json=password_auth("admin", ADMIN_PASSWORD, project="admin"),
                                   token="")
    assert response.status_code == 201
    token = response.json()["token"]
    assert response.headers["X-Subject-Token"]
    assert token["project"]["name"] == "admin"
    assert token["project"]["domain"] == {"id": "default", "name": "Default"}
    assert {r["name"] for r in token["roles"]} >= {"admin", "member", "reader"}
    assert token["user"]["name"] == "admin"
    assert token["methods"] == ["password"]
    assert token["expires_at"].endswith("Z")
    types = {entry["type"] for entry in token["catalog"]}
    assert "identity" in types


async def test_wrong_password_is_401_with_www_authenticate(identity: Api) -> None:
    response = await identity.post("/v3/auth/tokens",
                                   json=password_auth("admin", "wrong", project="admin"),
                                   token="")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Keystone uri=")


async def test_malformed_json_is_400_not_500(identity: Api) -> None:
    response = await identity.request("POST", "/v3/auth/tokens", content=b"{not json",
                                      headers={"Content-Type": "application/json"}, token="")
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["error"]["message"]


async def test_request_without_token_is_401(identity: Api) -> None:
    response = await identity.get("/v3/projects", token="")
    assert response.status_code == 401


async def test_garbage_token_is_401(identity: Api) -> None:
    response = await identity.get("/v3/projects", token="not-a-token")
    assert response.status_code == 401


async def test_validate_check_and_revoke(identity: Api) -> None:
    subject = await identity.token_for("admin", ADMIN_PASSWORD, "admin")
    shown = await identity.get("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert shown.status_code == 200
    assert shown.json()["token"]["project"]["name"] == "admin"
    nocatalog = await identity.get("/v3/auth/tokens?nocatalog",
                                   headers={"X-Subject-Token": subject})
    assert "catalog" not in nocatalog.json()["token"]
    checked = await identity.head("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert checked.status_code == 200
    revoked = await identity.delete("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert revoked.status_code == 204
    after = await identity.get("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert after.status_code == 404
    refused = await identity.get("/v3/projects", token=subject)
    assert refused.status_code == 401


async def test_unscoped_token_then_rescope_with_token_method(identity: Api) -> None:
    unscoped = await identity.post("/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
        "scope": "unscoped"}}, token="")
    assert unscoped.status_code == 201
    assert "project" not in unscoped.json()["token"]
    assert "catalog" not in unscoped.json()["token"]
    first = unscoped.headers["X-Subject-Token"]
    rescoped = await identity.post("/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": first}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}, token="")
    assert rescoped.status_code == 201
    body = rescoped.json()["token"]
    assert body["project"]["name"] == "admin"
    assert body["audit_ids"][1] == unscoped.json()["token"]["audit_ids"][0]
    assert body["expires_at"] == unscoped.json()["token"]["expires_at"]


async def test_domain_and_system_scope(identity: Api) -> None:
    domain = await identity.post("/v3/auth/tokens", json=password_auth(
        "admin", ADMIN_PASSWORD, scope={"domain": {"id": "default"}}), token="")
    assert domain.status_code == 201
    assert domain.json()["token"]["domain"]["id"] == "default"
    system = await identity.post("/v3/auth/tokens", json=password_auth(
        "admin", ADMIN_PASSWORD, scope={"system": {"all": True}}), token="")
    assert system.status_code == 201
    assert system.json()["token"]["system"] == {"all": True}


async def test_user_without_role_cannot_scope_to_project(identity: Api) -> None:
    created = await identity.post("/v3/users", json={"user": {
        "name": "loner", "password": "pw-loner", "domain_id": "default"}})
    assert created.status_code == 201
    refused = await identity.post("/v3/auth/tokens",
                                  json=password_auth("loner", "pw-loner", project="admin"),
                                  token="")
    assert refused.status_code == 401
    assert "no access" in refused.json()["error"]["message"]


async def test_password_change_revokes_existing_tokens(identity: Api) -> None:
    user = (await identity.post("/v3/users", json={"user": {
        "name": "changer", "password": "first-pass", "domain_id": "default"}})).json()["user"]
    old = await identity.token_for("changer", "first-pass")
    changed = await identity.post(f"/v3/users/{user['id']}/password", token=old, json={
        "user": {"original_password": "first-pass", "password": "second-pass"}})
    assert changed.status_code == 204
    assert (await identity.get(f"/v3/users/{user['id']}", token=old)).status_code == 401
    new = await identity.token_for("changer", "second-pass")
    assert (await identity.get(f"/v3/users/{user['id']}", token=new)).status_code == 200
    stale = await identity.post("/v3/auth/tokens",
                                json=password_auth("changer", "first-pass"), token="")
    assert stale.status_code == 401
