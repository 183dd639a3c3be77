"""A whole all-in-one identity cloud on PostgreSQL and on MariaDB, chosen by the
``[database] url`` template alone, and a user's story over HTTP on each.

The servers are private ones started once per session (``tests/engines.py``); the
cloud's databases, one per service as a deployment has them, are created here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests import engines
from tests.conftest import ADMIN_PASSWORD, Api, password_auth

PASSWORD = "s3cret-engine-pass"


@pytest.fixture
async def admin(engine_cloud: Cloud) -> AsyncIterator[Api]:
    api = Api(engine_cloud, "identity")
    api.token = await api.token_for("admin", ADMIN_PASSWORD, "admin")
    yield api
    for client in api.clients.values():
        await client.aclose()


def assignment_names(listing: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(role, actor, project or domain) names of a role assignment listing."""
    found = set()
    for entry in listing["role_assignments"]:
        actor = entry.get("user") or entry.get("group")
        target = entry["scope"].get("project") or entry["scope"].get("domain")
        found.add((entry["role"]["name"], actor["name"], target["name"]))
    return found


async def test_database_url_selects_the_engine(engine_cloud: Cloud,
                                               server: engines.DatabaseServer) -> None:
    db = engine_cloud.services["identity"].db
    dialects = {"postgresql": {"postgresql"}, "mariadb": {"mysql", "mariadb"}}
    assert db.engine.dialect.name in dialects[server.engine]
    assert db.url.database.endswith("_identity")


