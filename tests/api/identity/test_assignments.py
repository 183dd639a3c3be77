"""Roles and grants: inherited grants, effective listings, what deleting a role
revokes, and who may read whose assignments."""

from __future__ import annotations

from tests.api.identity.helpers import make_project, make_user, member_token, role_id
from tests.conftest import Api


async def make_role(identity: Api, name: str, **extra: str) -> dict:
    response = await identity.post("/v3/roles", json={"role": {"name": name, **extra}})
    assert response.status_code == 201, response.text
    return response.json()["role"]


async def test_deleting_a_role_revokes_its_holders_tokens_only(identity: Api) -> None:
    project = await make_project(identity, "doomed-role-proj")
    role = await make_role(identity, "doomed")
    holder = await make_user(identity, "holder", "pw-holder", project=project)
    bystander_token = await member_token(identity, "bystander", project)
    grant = f"/v3/projects/{project['id']}/users/{holder['id']}/roles/{role['id']}"
    assert (await identity.put(grant)).status_code == 204
    holder_token = await identity.token_for("holder", "pw-holder", project["name"])

    assert (await identity.delete(f"/v3/roles/{role['id']}")).status_code == 204
    # the caller (admin) and users without the role keep their tokens
    assert (await identity.get("/v3/roles")).status_code == 200
    assert (await identity.get("/v3/auth/catalog", token=bystander_token)).status_code == 200
    assert (await identity.get("/v3/auth/catalog", token=holder_token)).status_code == 401


async def test_deleting_an_implied_role_revokes_holders_of_the_prior_role(identity: Api
                                                                          ) -> None:
    project = await make_project(identity, "implied-proj")
    prior = await make_role(identity, "prior")
    implied = await make_role(identity, "implied")
    put = await identity.put(f"/v3/roles/{prior['id']}/implies/{implied['id']}")
    assert put.status_code == 201
    user = await make_user(identity, "prior-holder", "pw-prior", project=project)
    await identity.put(f"/v3/projects/{project['id']}/users/{user['id']}/roles/{prior['id']}")
    token = await identity.token_for("prior-holder", "pw-prior", project["name"])
    assert (await identity.delete(f"/v3/roles/{implied['id']}")).status_code == 204
    assert (await identity.get("/v3/auth/catalog", token=token)).status_code == 401


async def test_inherited_grants_on_projects_and_domains(identity: Api) -> None:
    parent = await make_project(identity, "inh-parent")
    child = await make_project(identity, "inh-child", parent_id=parent["id"])
    user = await make_user(identity, "heir", "pw-heir")
    role = await role_id(identity, "reader")
    for target in (f"projects/{parent['id']}", "domains/default"):
        url = f"/v3/OS-INHERIT/{target}/users/{user['id']}/roles/{role}/inherited_to_projects"
        assert (await identity.head(url)).status_code == 404
        assert (await identity.put(url)).status_code == 204
        assert (await identity.head(url)).status_code == 204
        listed = await identity.get(f"/v3/OS-INHERIT/{target}/users/{user['id']}/roles"
                                    "/inherited_to_projects")
        assert [r["id"] for r in listed.json()["roles"]] == [role]
        effective = await identity.get(f"/v3/role_assignments?effective&user.id={user['id']}"
                                       f"&scope.project.id={child['id']}")
        assert [a["role"]["id"] for a in effective.json()["role_assignments"]] == [role]
        assert (await identity.delete(url)).status_code == 204
        assert (await identity.delete(url)).status_code == 404


async def test_effective_assignments_leave_out_domain_specific_roles(identity: Api) -> None:
    project = await make_project(identity, "dom-role-proj")
    user = await make_user(identity, "dom-role-user", "pw-dr")
    local = await make_role(identity, "local-role", domain_id="default")
    granted = await identity.put(f"/v3/projects/{project['id']}/users/{user['id']}"
                                 f"/roles/{local['id']}")
    assert granted.status_code == 204
    query = f"user.id={user['id']}&scope.project.id={project['id']}"
    direct = await identity.get(f"/v3/role_assignments?{query}")
    assert [a["role"]["id"] for a in direct.json()["role_assignments"]] == [local["id"]]
    effective = await identity.get(f"/v3/role_assignments?effective&{query}")
    assert effective.json()["role_assignments"] == []
    # what a domain-specific role implies does count
    reader = await role_id(identity, "reader")
    await identity.put(f"/v3/roles/{local['id']}/implies/{reader}")
    effective = await identity.get(f"/v3/role_assignments?effective&{query}")
    assert [a["role"]["id"] for a in effective.json()["role_assignments"]] == [reader]


async def test_a_member_cannot_read_another_projects_assignments(identity: Api) -> None:
    mine = await make_project(identity, "iso-a")
    theirs = await make_project(identity, "iso-b")
    token = await member_token(identity, "iso-member", mine)
    own = await identity.get(f"/v3/role_assignments?scope.project.id={mine['id']}",
                             token=token)
    assert own.status_code == 200
    assert {a["scope"]["project"]["id"] for a in own.json()["role_assignments"]} == {
        mine["id"]}
    other = await identity.get(f"/v3/role_assignments?scope.project.id={theirs['id']}",
                               token=token)
    assert other.status_code == 403
    everything = await identity.get("/v3/role_assignments", token=token)
    assert everything.status_code == 403


async def test_a_reader_cannot_write(identity: Api) -> None:
    project = await make_project(identity, "ro-proj")
    token = await member_token(identity, "ro-reader", project, role="reader")
    user = await make_user(identity, "ro-target", "pw-target")
    admin_role = await role_id(identity, "admin")
    refused = [
        await identity.post("/v3/projects", token=token, json={"project": {"name": "x"}}),
        await identity.patch(f"/v3/projects/{project['id']}", token=token,
                             json={"project": {"description": "mine now"}}),
        await identity.put(f"/v3/projects/{project['id']}/users/{user['id']}"
                           f"/roles/{admin_role}", token=token),
        await identity.post("/v3/roles", token=token, json={"role": {"name": "sneaky"}}),
        await identity.delete(f"/v3/users/{user['id']}", token=token),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert (await identity.get(f"/v3/projects/{project['id']}",
                               token=token)).status_code == 200
