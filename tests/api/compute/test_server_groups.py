"""Server groups: policies by microversion (soft ones from 2.15, one policy with rules
from 2.64), owners in the body (2.13), project isolation, listing every project's for
admins, paging, members and the server group quota."""

from __future__ import annotations

import time
import uuid
from typing import Any

from onestack.compute import models as m
from tests.api.compute.conftest import Nova, Tenants


def fault(response: Any) -> tuple[str, str]:
    (key, value), = response.json().items()
    assert value["code"] == response.status_code
    return key, value["message"]


async def make(api: Nova, name: str = "group", version: str | None = None,
               **body: Any) -> dict[str, Any]:
    body = body or {"policies": ["anti-affinity"]}
    created = await api.post("/os-server-groups", json={"server_group": {"name": name,
                                                                          **body}},
                             version=version)
    assert created.status_code == 200, created.text
    return created.json()["server_group"]


async def test_create_show_list_delete(compute: Nova) -> None:
    group = await make(compute, "web")
    assert group == {"id": group["id"], "name": "web", "policies": ["anti-affinity"],
                     "members": [], "metadata": {}}
    assert uuid.UUID(group["id"])
    shown = await compute.get(f"/os-server-groups/{group['id']}")
    assert shown.status_code == 200 and shown.json()["server_group"] == group
    assert (await compute.get("/os-server-groups")).json() == {"server_groups": [group]}
    assert (await compute.delete(f"/os-server-groups/{group['id']}")).status_code == 204
    missing = await compute.get(f"/os-server-groups/{group['id']}")
    assert missing.status_code == 404
    assert fault(missing) == ("itemNotFound",
                              f"Instance group {group['id']} could not be found.")
    assert (await compute.delete(f"/os-server-groups/{group['id']}")).status_code == 404