async def test_user_story(admin: Api) -> None:
    # a domain, a project in it, a user with a password, and a group
    domain = await admin.post("/v3/domains", json={"domain": {"name": "Engine-Dom"}})
    assert domain.status_code == 201, domain.text
    domain_id = domain.json()["domain"]["id"]
    project = await admin.post("/v3/projects", json={"project": {
        "name": "engine-proj", "domain_id": domain_id, "description": "Ünïcødé ✓"}})
    assert project.status_code == 201, project.text
    project_id = project.json()["project"]["id"]
    user = await admin.post("/v3/users", json={"user": {
        "name": "engine-user", "domain_id": domain_id, "password": PASSWORD,
        "default_project_id": project_id, "email": "eu@example.org"}})
    assert user.status_code == 201, user.text
    user_id = user.json()["user"]["id"]
    assert user.json()["user"]["email"] == "eu@example.org"  # kept in a JSON column
    group = await admin.post("/v3/groups", json={"group": {
        "name": "engine-group", "domain_id": domain_id}})
    assert group.status_code == 201, group.text
    group_id = group.json()["group"]["id"]
    joined = await admin.put(f"/v3/groups/{group_id}/users/{user_id}")
    assert joined.status_code == 204, joined.text

    # grants: member to the user, a new role to the group
    created = await admin.post("/v3/roles", json={"role": {"name": "engine-observer"}})
    assert created.status_code == 201, created.text
    roles = (await admin.get("/v3/roles")).json()["roles"]
    role_ids = {r["name"]: r["id"] for r in roles}
    granted = await admin.put(
        f"/v3/projects/{project_id}/users/{user_id}/roles/{role_ids['member']}")
    assert granted.status_code == 204, granted.text
    granted = await admin.put(
        f"/v3/projects/{project_id}/groups/{group_id}/roles/{role_ids['engine-observer']}")
    assert granted.status_code == 204, granted.text
    checked = await admin.head(
        f"/v3/projects/{project_id}/users/{user_id}/roles/{role_ids['member']}")
    assert checked.status_code == 204

    # effective assignments, with names: the direct grant, the role it implies, and the
    # group's grant reaching its member
    listing = await admin.get(f"/v3/role_assignments?effective&include_names"
                              f"&user.id={user_id}")
    assert listing.status_code == 200, listing.text
    assert assignment_names(listing.json()) == {
        ("member", "engine-user", "engine-proj"), ("reader", "engine-user", "engine-proj"),
        ("engine-observer", "engine-user", "engine-proj")}
    by_role = {e["role"]["name"]: e for e in listing.json()["role_assignments"]}
    assert "membership" in by_role["engine-observer"]["links"]
    assert "prior_role" in by_role["reader"]["links"]
    assert by_role["member"]["user"]["domain"]["name"] == "Engine-Dom"
    direct = await admin.get(f"/v3/role_assignments?scope.project.id={project_id}")
    assert len(direct.json()["role_assignments"]) == 2  # the user's and the group's

    # the user's own project-scoped token, validated by the admin
    response = await admin.post("/v3/auth/tokens", token="", json=password_auth(
        "engine-user", PASSWORD, project="engine-proj", domain="Engine-Dom"))
    assert response.status_code == 201, response.text
    subject = response.headers["X-Subject-Token"]
    assert {r["name"] for r in response.json()["token"]["roles"]} == {
        "member", "reader", "engine-observer"}
    shown = await admin.get("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert shown.status_code == 200, shown.text
    assert shown.json()["token"]["project"] == {
        "id": project_id, "name": "engine-proj",
        "domain": {"id": domain_id, "name": "Engine-Dom"}}
    assert (await admin.get(f"/v3/projects/{project_id}", token=subject)).status_code == 200

    # revoking the token: validation and use both refuse it
    revoked = await admin.delete("/v3/auth/tokens", headers={"X-Subject-Token": subject})
    assert revoked.status_code == 204
    assert (await admin.get("/v3/auth/tokens",
                            headers={"X-Subject-Token": subject})).status_code == 404
    assert (await admin.get(f"/v3/projects/{project_id}", token=subject)).status_code == 401

    # without grants, no project token; then everything is deleted
    for actor, role in ((f"groups/{group_id}", "engine-observer"),
                        (f"users/{user_id}", "member")):
        ungranted = await admin.delete(
            f"/v3/projects/{project_id}/{actor}/roles/{role_ids[role]}")
        assert ungranted.status_code == 204, ungranted.text
    refused = await admin.post("/v3/auth/tokens", token="", json=password_auth(
        "engine-user", PASSWORD, project="engine-proj", domain="Engine-Dom"))
    assert refused.status_code == 401
    assert (await admin.delete(f"/v3/users/{user_id}")).status_code == 204
    refused = await admin.post("/v3/auth/tokens", token="", json=password_auth(
        "engine-user", PASSWORD, domain="Engine-Dom"))
    assert refused.status_code == 401
    assert (await admin.delete(f"/v3/groups/{group_id}")).status_code == 204
    assert (await admin.delete(f"/v3/projects/{project_id}")).status_code == 204
    disabled = await admin.patch(f"/v3/domains/{domain_id}",
                                 json={"domain": {"enabled": False}})
    assert disabled.status_code == 200, disabled.text
    assert (await admin.delete(f"/v3/domains/{domain_id}")).status_code == 204
    assert (await admin.get(f"/v3/domains/{domain_id}")).status_code == 404
    assert (await admin.get(f"/v3/users/{user_id}")).status_code == 404


async def test_duplicate_names_conflict(admin: Api) -> None:
    first = await admin.post("/v3/domains", json={"domain": {"name": "dup-dom"}})
    assert first.status_code == 201, first.text
    domain_id = first.json()["domain"]["id"]
    bodies = [("/v3/domains", {"domain": {"name": "dup-dom"}}),
              ("/v3/projects", {"project": {"name": "dup", "domain_id": domain_id}}),
              ("/v3/users", {"user": {"name": "dup", "domain_id": domain_id}}),
              ("/v3/groups", {"group": {"name": "dup", "domain_id": domain_id}}),
              ("/v3/roles", {"role": {"name": "dup-role"}})]
    for path, body in bodies[1:]:
        created = await admin.post(path, json=body)
        assert created.status_code == 201, created.text
    for path, body in bodies:
        again = await admin.post(path, json=body)
        assert again.status_code == 409, (path, again.text)
        assert again.json()["error"]["code"] == 409
    # the same names in another domain are fine; names are case-sensitive everywhere
    other = await admin.post("/v3/users", json={"user": {"name": "dup"}})
    assert other.status_code == 201, other.text
    upper = await admin.post("/v3/users", json={"user": {"name": "DUP",
                                                          "domain_id": domain_id}})
    assert upper.status_code == 201, upper.text
    # a failed insert left no half-written state behind: the listing still works
    listed = await admin.get(f"/v3/users?domain_id={domain_id}")
    assert sorted(u["name"] for u in listed.json()["users"]) == ["DUP", "dup"]


async def test_another_process_on_the_same_databases(engine_cloud: Cloud,
                                                     admin: Api) -> None:
    """A second API process (distributed mode), or a restart: it migrates (nothing to
    do) and bootstraps (idempotently) at start, and shares the first one's data and
    tokens."""
    created = await admin.post("/v3/projects", json={"project": {"name": "shared"}})
    assert created.status_code == 201, created.text
    other = Cloud(engine_cloud.config)
    try:
        await other.build()
        api = Api(other, "identity", token=admin.token)
        shown = await api.get(f"/v3/projects/{created.json()['project']['id']}")
        assert shown.status_code == 200, shown.text
        token = await api.token_for("admin", ADMIN_PASSWORD, "admin")
        assert (await admin.get("/v3/projects", token=token)).status_code == 200
        for client in api.clients.values():
            await client.aclose()
    finally:
        await other.close()
