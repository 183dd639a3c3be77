"""Quotas as Nova keeps them: defaults, the default quota class, project and user
limits and their validation, usage details; the engine's checks and messages; /limits
and the simple tenant usage report, each by microversion."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from onestack.compute import models as m
from onestack.compute.objects import quotas
from tests.api.compute.conftest import Nova, Tenants

ALL = {"instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups",
       "server_group_members", "injected_files", "injected_file_content_bytes",
       "injected_file_path_bytes", "fixed_ips", "floating_ips", "security_groups",
       "security_group_rules"}
NETWORK = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
INJECTED = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}


def fault(response: Any) -> tuple[str, str]:
    (key, value), = response.json().items()
    assert value["code"] == response.status_code
    return key, value["message"]


async def add_servers(api: Nova, project_id: str, user_id: str = "someone", count: int = 1,
                      vcpus: int = 2, ram: int = 1024, **extra: Any) -> list[str]:
    """Servers written straight into the instance table (as the boot path would)."""
    running = api.cloud.services["compute"]
    now = time.time()
    rows = []
    for index in range(count):
        row = {"uuid": str(uuid.uuid4()), "display_name": f"vm-{index}",
               "project_id": project_id, "user_id": user_id, "reservation_id": "r-1",
               "flavor": {"id": "f", "name": "small", "vcpus": vcpus, "memory_mb": ram,
                          "root_gb": 10, "ephemeral_gb": 5},
               "system_metadata": {}, "metadata": {}, "tags": [], "vm_state": "active",
               "request": {}, "network_info": [], "created_at": now + index}
        row.update(extra)
        rows.append(row)
    async with running.db.writer() as conn:
        await conn.execute(m.instance.insert(), rows)
    return [r["uuid"] for r in rows]


async def test_defaults_and_shapes_by_microversion(compute: Nova, tenants: Tenants) -> None:
    project = tenants.one["id"]
    shown = (await compute.get(f"/os-quota-sets/{project}")).json()["quota_set"]
    assert set(shown) == ALL | {"id"} and shown["id"] == project
    assert (shown["instances"], shown["cores"], shown["ram"], shown["key_pairs"]) == (
        10, 20, 51200, 100)
    assert shown["floating_ips"] == -1 and shown["injected_file_path_bytes"] == 255
    at_236 = (await compute.get(f"/os-quota-sets/{project}", version="2.36")).json()
    assert set(at_236["quota_set"]) == ALL - NETWORK | {"id"}
    at_257 = (await compute.get(f"/os-quota-sets/{project}/defaults", version="2.57")).json()
    assert set(at_257["quota_set"]) == ALL - NETWORK - INJECTED | {"id"}
    detail = (await compute.get(f"/os-quota-sets/{project}/detail")).json()["quota_set"]
    assert detail["cores"] == {"in_use": 0, "limit": 20, "reserved": 0}
    assert set(detail) == ALL | {"id"}


async def test_update_validate_and_reset(compute: Nova, tenants: Tenants) -> None:
    project = tenants.one["id"]
    url = f"/os-quota-sets/{project}"
    updated = await compute.put(url, json={"quota_set": {"instances": 5, "cores": "7",
                                                         "ram": -1}})
    assert updated.status_code == 200
    body = updated.json()["quota_set"]
    assert "id" not in body and (body["instances"], body["cores"], body["ram"]) == (5, 7, -1)
    shown = (await compute.get(url)).json()["quota_set"]
    assert (shown["instances"], shown["cores"]) == (5, 7)
    other = (await compute.get(f"/os-quota-sets/{tenants.two['id']}")).json()["quota_set"]
    assert other["instances"] == 10
    for bad in ({"instances": "many"}, {"instances": -2}, {"instances": 1.5},
                {"colour": 1}, {"instances": 2**31}, {"force": "perhaps"}):
        response = await compute.put(url, json={"quota_set": bad})
        assert response.status_code == 400, bad
    network = await compute.put(url, json={"quota_set": {"floating_ips": 3}}, version="2.36")
    assert network.status_code == 400
    assert (await compute.put(url, json={"quota_set": {"floating_ips": 3}})).status_code \
        == 200
    injected = await compute.put(url, json={"quota_set": {"injected_files": 1}},
                                 version="2.57")
    assert injected.status_code == 400
    reset = await compute.delete(url)
    assert reset.status_code == 202
    assert (await compute.get(url)).json()["quota_set"]["instances"] == 10


async def test_limits_must_cover_usage_unless_forced(compute: Nova, tenants: Tenants) -> None:
    project = tenants.one["id"]
    await add_servers(compute, project, count=3, vcpus=2)
    url = f"/os-quota-sets/{project}"
    below = await compute.put(url, json={"quota_set": {"cores": 5}})
    assert below.status_code == 400
    assert fault(below)[1] == ("Quota limit 5 for cores must be greater than or equal to "
                               "already used and reserved 6.")
    assert (await compute.put(url, json={"quota_set": {"cores": 6}})).status_code == 200
    forced = await compute.put(url, json={"quota_set": {"cores": 1, "force": True}})
    assert forced.status_code == 200 and forced.json()["quota_set"]["cores"] == 1
    detail = (await compute.get(f"{url}/detail")).json()["quota_set"]
    assert detail["instances"]["in_use"] == 3 and detail["cores"] == {
        "in_use": 6, "limit": 1, "reserved": 0}
    assert detail["ram"]["in_use"] == 3 * 1024


async def test_user_limits_fit_in_the_project(compute: Nova, tenants: Tenants) -> None:
    project = tenants.one["id"]
    url = f"/os-quota-sets/{project}"
    await compute.put(url, json={"quota_set": {"instances": 10}})
    first = await compute.put(f"{url}?user_id=u1", json={"quota_set": {"instances": 6}})
    assert first.status_code == 200 and first.json()["quota_set"]["instances"] == 6
    user = (await compute.get(f"{url}?user_id=u1")).json()["quota_set"]
    assert user["instances"] == 6 and user["cores"] == 20
    too_much = await compute.put(f"{url}?user_id=u2", json={"quota_set": {"instances": 5}})
    assert too_much.status_code == 400
    assert fault(too_much)[1] == ("Quota limit 5 for instances must be less than or equal "
                                  "to 4.")
    assert (await compute.put(f"{url}?user_id=u2", json={"quota_set": {"instances": 4}})
            ).status_code == 200
    # the project's limit covers what its users were given
    shrink = await compute.put(url, json={"quota_set": {"instances": 9}})
    assert shrink.status_code == 400
    await add_servers(compute, project, user_id="u1", count=2)
    user_detail = (await compute.get(f"{url}/detail?user_id=u1")).json()["quota_set"]
    assert user_detail["instances"] == {"in_use": 2, "limit": 6, "reserved": 0}
    assert (await compute.delete(f"{url}?user_id=u1")).status_code == 202
    assert (await compute.get(f"{url}?user_id=u1")).json()["quota_set"]["instances"] == 10
    assert (await compute.get(f"{url}?user_id=u2")).json()["quota_set"]["instances"] == 4
    assert (await compute.get(f"{url}?user_id=u1&colour=red", version="2.75")
            ).status_code == 400


async def test_quota_policies(compute: Nova, tenants: Tenants) -> None:
    own, other = tenants.one["id"], tenants.two["id"]
    assert (await tenants.alice.get(f"/os-quota-sets/{own}")).status_code == 200
    assert (await tenants.alice.get(f"/os-quota-sets/{own}/detail")).status_code == 200
    denied = await tenants.alice.get(f"/os-quota-sets/{other}")
    assert denied.status_code == 403 and fault(denied)[0] == "forbidden"
    assert (await tenants.alice.get(f"/os-quota-sets/{other}/defaults")).status_code == 200
    assert (await tenants.alice.put(f"/os-quota-sets/{own}", json={"quota_set": {
        "instances": 100}})).status_code == 403
    assert (await tenants.alice.delete(f"/os-quota-sets/{own}")).status_code == 403
    assert (await tenants.alice.get("/os-quota-class-sets/default")).status_code == 403


async def test_quota_classes(compute: Nova, tenants: Tenants) -> None:
    shown = (await compute.get("/os-quota-class-sets/default")).json()["quota_class_set"]
    assert shown["id"] == "default"
    assert set(shown) == ALL - {"server_groups", "server_group_members"} | {"id"}
    at_250 = (await compute.get("/os-quota-class-sets/default", version="2.50")).json()
    assert set(at_250["quota_class_set"]) == ALL - NETWORK | {"id"}
    at_257 = (await compute.get("/os-quota-class-sets/default", version="2.57")).json()
    assert set(at_257["quota_class_set"]) == ALL - NETWORK - INJECTED | {"id"}
    updated = await compute.put("/os-quota-class-sets/default", json={"quota_class_set": {
        "instances": 3, "server_groups": 4}}, version="2.50")
    assert updated.status_code == 200
    body = updated.json()["quota_class_set"]
    assert "id" not in body and (body["instances"], body["server_groups"]) == (3, 4)
    project = tenants.one["id"]
    defaults = (await compute.get(f"/os-quota-sets/{project}/defaults")).json()["quota_set"]
    assert defaults["instances"] == 3
    assert (await compute.get(f"/os-quota-sets/{project}")).json()["quota_set"][
        "instances"] == 3
    # another class starts from the configuration, not from the default class
    gold = (await compute.get("/os-quota-class-sets/gold")).json()["quota_class_set"]
    assert gold["instances"] == 10
    assert (await compute.put("/os-quota-class-sets/default", json={"quota_class_set": {
        "floating_ips": 1}}, version="2.50")).status_code == 400
    assert (await compute.put("/os-quota-class-sets/default", json={"quota_class_set": {
        "instances": "x"}})).status_code == 400


async def test_engine_checks_and_messages(compute: Nova, tenants: Tenants) -> None:
    running = compute.cloud.services["compute"]
    settings = running.settings
    project = tenants.one["id"]
    await add_servers(compute, project, user_id="u1", count=10, vcpus=1, ram=512)
    async with running.db.reader() as conn:
        used = await quotas.usage(conn, project)
        assert (used["instances"], used["cores"], used["ram"]) == (10, 10, 5120)
        assert (await quotas.usage(conn, project, "u1"))["instances"] == 10
        assert (await quotas.usage(conn, project, "u2"))["instances"] == 0
        with pytest.raises(quotas.OverQuota) as over:
            await quotas.check(conn, settings, project, "u1",
                               {"instances": 1, "cores": 1, "ram": 512})
        assert over.value.status == 403
        assert over.value.message == ("Quota exceeded for instances: Requested 1, but "
                                      "already used 10 of 10 instances")
        assert over.value.overs == ["instances"]
        with pytest.raises(quotas.OverQuota) as both:
            await quotas.check(conn, settings, project, "u1",
                               {"instances": 11, "cores": 11, "ram": 1})
        assert both.value.message == ("Quota exceeded for cores, instances: Requested 11, "
                                      "11, but already used 10, 10 of 20, 10 cores, "
                                      "instances")
        with pytest.raises(quotas.OverQuota) as members:
            await quotas.check(conn, settings, project, "u1", {"server_group_members": 2},
                               current={"server_group_members": 9})
        assert members.value.message == "Quota exceeded, too many servers in group"
        await quotas.check(conn, settings, project, "u1", {"server_group_members": 1},
                           current={"server_group_members": 9})
        await quotas.check(conn, settings, tenants.two["id"], "u9", {"instances": 10})
        await quotas.check_absolute(conn, settings, project, {"metadata_items": 128})
        with pytest.raises(quotas.OverQuota) as metadata:
            await quotas.check_absolute(conn, settings, project, {"metadata_items": 129})
        assert metadata.value.message == "Maximum number of metadata items exceeds 128"
        with pytest.raises(quotas.OverQuota) as path:
            await quotas.check_absolute(conn, settings, project,
                                        {"injected_file_path_bytes": 300})
        assert path.value.message == "Personality file path exceeds maximum 255"
    # a user's own limit is checked beside the project's
    await compute.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": 20}})
    await compute.put(f"/os-quota-sets/{project}?user_id=u1",
                      json={"quota_set": {"instances": 10}})
    async with running.db.reader() as conn:
        await quotas.check(conn, settings, project, "u2", {"instances": 1})
        with pytest.raises(quotas.OverQuota):
            await quotas.check(conn, settings, project, "u1", {"instances": 1})
    # deleted and soft-deleted servers no longer count
    await add_servers(compute, tenants.two["id"], count=2, deleted_at=time.time())
    await add_servers(compute, tenants.two["id"], count=1, vm_state="soft-delete")
    async with running.db.reader() as conn:
        assert (await quotas.usage(conn, tenants.two["id"]))["instances"] == 0


async def test_limits(compute: Nova, tenants: Tenants) -> None:
    project = tenants.one["id"]
    await add_servers(compute, project, count=2, vcpus=2, ram=256)
    await tenants.alice.post("/os-server-groups", json={"server_group": {
        "name": "g", "policies": ["affinity"]}})
    await compute.put(f"/os-quota-sets/{project}", json={"quota_set": {"cores": 8}})
    limits = (await tenants.alice.get("/limits")).json()["limits"]
    assert limits["rate"] == []
    absolute = limits["absolute"]
    assert absolute == {
        "maxTotalRAMSize": 51200, "maxTotalInstances": 10, "maxTotalCores": 8,
        "maxTotalKeypairs": 100, "maxTotalFloatingIps": -1, "maxServerMeta": 128,
        "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxSecurityGroups": -1, "maxSecurityGroupRules": -1, "maxServerGroups": 10,
        "maxServerGroupMembers": 10, "totalRAMUsed": 512, "totalCoresUsed": 4,
        "totalInstancesUsed": 2, "totalFloatingIpsUsed": 0, "totalSecurityGroupsUsed": 0,
        "totalServerGroupsUsed": 1}
    at_236 = (await tenants.alice.get("/limits", version="2.36")).json()["limits"]["absolute"]
    assert not {"maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules",
                "totalFloatingIpsUsed", "totalSecurityGroupsUsed"} & set(at_236)
    assert "maxImageMeta" in at_236
    at_239 = (await tenants.alice.get("/limits", version="2.39")).json()["limits"]["absolute"]
    assert "maxImageMeta" not in at_239 and "maxPersonality" in at_239
    at_257 = (await tenants.alice.get("/limits", version="2.57")).json()["limits"]["absolute"]
    assert "maxPersonality" not in at_257 and "maxPersonalitySize" not in at_257
    assert at_257["maxServerMeta"] == 128
    bob = (await tenants.bob.get("/limits")).json()["limits"]["absolute"]
    assert bob["totalInstancesUsed"] == 0 and bob["maxTotalCores"] == 20
    other = await compute.get(f"/limits?tenant_id={project}")
    assert other.json()["limits"]["absolute"]["totalCoresUsed"] == 4
    assert (await tenants.bob.get(f"/limits?tenant_id={project}")).status_code == 403
    assert (await tenants.bob.get("/limits?colour=red", version="2.75")).status_code == 400


async def test_simple_tenant_usage(compute: Nova, tenants: Tenants) -> None:
    one, two = tenants.one["id"], tenants.two["id"]
    now = time.time()
    hour = 3600.0
    running_ids = await add_servers(compute, one, count=2, vcpus=2, ram=1024,
                                    launched_at=now - 2 * hour)
    ended = await add_servers(compute, two, count=1, vcpus=4, ram=2048,
                              launched_at=now - 5 * hour, terminated_at=now - 4 * hour,
                              deleted_at=now - 4 * hour, vm_state="deleted")
    await add_servers(compute, two, count=1, launched_at=None)  # never ran
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 10 * hour))
    listed = await compute.get(f"/os-simple-tenant-usage?start={start}&detailed=1")
    assert listed.status_code == 200, listed.text
    usages = {u["tenant_id"]: u for u in listed.json()["tenant_usages"]}
    assert set(usages) == {one, two}
    first = usages[one]
    assert first["total_hours"] == pytest.approx(4.0, abs=0.01)
    assert first["total_vcpus_usage"] == pytest.approx(8.0, abs=0.05)
    assert first["total_memory_mb_usage"] == pytest.approx(4096, abs=5)
    assert first["total_local_gb_usage"] == pytest.approx(60, abs=0.5)
    server = first["server_usages"][0]
    assert server["instance_id"] in running_ids and server["state"] == "active"
    assert server["flavor"] == "small" and server["local_gb"] == 15
    assert server["ended_at"] is None and server["uptime"] >= 7199
    second = usages[two]["server_usages"]
    assert [s["instance_id"] for s in second] == ended
    assert second[0]["state"] == "terminated" and second[0]["hours"] == pytest.approx(1.0)
    brief = (await compute.get(f"/os-simple-tenant-usage?start={start}")).json()
    assert "server_usages" not in brief["tenant_usages"][0]
    mine = await tenants.alice.get(f"/os-simple-tenant-usage/{one}?start={start}")
    assert mine.status_code == 200
    assert len(mine.json()["tenant_usage"]["server_usages"]) == 2
    assert (await tenants.alice.get(f"/os-simple-tenant-usage/{two}")).status_code == 403
    assert (await tenants.alice.get("/os-simple-tenant-usage")).status_code == 403
    empty = (await compute.get(f"/os-simple-tenant-usage/{two}?start="
                               f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now - 60))}"
                               )).json()
    assert empty == {"tenant_usage": {}}
    for bad in ("start=yesterday", f"start={start}&end={start}"):
        response = await compute.get(f"/os-simple-tenant-usage?{bad}")
        assert response.status_code == 400, bad
    seen: list[str] = []
    query = f"start={start}&detailed=1&limit=2"
    while True:
        page = (await compute.get(f"/os-simple-tenant-usage?{query}", version="2.40")).json()
        seen += [s["instance_id"] for u in page["tenant_usages"] for s in u["server_usages"]]
        if "tenant_usages_links" not in page:
            break
        query = page["tenant_usages_links"][0]["href"].split("?", 1)[1]
    assert sorted(seen) == sorted(running_ids + ended)
    one_page = (await compute.get(f"/os-simple-tenant-usage/{one}?start={start}&limit=1",
                                  version="2.40")).json()
    assert f"os-simple-tenant-usage/{one}?" in one_page["tenant_usage_links"][0]["href"]
    assert (await compute.get("/os-simple-tenant-usage?marker=nope",
                              version="2.40")).status_code == 400
    assert (await compute.get("/os-simple-tenant-usage?colour=red",
                              version="2.75")).status_code == 400


async def test_counts_and_visibility_on_each_engine(engine_cloud: Any) -> None:
    """The JSON sums of usage, boolean filters and subqueries of flavor visibility, on
    PostgreSQL and MariaDB."""
    from tests.api.identity.helpers import make_project, member_token
    from tests.conftest import Api, admin_api

    async with admin_api(engine_cloud, "compute", Nova) as admin:
        nova: Nova = admin  # type: ignore[assignment]
        identity = Api(engine_cloud, "identity", token=nova.token, clients=nova.clients)
        project = await make_project(identity, f"engine-{uuid.uuid4().hex[:8]}")
        member = nova.as_token(await member_token(identity, f"u-{project['id'][:8]}",
                                                  project))
        for fid, public in (("pub", True), ("priv", False), ("shared", False)):
            created = await nova.post("/flavors", json={"flavor": {
                "name": fid, "id": fid, "ram": 64, "vcpus": 1, "disk": 0,
                "os-flavor-access:is_public": public}})
            assert created.status_code == 200, created.text
        await nova.post("/flavors/shared/action", json={"addTenantAccess": {
            "tenant": project["id"]}})
        seen = (await member.get("/flavors")).json()["flavors"]
        assert [f["id"] for f in seen] == ["pub", "shared"]
        assert (await member.get("/flavors/priv")).status_code == 404
        await add_servers(nova, project["id"], count=3, vcpus=2, ram=300)
        assert (await member.post("/os-server-groups", json={"server_group": {
            "name": "g", "policies": ["affinity"]}})).status_code == 200
        assert (await member.post("/os-keypairs", json={"keypair": {"name": "k"}})
                ).status_code == 200
        absolute = (await member.get("/limits")).json()["limits"]["absolute"]
        assert (absolute["totalInstancesUsed"], absolute["totalCoresUsed"],
                absolute["totalRAMUsed"], absolute["totalServerGroupsUsed"]) == (3, 6, 900, 1)
        below = await nova.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {
            "cores": 5}})
        assert below.status_code == 400
        # concurrent creations never overrun the limit
        await nova.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {
            "server_groups": 3}})
        results = await asyncio.gather(*(member.post("/os-server-groups", json={
            "server_group": {"name": f"g{i}", "policies": ["affinity"]}}) for i in range(8)))
        assert {r.status_code for r in results} <= {200, 403}
        groups = (await member.get("/os-server-groups")).json()["server_groups"]
        assert 1 <= len(groups) <= 3
