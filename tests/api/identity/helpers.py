"""Small builders the identity stories share: projects, users with a role, tokens."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


async def make_project(identity: Api, name: str, **extra: Any) -> dict[str, Any]:
    response = await identity.post("/v3/projects", json={"project": {
        "name": name, "domain_id": "default", **extra}})
    assert response.status_code == 201, response.text
    return response.json()["project"]


async def role_id(identity: Api, name: str) -> str:
    response = await identity.get(f"/v3/roles?name={name}")
    assert response.status_code == 200, response.text
    return response.json()["roles"][0]["id"]


async def make_user(identity: Api, name: str, password: str, *,
                    project: dict[str, Any] | None = None, role: str = "member"
                    ) -> dict[str, Any]:
    """A user in the default domain, with ``role`` on ``project`` when given."""
    response = await identity.post("/v3/users", json={"user": {
        "name": name, "password": password, "domain_id": "default"}})
    assert response.status_code == 201, response.text
    user = response.json()["user"]
    if project is not None:
        granted = await identity.put(f"/v3/projects/{project['id']}/users/{user['id']}"
                                     f"/roles/{await role_id(identity, role)}")
        assert granted.status_code == 204, granted.text
    return user


async def member_token(identity: Api, name: str, project: dict[str, Any],
                       role: str = "member") -> str:
    """A new user holding ``role`` on ``project``, and a token scoped to it."""
    await make_user(identity, name, f"pw-{name}", project=project, role=role)
    return await identity.token_for(name, f"pw-{name}", project["name"])
