"""Behaviours Tempest pinned down on existing resources: password history and
self-service changes, domains through ``/v3/projects``, legacy endpoint regions,
application credential expiry, rescoped token methods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.identity.helpers import make_project, make_user
from tests.conftest import ADMIN_PASSWORD, Api, password_auth


async def change(identity: Api, user: dict[str, Any], old: str, new: str,
                 token: str | None = None) -> int:
    response = await identity.post(f"/v3/users/{user['id']}/password", token=token, json={
        "user": {"original_password": old, "password": new}})
    return response.status_code


async def test_self_service_change_may_not_reuse_the_last_passwords(cloud: Any,
                                                                    identity: Api) -> None:
    cloud.config.identity.unique_last_password_count = 2
    user = await make_user(identity, "historian", "first")
    assert await change(identity, user, "first", "second", token="") == 204
    assert await change(identity, user, "second", "second", token="") == 400  # current
    assert await change(identity, user, "second", "first", token="") == 400   # previous
    assert await change(identity, user, "second", "third", token="") == 204
    assert await change(identity, user, "third", "first", token="") == 204    # fell out


async def test_an_admin_reset_is_not_held_to_the_history(cloud: Any, identity: Api) -> None:
    cloud.config.identity.unique_last_password_count = 2
    user = await make_user(identity, "resettable", "same-pass")
    for _ in range(2):
        reset = await identity.patch(f"/v3/users/{user['id']}", json={"user": {
            "password": "same-pass"}})
        assert reset.status_code == 200
    assert await identity.token_for("resettable", "same-pass")


async def test_changing_a_password_needs_the_original_not_a_token(identity: Api) -> None:
    user = await make_user(identity, "forgetful", "old-pass")
    assert await change(identity, user, "wrong", "new-pass", token="") == 401
    assert await change(identity, user, "old-pass", "", token="") == 400
    # an administrator's token does not stand in for the original password
    assert await change(identity, user, "wrong", "new-pass") == 401
    assert await change(identity, user, "old-pass", "new-pass") == 204
    assert await identity.token_for("forgetful", "new-pass")
    missing = await identity.post("/v3/users/nobody/password", token="", json={
        "user": {"original_password": "a", "password": "b"}})
    assert missing.status_code == 404
    malformed = await identity.post(f"/v3/users/{user['id']}/password", token="",
                                    json={"user": {"password": "b"}})
    assert malformed.status_code == 400
    assert "original_password" in malformed.json()["error"]["message"]


async def test_a_domain_is_reachable_as_a_project(identity: Api) -> None:
    created = await identity.post("/v3/projects", json={"project": {
        "name": "dom-as-proj", "is_domain": True}})
    assert created.status_code == 201
    domain = created.json()["project"]
    assert domain["is_domain"] is True
    listed = await identity.get("/v3/projects?is_domain=true")
    assert domain["id"] in {p["id"] for p in listed.json()["projects"]}
    domains = await identity.get("/v3/domains")
    assert domain["id"] in {d["id"] for d in domains.json()["domains"]}
    shown = await identity.get(f"/v3/projects/{domain['id']}")
    assert shown.json()["project"]["is_domain"] is True
    refused = await identity.delete(f"/v3/projects/{domain['id']}")
    assert refused.status_code == 403  # enabled
    disabled = await identity.patch(f"/v3/projects/{domain['id']}",
                                     json={"project": {"enabled": False}})
    assert disabled.status_code == 200
    assert (await identity.delete(f"/v3/projects/{domain['id']}")).status_code == 204
    assert (await identity.get(f"/v3/domains/{domain['id']}")).status_code == 404


async def test_legacy_region_attribute_creates_the_region(identity: Api) -> None:
    service = (await identity.post("/v3/services", json={"service": {
        "type": "legacy"}})).json()["service"]
    created = await identity.post("/v3/endpoints", json={"endpoint": {
        "service_id": service["id"], "interface": "public", "url": "http://l.example/",
        "region": "Brand-New-Region"}})
    assert created.status_code == 201
    assert created.json()["endpoint"]["region_id"] == "Brand-New-Region"
    assert (await identity.get("/v3/regions/Brand-New-Region")).status_code == 200
    unknown = await identity.post("/v3/endpoints", json={"endpoint": {
        "service_id": service["id"], "interface": "public", "url": "http://l.example/",
        "region_id": "No-Such-Region"}})
    assert unknown.status_code == 400
    assert "No-Such-Region" in unknown.json()["error"]["message"]


async def test_application_credential_expiry_comes_back_as_sent(identity: Api) -> None:
    me = await identity.get("/v3/auth/tokens", headers={"X-Subject-Token": identity.token})
    user_id = me.json()["token"]["user"]["id"]
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    created = await identity.post(f"/v3/users/{user_id}/application_credentials", json={
        "application_credential": {"name": "expiring", "expires_at": expires}})
    assert created.status_code == 201
    assert created.json()["application_credential"]["expires_at"] == expires
    past = await identity.post(f"/v3/users/{user_id}/application_credentials", json={
        "application_credential": {"name": "stale", "expires_at": "2001-01-01T00:00:00"}})
    assert past.status_code == 400
    assert "expires_at" in past.json()["error"]["message"]


async def test_rescoping_adds_the_token_method(identity: Api) -> None:
    project = await make_project(identity, "rescope-proj")
    await make_user(identity, "rescoper", "pw-rescoper", project=project)
    unscoped = await identity.post("/v3/auth/tokens", token="",
                                   json=password_auth("rescoper", "pw-rescoper"))
    first = unscoped.headers["X-Subject-Token"]
    rescoped = await identity.post("/v3/auth/tokens", token="", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": first}},
        "scope": {"project": {"id": project["id"]}}}})
    assert rescoped.status_code == 201
    body = rescoped.json()["token"]
    assert body["methods"] == ["password", "token"]
    assert body["expires_at"] == unscoped.json()["token"]["expires_at"]


async def test_a_revoked_token_cannot_be_rescoped(identity: Api) -> None:
    token = await identity.token_for("admin", ADMIN_PASSWORD, "admin")
    revoked = await identity.delete("/v3/auth/tokens", headers={"X-Subject-Token": token})
    assert revoked.status_code == 204
    for candidate in (token, "garbage"):
        again = await identity.post("/v3/auth/tokens", token="", json={"auth": {
            "identity": {"methods": ["token"], "token": {"id": candidate}}}})
        assert again.status_code == 404
        assert again.json()["error"]["code"] == 404


async def test_wrong_originals_count_towards_the_lockout(cloud: Any, identity: Api) -> None:
    cloud.config.identity.lockout_failure_attempts = 2
    user = await make_user(identity, "guessed", "real-pass")
    for _ in range(2):
        assert await change(identity, user, "guess", "new-pass", token="") == 401
    assert await change(identity, user, "real-pass", "new-pass", token="") == 401  # locked
    locked = await identity.post("/v3/auth/tokens", token="",
                                 json=password_auth("guessed", "real-pass"))
    assert locked.status_code == 401


async def test_an_expired_password_can_still_be_changed(cloud: Any, identity: Api) -> None:
    cloud.config.identity.change_password_upon_first_use = True
    user = await make_user(identity, "first-use", "given-pass")
    refused = await identity.post("/v3/auth/tokens", token="",
                                  json=password_auth("first-use", "given-pass"))
    assert refused.status_code == 401
    assert await change(identity, user, "given-pass", "chosen-pass", token="") == 204
    assert await identity.token_for("first-use", "chosen-pass")
