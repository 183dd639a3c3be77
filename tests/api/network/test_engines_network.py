"""The networking service on PostgreSQL and on MariaDB, chosen by the ``[database]
url`` template alone: concurrent writers (which SQLite never has) must not hand out
an address twice, nor make a project two default security groups, nor overrun a
quota; the port list renders the JSON those engines return.

The servers are private ones started once per session (``tests/engines.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from onestack.cloud import Cloud
from tests import engines
from tests.api.identity.helpers import make_project, member_token
from tests.api.network.conftest import create
from tests.conftest import Api, admin_api


@pytest.fixture
async def admin(engine_cloud: Cloud) -> AsyncIterator[Api]:
    async with admin_api(engine_cloud, "network") as api:
        yield api


async def new_member(admin: Api, name: str) -> tuple[Api, str]:
    """A member of a new project (so no default security group yet), and its id."""
    identity = Api(admin.cloud, "identity", token=admin.token, clients=admin.clients)
    project = await make_project(identity, name)
    return admin.as_token(await member_token(identity, f"{name}-user", project)), project["id"]


async def test_the_url_selects_the_engine(engine_cloud: Cloud,
                                          server: engines.DatabaseServer) -> None:
    db = engine_cloud.services["network"].db
    dialects = {"postgresql": {"postgresql"}, "mariadb": {"mysql", "mariadb"}}
    assert db.engine.dialect.name in dialects[server.engine]


async def test_concurrent_creation_never_double_allocates(admin: Api) -> None:
    member, project_id = await new_member(admin, "racers")
    # no port quota: nothing makes these creations take turns (quotas.py would)
    unlimited = await admin.put(f"/v2.0/quotas/{project_id}", json={"quota": {"port": -1}})
    assert unlimited.status_code == 200, unlimited.text
    net = await create(member, "networks", "network", name="race")
    await create(member, "subnets", "subnet", network_id=net["id"], cidr="10.5.0.0/27",
                 ip_version=4)  # 29 addresses
    responses = await asyncio.gather(*[
        member.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        for _ in range(35)])
    created = [r.json()["port"] for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in created]
    assert len(created) == 29 and len(set(addresses)) == 29
    assert all(r.status_code == 409 for r in refused), [r.text for r in refused]
    # every port got the one default group of the project, made by whichever came first
    groups = (await member.get("/v2.0/security-groups?name=default")).json()
    assert len(groups["security_groups"]) == 1
    assert {tuple(p["security_groups"]) for p in created} == {
        (groups["security_groups"][0]["id"],)}
    listed = (await member.get(f"/v2.0/ports?network_id={net['id']}")).json()["ports"]
    assert sorted(p["id"] for p in listed) == sorted(p["id"] for p in created)
    assert all(p["project_id"] == project_id for p in listed)


async def test_concurrent_creation_keeps_the_quota(admin: Api) -> None:
    member, project_id = await new_member(admin, "quota-racers")
    updated = await admin.put(f"/v2.0/quotas/{project_id}", json={"quota": {"port": 5}})
    assert updated.status_code == 200, updated.text
    net = await create(member, "networks", "network", name="quota-race")
    await create(member, "subnets", "subnet", network_id=net["id"], cidr="10.6.0.0/24",
                 ip_version=4)
    responses = await asyncio.gather(*[
        member.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        for _ in range(12)])
    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 7, \
        [r.text for r in responses if r.status_code not in (201, 409)]
    listed = (await member.get(f"/v2.0/ports?network_id={net['id']}")).json()["ports"]
    assert len(listed) == 5


async def test_lists_agents_and_security_group_use(admin: Api) -> None:
    agents = (await admin.get("/v2.0/agents")).json()["agents"]
    assert {a["agent_type"] for a in agents} == {"DHCP agent", "L3 agent", "Metadata agent"}
    assert all(a["alive"] for a in agents)
    net = await create(admin, "networks", "network", name="sg")
    group = await create(admin, "security-groups", "security_group", name="web")
    port = await create(admin, "ports", "port", network_id=net["id"],
                        security_groups=[group["id"]], **{"binding:host_id": "h"})
    shown = (await admin.get(f"/v2.0/ports/{port['id']}")).json()["port"]
    listed = (await admin.get(f"/v2.0/ports?id={port['id']}")).json()["ports"]
    assert listed == [shown]
    busy = await admin.delete(f"/v2.0/security-groups/{group['id']}")
    assert busy.status_code == 409, busy.text
    assert (await admin.delete(f"/v2.0/ports/{port['id']}")).status_code == 204
    assert (await admin.delete(f"/v2.0/security-groups/{group['id']}")).status_code == 204
