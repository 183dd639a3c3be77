"""Stories of GET /allocation_candidates with each filter and across microversions."""

from __future__ import annotations

import uuid

RES = "resources=VCPU:1,MEMORY_MB:512"


async def _two_hosts(placement):
    a = await placement.provider("cn-a", VCPU=4, MEMORY_MB=2048)
    b = await placement.provider("cn-b", VCPU=4, MEMORY_MB=2048)
    return a["uuid"], b["uuid"]


def _providers(body):
    return [sorted(r["allocations"]) for r in body["allocation_requests"]]


async def test_candidates_and_limit(placement):
    a, b = await _two_hosts(placement)
    body = (await placement.get(f"/allocation_candidates?{RES}")).json()
    assert _providers(body) == [[a], [b]]
    assert body["provider_summaries"][a]["resources"]["VCPU"] == {"capacity": 4, "used": 0}
    assert body["allocation_requests"][0]["mappings"] == {"": [a]}
    limited = (await placement.get(f"/allocation_candidates?{RES}&limit=1")).json()
    assert len(limited["allocation_requests"]) == 1
    assert (await placement.get(f"/allocation_candidates?{RES}",
                                version="1.9")).status_code == 404
    old = (await placement.get(f"/allocation_candidates?{RES}", version="1.10")).json()
    assert old["allocation_requests"][0]["allocations"][0]["resource_provider"]["uuid"] == a


async def test_candidates_follow_usage(placement):
    a, b = await _two_hosts(placement)
    await placement.claim(str(uuid.uuid4()), {a: {"VCPU": 4}})
    body = (await placement.get(f"/allocation_candidates?{RES}")).json()
    assert _providers(body) == [[b]]


async def test_required_and_forbidden_traits(placement):
    a, b = await _two_hosts(placement)
    await placement.put(f"/resource_providers/{a}/traits", json={
        "resource_provider_generation": 1, "traits": ["STORAGE_DISK_SSD"]})
    ssd = (await placement.get(f"/allocation_candidates?{RES}&required=STORAGE_DISK_SSD"))
    assert _providers(ssd.json()) == [[a]]
    no_ssd = await placement.get(f"/allocation_candidates?{RES}&required=!STORAGE_DISK_SSD")
    assert _providers(no_ssd.json()) == [[b]]
    anyof = await placement.get(f"/allocation_candidates?{RES}"
                                "&required=in:STORAGE_DISK_SSD,STORAGE_DISK_HDD")
    assert _providers(anyof.json()) == [[a]]
    old = await placement.get(f"/allocation_candidates?{RES}&required=STORAGE_DISK_SSD",
                              version="1.16")
    assert old.status_code == 400
    unknown = await placement.get(f"/allocation_candidates?{RES}&required=CUSTOM_NOPE")
    assert unknown.status_code == 400


async def test_member_of_and_in_tree(placement):
    a, b = await _two_hosts(placement)
    agg = str(uuid.uuid4())
    await placement.put(f"/resource_providers/{b}/aggregates", json={
        "aggregates": [agg], "resource_provider_generation": 1})
    member = await placement.get(f"/allocation_candidates?{RES}&member_of={agg}")
    assert _providers(member.json()) == [[b]]
    excluded = await placement.get(f"/allocation_candidates?{RES}&member_of=!{agg}")
    assert _providers(excluded.json()) == [[a]]
    tree = await placement.get(f"/allocation_candidates?{RES}&in_tree={a}")
    assert _providers(tree.json()) == [[a]]
    bad = await placement.get(f"/allocation_candidates?{RES}&member_of=not-a-uuid")
    assert bad.status_code == 400


async def test_nested_tree_combines_providers(placement):
    root = await placement.provider("numa-host", VCPU=8)
    child = await placement.provider("gpu", parent=root["uuid"], VGPU=2)
    body = (await placement.get("/allocation_candidates?resources=VCPU:2,VGPU:1")).json()
    assert _providers(body) == [sorted([root["uuid"], child["uuid"]])]
    assert set(body["provider_summaries"]) == {root["uuid"], child["uuid"]}


async def test_granular_groups_and_isolation(placement):
    root = await placement.provider("sriov-host", VCPU=8)
    pf1 = await placement.provider("pf1", parent=root["uuid"], SRIOV_NET_VF=4)
    pf2 = await placement.provider("pf2", parent=root["uuid"], SRIOV_NET_VF=4)
    query = ("resources=VCPU:1&resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1")
    missing = await placement.get(f"/allocation_candidates?{query}")
    assert missing.status_code == 400
    isolate = (await placement.get(f"/allocation_candidates?{query}&group_policy=isolate"))
    pairs = [r["mappings"] for r in isolate.json()["allocation_requests"]]
    assert {(m["1"][0], m["2"][0]) for m in pairs} == {(pf1["uuid"], pf2["uuid"]),
                                                       (pf2["uuid"], pf1["uuid"])}
    shared = (await placement.get(f"/allocation_candidates?{query}&group_policy=none"))
    assert len(shared.json()["allocation_requests"]) == 4


async def test_sharing_provider_via_aggregate(placement):
    host = await placement.provider("compute", VCPU=8)
    disk = await placement.provider("shared-disk", DISK_GB=1000)
    agg = str(uuid.uuid4())
    for rp in (host, disk):
        current = (await placement.get(f"/resource_providers/{rp['uuid']}")).json()
        await placement.put(f"/resource_providers/{rp['uuid']}/aggregates", json={
            "aggregates": [agg], "resource_provider_generation": current["generation"]})
    await placement.put(f"/resource_providers/{disk['uuid']}/traits", json={
        "resource_provider_generation": 2, "traits": ["MISC_SHARES_VIA_AGGREGATE"]})
    body = (await placement.get("/allocation_candidates?resources=VCPU:1,DISK_GB:10")).json()
    assert _providers(body) == [sorted([host["uuid"], disk["uuid"]])]


async def test_bad_queries(placement):
    await _two_hosts(placement)
    for query in ("", "resources=VCPU", "resources=VCPU:0", "resources=NOPE:1",
                  f"{RES}&limit=0", f"{RES}&bogus=1", f"{RES}&group_policy=sometimes"):
        response = await placement.get(f"/allocation_candidates?{query}")
        assert response.status_code == 400, query


async def test_answer_after_writes_matches_a_fresh_search(placement):
    """Kept answers refreshed provider by provider equal a search from scratch."""
    rps = [await placement.provider(f"inc-{i}", VCPU=2, MEMORY_MB=1024) for i in range(4)]
    query = "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512"
    limited = query + "&limit=2"
    for path in (query, limited):
        assert (await placement.get(path)).status_code == 200
    await placement.claim(str(uuid.uuid4()), {rps[0]["uuid"]: {"VCPU": 2}})
    await placement.claim(str(uuid.uuid4()), {rps[2]["uuid"]: {"VCPU": 1}})
    await placement.inventories(rps[3]["uuid"], VCPU=1, MEMORY_MB=256)
    kept = [(await placement.get(p)).json() for p in (query, limited)]
    placement.cloud.services["placement"].candidates.clear()
    fresh = [(await placement.get(p)).json() for p in (query, limited)]
    assert kept == fresh
    assert list(kept[0]["provider_summaries"]) == [rps[1]["uuid"], rps[2]["uuid"]]
    assert kept[0]["provider_summaries"][rps[2]["uuid"]]["resources"]["VCPU"]["used"] == 1
    assert len(kept[1]["allocation_requests"]) == 2
