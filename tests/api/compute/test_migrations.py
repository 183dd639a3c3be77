"""``/os-migrations`` over migration records: the fields of each microversion, links
to live migrations in progress, filters, time bounds, paging newest first, and who
may list them."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from tests.api.compute.boot import make_flavor
from tests.api.compute.conftest import Nova, Tenants
from tests.api.compute.test_services import add_migration

V21 = {"id", "status", "instance_uuid", "source_node", "source_compute", "dest_node",
       "dest_compute", "dest_host", "old_instance_type_id", "new_instance_type_id",
       "created_at", "updated_at"}


def iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


async def listing(api: Nova, query: str = "", version: str = "2.1") -> dict[str, Any]:
    reply = await api.get("/os-migrations" + query, version=version)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_fields_by_microversion(compute: Nova) -> None:
    flavor = await make_flavor(compute, name="small")
    row = await add_migration(compute.cloud, migration_type="resize", old_flavor_id=flavor,
                              new_flavor_id="7")
    (old,) = (await listing(compute))["migrations"]
    assert set(old) == V21
    assert old["id"] == row["id"] and old["instance_uuid"] == row["instance_uuid"]
    assert isinstance(old["old_instance_type_id"], int)
    assert old["new_instance_type_id"] == 7
    assert old["updated_at"] is None and old["created_at"].count(".") == 1
    (v223,) = (await listing(compute, version="2.23"))["migrations"]
    assert set(v223) == V21 | {"migration_type"} and v223["migration_type"] == "resize"
    (v259,) = (await listing(compute, version="2.59"))["migrations"]
    assert set(v259) == V21 | {"migration_type", "uuid"} and v259["uuid"] == row["uuid"]
    (v280,) = (await listing(compute, version="2.80"))["migrations"]
    assert (v280["user_id"], v280["project_id"]) == ("u1", "p1")


async def test_links_to_live_migrations_in_progress(compute: Nova) -> None:
    live = await add_migration(compute.cloud, migration_type="live-migration",
                               status="running")
    await add_migration(compute.cloud, migration_type="live-migration", status="completed")
    found = {m["id"]: m for m in (await listing(compute, version="2.23"))["migrations"]}
    links = found.pop(live["id"])["links"]
    assert [link["rel"] for link in links] == ["self", "bookmark"]
    assert links[0]["href"].endswith(
        f"/v2.1/servers/{live['instance_uuid']}/migrations/{live['id']}")
    assert all("links" not in m for m in found.values())


async def test_filters(compute: Nova) -> None:
    a = await add_migration(compute.cloud, source_compute="node", dest_compute="node-2",
                            status="finished", project_id="p1")
    b = await add_migration(compute.cloud, source_compute="node-2", dest_compute="node-3",
                            status="error", migration_type="evacuation", project_id="p2")
    c = await add_migration(compute.cloud, source_compute="node-3", dest_compute="node",
                            status="finished", migration_type="live-migration")

    async def ids(query: str, version: str = "2.1") -> list[int]:
        return sorted(m["id"] for m in (await listing(compute, query, version))["migrations"])

    assert await ids("") == [a["id"], b["id"], c["id"]]
    assert await ids("?host=node-2") == [a["id"], b["id"]]
    assert await ids("?source_compute=node-2") == [b["id"]]
    assert await ids("?host=node&source_compute=node-2") == [a["id"], c["id"]]
    assert await ids("?status=finished") == [a["id"], c["id"]]
    assert await ids("?migration_type=evacuation") == [b["id"]]
    assert await ids(f"?instance_uuid={c['instance_uuid']}") == [c["id"]]
    assert await ids("?project_id=p2", version="2.80") == [b["id"]]
    assert await ids("?unknown=1") == [a["id"], b["id"], c["id"]]
    rejected = await compute.get("/os-migrations?unknown=1", version="2.59")
    assert rejected.status_code == 400
    assert (await compute.get("/os-migrations?project_id=p2", version="2.79")
            ).status_code == 400


async def test_paging_newest_first_from_2_59(compute: Nova) -> None:
    base = time.time() - 100
    rows = [await add_migration(compute.cloud, created_at=base + i) for i in range(3)]
    newest_first = [r["uuid"] for r in reversed(rows)]
    page = await listing(compute, "?limit=2", "2.59")
    assert [m["uuid"] for m in page["migrations"]] == newest_first[:2]
    (link,) = page["migrations_links"]
    assert link["href"].endswith(f"/v2.1/os-migrations?limit=2&marker={newest_first[1]}")
    rest = await listing(compute, f"?limit=2&marker={newest_first[1]}", "2.59")
    assert [m["uuid"] for m in rest["migrations"]] == newest_first[2:]
    assert "migrations_links" not in rest
    bad = await compute.get("/os-migrations?marker=nope", version="2.59")
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "Marker nope could not be found."
    assert (await compute.get("/os-migrations?limit=x", version="2.59")).status_code == 400
    # before 2.59: oldest first, no paging
    old = await listing(compute, "?limit=1")
    assert [m["id"] for m in old["migrations"]] == [r["id"] for r in rows]


async def test_changes_since_and_before(compute: Nova) -> None:
    now = time.time()
    early = await add_migration(compute.cloud, updated_at=now - 3600)
    late = await add_migration(compute.cloud, updated_at=now - 60)
    await add_migration(compute.cloud)  # never updated: outside every bound

    async def uuids(query: str, version: str = "2.66") -> list[str]:
        return [m["uuid"] for m in (await listing(compute, query, version))["migrations"]]

    since = quote(iso(now - 600))
    assert await uuids(f"?changes-since={since}", "2.59") == [late["uuid"]]
    assert await uuids(f"?changes-before={since}") == [early["uuid"]]
    ignored = await listing(compute, f"?changes-since={since}", "2.58")
    assert len(ignored["migrations"]) == 3  # not a filter before 2.59
    window = f"?changes-since={quote(iso(now - 7200))}&changes-before={since}"
    assert await uuids(window) == [early["uuid"]]
    backwards = await compute.get(
        f"/os-migrations?changes-since={since}&changes-before={quote(iso(now - 7200))}",
        version="2.66")
    assert backwards.status_code == 400
    assert backwards.json()["badRequest"]["message"] == \
        "The value of changes-since must be less than or equal to changes-before."
    for bad in ("yesterday", "2024-01-01"):
        assert (await compute.get(f"/os-migrations?changes-since={bad}",
                                  version="2.59")).status_code == 400
    assert (await compute.get(f"/os-migrations?changes-before={since}",
                              version="2.59")).status_code == 400


async def test_members_may_not_list_migrations(compute: Nova, tenants: Tenants) -> None:
    denied = await tenants.alice.get("/os-migrations")
    assert denied.status_code == 403
    assert denied.json()["forbidden"]["message"] == \
        "Policy doesn't allow os_compute_api:os-migrations:index to be performed."
