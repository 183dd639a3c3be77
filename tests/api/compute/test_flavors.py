"""Flavors as Nova keeps them: create (ids given, generated or "auto"), show, list with
filters, sorting and paging, descriptions (2.55), extra specs (in the body from 2.61,
validated from 2.86), private flavors and their access lists."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.compute.conftest import Nova, Tenants


async def make(api: Nova, name: str, *, version: str | None = None, **extra: Any
               ) -> dict[str, Any]:
    body = {"name": name, "ram": 512, "vcpus": 1, "disk": 1, **extra}
    created = await api.post("/flavors", json={"flavor": body}, version=version)
    assert created.status_code == 200, created.text
    return created.json()["flavor"]


def fault(response: Any) -> tuple[str, str]:
    (key, value), = response.json().items()
    assert value["code"] == response.status_code
    return key, value["message"]


async def test_create_show_list_delete(compute: Nova) -> None:
    flavor = await make(compute, "m1.small", id="42", swap=0, rxtx_factor=2,
                        **{"OS-FLV-EXT-DATA:ephemeral": 5})
    assert flavor == {
        "id": "42", "name": "m1.small", "ram": 512, "disk": 1, "vcpus": 1, "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 5, "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True, "rxtx_factor": 2.0, "links": flavor["links"]}
    assert [link["rel"] for link in flavor["links"]] == ["self", "bookmark"]
    assert flavor["links"][0]["href"].endswith("/v2.1/flavors/42")
    shown = await compute.get("/flavors/42")
    assert shown.status_code == 200 and shown.json()["flavor"] == flavor
    brief = (await compute.get("/flavors")).json()
    assert brief == {"flavors": [{"id": "42", "name": "m1.small", "links": flavor["links"]}]}
    detail = (await compute.get("/flavors/detail")).json()["flavors"]
    assert detail == [flavor]
    deleted = await compute.delete("/flavors/42")
    assert deleted.status_code == 202
    missing = await compute.get("/flavors/42")
    assert missing.status_code == 404
    assert fault(missing) == ("itemNotFound", "Flavor 42 could not be found.")
    assert (await compute.delete("/flavors/42")).status_code == 404


async def test_ids_generated_and_duplicates_conflict(compute: Nova) -> None:
    generated = await make(compute, "gen")
    assert uuid.UUID(generated["id"])
    auto = await make(compute, "auto-id", id="auto")
    assert uuid.UUID(auto["id"])
    numeric = await make(compute, "numeric", id=7, ram="1024", vcpus="2", disk="0")
    assert (numeric["id"], numeric["ram"], numeric["vcpus"], numeric["disk"]) == (
        "7", 1024, 2, 0)
    same_name = await compute.post("/flavors", json={"flavor": {
        "name": "gen", "ram": 1, "vcpus": 1, "disk": 0}})
    assert same_name.status_code == 409
    assert fault(same_name) == ("conflictingRequest", "Flavor with name gen already exists.")
    same_id = await compute.post("/flavors", json={"flavor": {
        "name": "other", "ram": 1, "vcpus": 1, "disk": 0, "id": "7"}})
    assert same_id.status_code == 409
    assert fault(same_id)[1] == "Flavor with ID 7 already exists."


async def test_create_validation(compute: Nova) -> None:
    base = {"name": "v", "ram": 512, "vcpus": 1, "disk": 1}
    for bad in ({"ram": 0}, {"vcpus": 0}, {"disk": -1}, {"ram": "lots"},
                {"ram": 2**31}, {"swap": -1}, {"rxtx_factor": 0}, {"rxtx_factor": "x"},
                {"name": " padded"}, {"name": ""}, {"id": " bad"}, {"id": "a/b"},
                {"os-flavor-access:is_public": "maybe"}, {"colour": "red"},
                {"description": "before 2.55"}):
        response = await compute.post("/flavors", json={"flavor": {**base, **bad}})
        assert response.status_code == 400, bad
        assert fault(response)[0] == "badRequest"
    for missing in ("name", "ram", "vcpus", "disk"):
        body = {k: v for k, v in base.items() if k != missing}
        assert (await compute.post("/flavors", json={"flavor": body})).status_code == 400
    assert (await compute.post("/flavors", json={"flavour": base})).status_code == 400


async def test_description_extra_specs_and_swap_by_microversion(compute: Nova) -> None:
    flavor = await make(compute, "described", id="d1", version="2.55",
                        description="for tests")
    assert flavor["description"] == "for tests" and "extra_specs" not in flavor
    old = await compute.put("/flavors/d1", json={"flavor": {"description": "x"}},
                            version="2.54")
    assert old.status_code == 404
    updated = await compute.put("/flavors/d1", json={"flavor": {"description": "new"}},
                                version="2.55")
    assert updated.status_code == 200
    assert updated.json()["flavor"]["description"] == "new"
    assert (await compute.put("/flavors/d1", json={"flavor": {"name": "n"}},
                              version="2.55")).status_code == 400
    assert (await compute.put("/flavors/nope", json={"flavor": {"description": None}},
                              version="2.55")).status_code == 404
    brief = (await compute.get("/flavors", version="2.55")).json()["flavors"]
    assert brief[0]["description"] == "new"
    assert "description" not in (await compute.get("/flavors/d1")).json()["flavor"]
    await compute.post("/flavors/d1/os-extra_specs", json={"extra_specs": {"k": "v"}})
    shown = (await compute.get("/flavors/d1", version="2.61")).json()["flavor"]
    assert shown["extra_specs"] == {"k": "v"}
    detail = (await compute.get("/flavors/detail", version="2.61")).json()["flavors"]
    assert detail[0]["extra_specs"] == {"k": "v"}
    assert "extra_specs" not in (await compute.get("/flavors/d1",
                                                   version="2.60")).json()["flavor"]
    assert shown["swap"] == ""
    assert (await compute.get("/flavors/d1", version="2.75")).json()["flavor"]["swap"] == 0
    created = await make(compute, "new-with-specs", version="2.61")
    assert created["extra_specs"] == {}


async def test_list_filters_sorting_and_paging(compute: Nova) -> None:
    for index, (ram, disk) in enumerate([(256, 1), (512, 10), (1024, 20), (2048, 40)]):
        await make(compute, f"f{index}", id=f"f{index}", ram=ram, disk=disk)

    async def ids(query: str, version: str | None = None) -> list[str]:
        response = await compute.get(f"/flavors{query}", version=version)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["flavors"]]

    assert await ids("") == ["f0", "f1", "f2", "f3"]
    assert await ids("?minRam=600") == ["f2", "f3"]
    assert await ids("/detail?minDisk=10&minRam=1000") == ["f2", "f3"]
    assert await ids("?sort_key=memory_mb&sort_dir=desc") == ["f3", "f2", "f1", "f0"]
    assert await ids("?sort_key=name&sort_dir=asc") == ["f0", "f1", "f2", "f3"]
    for bad in ("?minRam=big", "?minDisk=x", "?sort_key=colour", "?sort_dir=up",
                "?marker=nope", "?limit=-1", "?limit=x"):
        response = await compute.get(f"/flavors{bad}")
        assert response.status_code == 400, bad
    page = (await compute.get("/flavors?limit=2")).json()
    assert [f["id"] for f in page["flavors"]] == ["f0", "f1"]
    (link,) = page["flavors_links"]
    assert link["rel"] == "next" and "marker=f1" in link["href"]
    assert "/v2.1/flavors?" in link["href"]
    rest = (await compute.get("/flavors?limit=2&marker=f1")).json()
    assert [f["id"] for f in rest["flavors"]] == ["f2", "f3"] and "flavors_links" not in rest
    detail_page = (await compute.get("/flavors/detail?limit=1")).json()
    assert "/v2.1/flavors/detail?" in detail_page["flavors_links"][0]["href"]
    # a marker need not pass the filters: the page starts after its place
    assert await ids("?minRam=1000&marker=f0") == ["f2", "f3"]
    assert await ids("?colour=red") == ["f0", "f1", "f2", "f3"]
    unknown = await compute.get("/flavors?colour=red", version="2.75")
    assert unknown.status_code == 400


async def test_private_flavors_are_shared_per_project(compute: Nova, tenants: Tenants
                                                       ) -> None:
    await make(compute, "public", id="pub")
    await make(compute, "private", id="priv", **{"os-flavor-access:is_public": False})
    assert [f["id"] for f in (await compute.get("/flavors")).json()["flavors"]] == ["pub"]
    private = (await compute.get("/flavors?is_public=false")).json()["flavors"]
    assert [f["id"] for f in private] == ["priv"]
    every = (await compute.get("/flavors?is_public=None")).json()["flavors"]
    assert [f["id"] for f in every] == ["priv", "pub"]
    assert (await compute.get("/flavors?is_public=maybe")).status_code == 400
    for user in (tenants.alice, tenants.bob):
        seen = (await user.get("/flavors?is_public=false")).json()["flavors"]
        assert [f["id"] for f in seen] == ["pub"]
        assert (await user.get("/flavors/priv")).status_code == 404
    shared = await compute.post("/flavors/priv/action", json={
        "addTenantAccess": {"tenant": tenants.one["id"]}})
    assert shared.status_code == 200
    assert shared.json() == {"flavor_access": [{"flavor_id": "priv",
                                                "tenant_id": tenants.one["id"]}]}
    alice_sees = (await tenants.alice.get("/flavors")).json()["flavors"]
    assert [f["id"] for f in alice_sees] == ["priv", "pub"]
    assert (await tenants.alice.get("/flavors/priv")).status_code == 200
    assert (await tenants.bob.get("/flavors/priv")).status_code == 404
    flavor_specs = await tenants.alice.get("/flavors/priv/os-extra_specs")
    assert flavor_specs.status_code == 200
    assert (await tenants.bob.get("/flavors/priv/os-extra_specs")).status_code == 404
    running = compute.cloud.services["compute"]
    from onestack.compute.objects import flavors
    from onestack.kernel.auth import RequestContext

    def ctx(project: str) -> RequestContext:
        return RequestContext(user_id="u", roles=frozenset({"member"}), project_id=project)
    async with running.db.reader() as conn:
        booted = await flavors.get_for_boot(conn, "priv", ctx(tenants.one["id"]))
        assert booted is not None and booted["id"] == "priv"
        assert set(booted) == {"id", "name", "memory_mb", "vcpus", "root_gb", "ephemeral_gb",
                               "swap", "rxtx_factor", "is_public", "disabled",
                               "description", "extra_specs"}
        assert await flavors.get_for_boot(conn, "priv", ctx(tenants.two["id"])) is None
        link = await flavors.get_for_boot(conn, "http://x/v2.1/flavors/pub",
                                          ctx(tenants.two["id"]))
        assert link is not None and link["is_public"] is True
        assert await flavors.get_for_boot(conn, "nope", ctx(tenants.two["id"])) is None


async def test_flavor_access_rules(compute: Nova, tenants: Tenants) -> None:
    await make(compute, "public", id="pub")
    await make(compute, "private", id="priv", **{"os-flavor-access:is_public": False})
    listed = await compute.get("/flavors/pub/os-flavor-access")
    assert listed.status_code == 404
    assert fault(listed)[1] == "Access list not available for public flavors."
    assert (await compute.get("/flavors/priv/os-flavor-access")).json() == {
        "flavor_access": []}
    add = {"addTenantAccess": {"tenant": "p1"}}
    public = await compute.post("/flavors/pub/action", json=add, version="2.7")
    assert public.status_code == 409
    assert fault(public)[1] == "Can not add access to a public flavor."
    assert (await compute.post("/flavors/pub/action", json=add,
                               version="2.6")).status_code == 200
    assert (await compute.post("/flavors/priv/action", json=add)).status_code == 200
    again = await compute.post("/flavors/priv/action", json=add)
    assert again.status_code == 409
    assert fault(again)[1] == ("Flavor access already exists for flavor priv and project p1 "
                               "combination.")
    await compute.post("/flavors/priv/action", json={"addTenantAccess": {"tenant": "p0"}})
    access = (await compute.get("/flavors/priv/os-flavor-access")).json()["flavor_access"]
    assert [a["tenant_id"] for a in access] == ["p0", "p1"]
    removed = await compute.post("/flavors/priv/action",
                                 json={"removeTenantAccess": {"tenant": "p1"}})
    assert removed.json() == {"flavor_access": [{"flavor_id": "priv", "tenant_id": "p0"}]}
    gone = await compute.post("/flavors/priv/action",
                              json={"removeTenantAccess": {"tenant": "p1"}})
    assert gone.status_code == 404
    assert fault(gone)[1] == "Flavor access not found for priv / p1 combination."
    assert (await compute.post("/flavors/nope/action", json=add)).status_code == 404
    assert (await compute.post("/flavors/priv/action",
                               json={"explode": {}})).status_code == 400
    assert (await compute.post("/flavors/priv/action",
                               json={"addTenantAccess": {}})).status_code == 400
    denied = await tenants.alice.post("/flavors/priv/action", json=add)
    assert denied.status_code == 403 and fault(denied)[0] == "forbidden"
    assert (await tenants.alice.get("/flavors/priv/os-flavor-access")).status_code == 403


async def test_extra_specs(compute: Nova, tenants: Tenants) -> None:
    await make(compute, "specs", id="s1")
    base = "/flavors/s1/os-extra_specs"
    created = await compute.post(base, json={"extra_specs": {"hw:cpu_policy": "dedicated",
                                                             "count": 4}})
    assert created.status_code == 200
    assert created.json() == {"extra_specs": {"hw:cpu_policy": "dedicated", "count": 4}}
    assert (await compute.get(base)).json() == {"extra_specs": {
        "hw:cpu_policy": "dedicated", "count": "4"}}
    assert (await compute.get(f"{base}/count")).json() == {"count": "4"}
    missing = await compute.get(f"{base}/nope")
    assert missing.status_code == 404
    assert fault(missing)[1] == "Flavor s1 has no extra specs with key nope."
    updated = await compute.put(f"{base}/count", json={"count": "8"})
    assert updated.status_code == 200 and updated.json() == {"count": "8"}
    mismatch = await compute.put(f"{base}/count", json={"other": "8"})
    assert mismatch.status_code == 400
    assert fault(mismatch)[1] == "Request body and URI mismatch"
    assert (await compute.put(f"{base}/count", json={"count": "1", "b": "2"})
            ).status_code == 400
    assert (await compute.post(base, json={"extra_specs": {"bad/key": "v"}})
            ).status_code == 400
    assert (await compute.post(base, json={"extra_specs": {"k": True}})).status_code == 400
    assert (await compute.post(base, json={"extra_specs": {"k": "x" * 256}})
            ).status_code == 400
    deleted = await compute.delete(f"{base}/count")
    assert deleted.status_code == 200 and deleted.content == b""
    assert (await compute.delete(f"{base}/count")).status_code == 404
    assert (await compute.get("/flavors/nope/os-extra_specs")).status_code == 404
    # members read extra specs but do not write them
    assert (await tenants.alice.get(base)).status_code == 200
    assert (await tenants.alice.post(base, json={"extra_specs": {"a": "b"}})
            ).status_code == 403
    assert (await tenants.alice.delete(f"{base}/hw:cpu_policy")).status_code == 403


async def test_extra_specs_validated_from_2_86(compute: Nova) -> None:
    await make(compute, "checked", id="c1")
    base = "/flavors/c1/os-extra_specs"
    for bad in ({"hw:cpu_policy": "greedy"}, {"hw:numa_nodes": "0"},
                {"hw:unknown_thing": "1"}, {"hw_rng:allowed": "perhaps"},
                {"trait:HW_CPU_X86_AVX": "wanted"}, {"resources:VCPU": "x"}):
        response = await compute.post(base, json={"extra_specs": bad}, version="2.86")
        assert response.status_code == 400, bad
        legacy = await compute.post(base, json={"extra_specs": bad}, version="2.85")
        assert legacy.status_code == 200, bad
    for good in ({"hw:cpu_policy": "shared"}, {"hw:numa_nodes": 2},
                 {"trait:HW_CPU_X86_AVX": "required"}, {"resources1:VCPU": "2"},
                 {"my-own:key": "anything"}, {"plain": "value"},
                 {"hw:numa_cpus.0": "0-3,^2"}, {"quota:disk_read_bytes_sec": "100"}):
        response = await compute.post(base, json={"extra_specs": good}, version="2.86")
        assert response.status_code == 200, good
    put = await compute.put(f"{base}/hw:cpu_policy", json={"hw:cpu_policy": "nope"},
                            version="2.86")
    assert put.status_code == 400


async def test_flavor_management_is_for_admins(compute: Nova, tenants: Tenants) -> None:
    body = {"flavor": {"name": "mine", "ram": 1, "vcpus": 1, "disk": 0}}
    denied = await tenants.alice.post("/flavors", json=body)
    assert denied.status_code == 403
    assert fault(denied) == ("forbidden", "Policy doesn't allow "
                             "os_compute_api:os-flavor-manage:create to be performed.")
    await make(compute, "shared", id="x1", version="2.55")
    assert (await tenants.alice.delete("/flavors/x1")).status_code == 403
    assert (await tenants.alice.put("/flavors/x1", json={"flavor": {"description": "d"}},
                                    version="2.55")).status_code == 403
    listed = (await tenants.alice.get("/flavors/detail", version="2.61")).json()
    assert listed["flavors"][0]["extra_specs"] == {}