async def test_policies_by_microversion(compute: Nova) -> None:
    owned = await make(compute, "owned", version="2.13", policies=["affinity"])
    assert owned["project_id"] and owned["user_id"]
    soft = {"policies": ["soft-affinity"]}
    assert (await compute.post("/os-server-groups", json={"server_group": {
        "name": "s", **soft}}, version="2.14")).status_code == 400
    assert (await make(compute, "s", version="2.15", **soft))["policies"] == ["soft-affinity"]
    modern = await make(compute, "m", version="2.64", policy="anti-affinity",
                        rules={"max_server_per_host": "2"})
    assert modern["policy"] == "anti-affinity"
    assert modern["rules"] == {"max_server_per_host": 2}
    assert "policies" not in modern and "metadata" not in modern
    plain = await make(compute, "p", version="2.64", policy="soft-affinity")
    assert plain["rules"] == {}
    old_view = (await compute.get(f"/os-server-groups/{modern['id']}")).json()["server_group"]
    assert old_view["policies"] == ["anti-affinity"] and old_view["metadata"] == {}
    new_view = (await compute.get(f"/os-server-groups/{owned['id']}",
                                  version="2.64")).json()["server_group"]
    assert new_view["policy"] == "affinity" and new_view["rules"] == {}
    rules_on_affinity = await compute.post("/os-server-groups", json={"server_group": {
        "name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}},
        version="2.64")
    assert rules_on_affinity.status_code == 400
    assert fault(rules_on_affinity)[1] == "Only anti-affinity policy supports rules."
    for bad, version in (
            ({"policies": ["affinity", "anti-affinity"]}, "2.1"),
            ({"policies": []}, "2.1"),
            ({"policies": ["spread"]}, "2.1"),
            ({"policies": "affinity"}, "2.1"),
            ({"policy": "affinity"}, "2.1"),
            ({"policies": ["affinity"]}, "2.64"),
            ({"policy": "anti-affinity", "rules": {"max_server_per_host": 0}}, "2.64"),
            ({"policy": "anti-affinity", "rules": {"max_server_per_host": "x"}}, "2.64"),
            ({"policy": "anti-affinity", "rules": {"other": 1}}, "2.64"),
            ({}, "2.64")):
        response = await compute.post("/os-server-groups", json={"server_group": {
            "name": "bad", **bad}}, version=version)
        assert response.status_code == 400, (bad, version)
    for name in ("", " padded", "x" * 256):
        response = await compute.post("/os-server-groups", json={"server_group": {
            "name": name, "policies": ["affinity"]}})
        assert response.status_code == 400, name
    assert (await compute.post("/os-server-groups", json={"group": {}})).status_code == 400


async def test_projects_are_isolated(compute: Nova, tenants: Tenants) -> None:
    alice_group = await make(tenants.alice, "alice-g", version="2.13")
    bob_group = await make(tenants.bob, "bob-g", version="2.13")
    assert alice_group["project_id"] == tenants.one["id"]
    assert [g["name"] for g in (await tenants.alice.get("/os-server-groups")).json()[
        "server_groups"]] == ["alice-g"]
    denied = await tenants.bob.get(f"/os-server-groups/{alice_group['id']}")
    assert denied.status_code == 403 and fault(denied)[0] == "forbidden"
    assert (await tenants.bob.delete(f"/os-server-groups/{alice_group['id']}")
            ).status_code == 403
    # all_projects is for admins; others see their own project's
    ignored = (await tenants.bob.get("/os-server-groups?all_projects=True")).json()
    assert [g["id"] for g in ignored["server_groups"]] == [bob_group["id"]]
    assert (await compute.get("/os-server-groups")).json() == {"server_groups": []}
    everything = (await compute.get("/os-server-groups?all_projects=True")).json()
    assert {g["id"] for g in everything["server_groups"]} == {alice_group["id"],
                                                              bob_group["id"]}
    assert (await compute.get(f"/os-server-groups/{bob_group['id']}")).status_code == 200
    assert (await compute.delete(f"/os-server-groups/{bob_group['id']}")).status_code == 204
    assert (await tenants.alice.get("/os-server-groups?colour=red",
                                    version="2.75")).status_code == 400


async def test_limit_and_offset(compute: Nova) -> None:
    for index in range(5):
        await make(compute, f"g{index}")

    async def names(query: str) -> list[str]:
        response = await compute.get(f"/os-server-groups{query}")
        assert response.status_code == 200, response.text
        return [g["name"] for g in response.json()["server_groups"]]

    assert await names("") == ["g0", "g1", "g2", "g3", "g4"]
    assert await names("?limit=2") == ["g0", "g1"]
    assert await names("?limit=2&offset=3") == ["g3", "g4"]
    assert await names("?offset=4") == ["g4"]
    assert await names("?limit=0") == ["g0", "g1", "g2", "g3", "g4"]
    for bad in ("?limit=-1", "?offset=x", "?limit=x"):
        assert (await compute.get(f"/os-server-groups{bad}")).status_code == 400, bad


async def test_members_exclude_deleted_servers(compute: Nova) -> None:
    group = await make(compute, "members")
    running = compute.cloud.services["compute"]
    live, gone, pending = (str(uuid.uuid4()) for _ in range(3))
    now = time.time()

    def server(uuid_: str, deleted_at: float | None) -> dict[str, Any]:
        return {"uuid": uuid_, "display_name": "vm", "project_id": "p", "user_id": "u",
                "reservation_id": "r", "flavor": {}, "system_metadata": {}, "metadata": {},
                "tags": [], "vm_state": "active", "request": {}, "network_info": [],
                "created_at": now, "deleted_at": deleted_at}
    async with running.db.writer() as conn:
        await conn.execute(m.instance.insert(), [server(live, None), server(gone, now)])
        await conn.execute(m.server_group_member.insert(), [
            {"group_uuid": group["id"], "instance_uuid": u} for u in (live, gone, pending)])
    shown = (await compute.get(f"/os-server-groups/{group['id']}")).json()["server_group"]
    assert sorted(shown["members"]) == sorted([live, pending])
    listed = (await compute.get("/os-server-groups")).json()["server_groups"]
    assert sorted(listed[0]["members"]) == sorted([live, pending])
    from onestack.compute.objects import server_groups
    async with running.db.reader() as conn:
        found = await server_groups.group_of(conn, live)
        assert found is not None and found["uuid"] == group["id"]
        assert await server_groups.group_of(conn, str(uuid.uuid4())) is None
    assert (await compute.delete(f"/os-server-groups/{group['id']}")).status_code == 204


async def test_server_group_quota(compute: Nova, tenants: Tenants) -> None:
    await compute.put(f"/os-quota-sets/{tenants.one['id']}", json={"quota_set": {
        "server_groups": 1}})
    await make(tenants.alice, "first")
    over = await tenants.alice.post("/os-server-groups", json={"server_group": {
        "name": "second", "policies": ["affinity"]}})
    assert over.status_code == 403
    assert fault(over) == ("forbidden", "Quota exceeded, too many server groups.")
    await make(tenants.bob, "other-project")
    detail = (await tenants.alice.get(f"/os-quota-sets/{tenants.one['id']}/detail")).json()
    assert detail["quota_set"]["server_groups"] == {"in_use": 1, "limit": 1, "reserved": 0}
    assert (await tenants.alice.get("/limits")).json()["limits"]["absolute"][
        "totalServerGroupsUsed"] == 1
