"""Hypervisors: listings, detail and show by microversion (integer ids, then uuids;
cpu_info as a string, then an object; usage numbers until 2.88, uptime after),
paging, hostname patterns, hosted servers, statistics, and the routes 2.53 and 2.88
took away."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.api.compute.boot import boot, kit, make_flavor, wait_status
from tests.api.compute.conftest import Nova, Tenants
from tests.api.compute.test_services import compute_services, hosts_cloud

DETAIL_V21 = {"id", "hypervisor_hostname", "state", "status", "hypervisor_type",
              "hypervisor_version", "host_ip", "service", "vcpus", "memory_mb", "local_gb",
              "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb", "free_disk_gb",
              "current_workload", "running_vms", "disk_available_least", "cpu_info"}


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for built in hosts_cloud(tmp_path):
        yield built


async def _nodes(api: Nova, version: str = "2.1") -> list[dict[str, Any]]:
    await compute_services(api)
    reply = await api.get("/os-hypervisors", version=version)
    assert reply.status_code == 200, reply.text
    return reply.json()["hypervisors"]


async def test_list_and_detail_before_2_53(compute: Nova) -> None:
    nodes = await _nodes(compute)
    assert [n["hypervisor_hostname"] for n in nodes] == ["node", "node-2", "node-3"]
    assert all(set(n) == {"id", "hypervisor_hostname", "state", "status"} for n in nodes)
    assert all(isinstance(n["id"], int) for n in nodes)
    assert all((n["state"], n["status"]) == ("up", "enabled") for n in nodes)

    detail = (await compute.get("/os-hypervisors/detail")).json()["hypervisors"]
    first = detail[0]
    assert set(first) == DETAIL_V21
    assert isinstance(first["cpu_info"], str)
    settings = compute.cloud.config.compute
    assert (first["vcpus"], first["memory_mb"], first["local_gb"]) == \
        (settings.fake_vcpus, settings.fake_memory_mb, settings.fake_disk_gb)
    assert first["memory_mb_used"] == settings.reserved_host_memory_mb
    assert first["free_ram_mb"] == settings.fake_memory_mb - settings.reserved_host_memory_mb
    assert (first["vcpus_used"], first["running_vms"], first["local_gb_used"]) == (0, 0, 0)
    assert (first["hypervisor_type"], first["host_ip"]) == ("fake", "127.0.0.1")
    assert isinstance(first["service"]["id"], int)
    assert first["service"]["host"] == "node"
    assert "hypervisors_links" not in (await compute.get("/os-hypervisors/detail")).json()

    v228 = (await compute.get("/os-hypervisors/detail", version="2.28")).json()
    assert v228["hypervisors"][0]["cpu_info"]["arch"] == "x86_64"


async def test_detail_from_2_88_has_uptime_not_usage(compute: Nova) -> None:
    await _nodes(compute)
    detail = (await compute.get("/os-hypervisors/detail", version="2.88")).json()
    first = detail["hypervisors"][0]
    assert set(first) == {"id", "hypervisor_hostname", "state", "status", "hypervisor_type",
                          "hypervisor_version", "host_ip", "service", "uptime"}
    assert " up " in first["uptime"]
    assert uuid.UUID(first["id"]) and uuid.UUID(first["service"]["id"])
    shown = (await compute.get(f"/os-hypervisors/{first['id']}", version="2.88")).json()
    assert set(shown["hypervisor"]) == set(first)


async def test_show_ids_by_microversion(compute: Nova) -> None:
    nodes = await _nodes(compute)
    shown = await compute.get(f"/os-hypervisors/{nodes[1]['id']}")
    assert shown.status_code == 200
    assert set(shown.json()["hypervisor"]) == DETAIL_V21
    assert shown.json()["hypervisor"]["hypervisor_hostname"] == "node-2"
    for bad in ("abc", "9999"):
        missing = await compute.get(f"/os-hypervisors/{bad}")
        assert missing.status_code == 404
        assert missing.json()["itemNotFound"]["message"] == \
            f"Hypervisor with ID '{bad}' could not be found."

    v253 = await _nodes(compute, "2.53")
    node_uuid = v253[1]["id"]
    shown = await compute.get(f"/os-hypervisors/{node_uuid}", version="2.53")
    assert shown.json()["hypervisor"]["id"] == node_uuid
    assert "servers" not in shown.json()["hypervisor"]
    not_uuid = await compute.get(f"/os-hypervisors/{nodes[1]['id']}", version="2.53")
    assert not_uuid.status_code == 400
    assert not_uuid.json()["badRequest"]["message"] == f"Invalid uuid {nodes[1]['id']}"
    unknown = await compute.get(f"/os-hypervisors/{uuid.uuid4()}", version="2.53")
    assert unknown.status_code == 404
    extra = await compute.get(f"/os-hypervisors/{node_uuid}?foo=1", version="2.53")
    assert extra.status_code == 400


async def test_paging_from_2_33(compute: Nova) -> None:
    nodes = await _nodes(compute)
    first = (await compute.get("/os-hypervisors?limit=2", version="2.33")).json()
    assert [n["id"] for n in first["hypervisors"]] == [nodes[0]["id"], nodes[1]["id"]]
    (link,) = first["hypervisors_links"]
    assert link["rel"] == "next"
    assert link["href"].endswith(f"/v2.1/os-hypervisors?limit=2&marker={nodes[1]['id']}")
    rest = (await compute.get(f"/os-hypervisors/detail?limit=2&marker={nodes[1]['id']}",
                              version="2.33")).json()
    assert [n["id"] for n in rest["hypervisors"]] == [nodes[2]["id"]]
    assert "hypervisors_links" not in rest
    bad = await compute.get("/os-hypervisors?marker=9999", version="2.33")
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "marker [9999] not found"
    assert (await compute.get("/os-hypervisors?limit=-1", version="2.33")).status_code == 400
    # before 2.33 paging parameters are ignored
    ignored = (await compute.get("/os-hypervisors?limit=1")).json()
    assert len(ignored["hypervisors"]) == 3

    v253 = (await compute.get("/os-hypervisors?limit=1", version="2.53")).json()
    marker = v253["hypervisors"][0]["id"]
    assert v253["hypervisors_links"][0]["href"].endswith(f"marker={marker}")
    after = (await compute.get(f"/os-hypervisors?marker={marker}", version="2.53")).json()
    assert len(after["hypervisors"]) == 2


async def test_hostname_pattern_and_servers_from_2_53(compute: Nova) -> None:
    await _nodes(compute)
    v253 = compute.at("2.53")
    found = (await v253.get("/os-hypervisors?hypervisor_hostname_pattern=node-")).json()
    assert [n["hypervisor_hostname"] for n in found["hypervisors"]] == ["node-2", "node-3"]
    assert "hypervisors_links" not in found
    none = await v253.get("/os-hypervisors/detail?hypervisor_hostname_pattern=zzz")
    assert none.status_code == 404
    assert none.json()["itemNotFound"]["message"] == \
        "No hypervisor matching 'zzz' could be found."
    paged = await v253.get("/os-hypervisors?hypervisor_hostname_pattern=node&limit=1")
    assert paged.status_code == 400
    assert paged.json()["badRequest"]["message"] == (
        "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is "
        "not supported.")
    assert (await v253.get("/os-hypervisors?foo=bar")).status_code == 400
    assert (await v253.get("/os-hypervisors?with_servers=perhaps")).status_code == 400
    assert (await v253.get("/os-hypervisors?hypervisor_hostname_pattern=a%2Fb")
            ).status_code == 400
    # before 2.53 these are not filters at all
    assert len((await compute.get("/os-hypervisors?hypervisor_hostname_pattern=zzz")
                ).json()["hypervisors"]) == 3


async def test_usage_and_hosted_servers(compute: Nova) -> None:
    await _nodes(compute)
    k = await kit(compute)
    k.flavor = await make_flavor(compute, ram=2048, vcpus=2, disk=10)
    sid = (await boot(compute, k, name="busy", availability_zone="nova:node-2")
           )["server"]["id"]
    await wait_status(compute, sid, "ACTIVE")
    detail = (await compute.get("/os-hypervisors/detail")).json()["hypervisors"]
    node2 = next(n for n in detail if n["hypervisor_hostname"] == "node-2")
    reserved = compute.cloud.config.compute.reserved_host_memory_mb
    assert (node2["running_vms"], node2["vcpus_used"], node2["local_gb_used"]) == (1, 2, 10)
    assert node2["memory_mb_used"] == 2048 + reserved
    assert node2["free_disk_gb"] == node2["local_gb"] - 10

    with_servers = (await compute.get("/os-hypervisors?with_servers=true",
                                      version="2.53")).json()["hypervisors"]
    hosted = {n["hypervisor_hostname"]: n.get("servers") for n in with_servers}
    assert [s["uuid"] for s in hosted["node-2"]] == [sid]
    assert hosted["node-2"][0]["name"].startswith("instance-")
    assert hosted["node"] is None  # before 2.75 an empty host has no servers key
    v275 = (await compute.get("/os-hypervisors/detail?with_servers=1",
                              version="2.75")).json()["hypervisors"]
    assert {n["hypervisor_hostname"]: len(n["servers"]) for n in v275} == \
        {"node": 0, "node-2": 1, "node-3": 0}
    node2_uuid = next(n["id"] for n in v275 if n["hypervisor_hostname"] == "node-2")
    shown = (await compute.get(f"/os-hypervisors/{node2_uuid}?with_servers=true",
                               version="2.53")).json()["hypervisor"]
    assert [s["uuid"] for s in shown["servers"]] == [sid]

    old = (await compute.get("/os-hypervisors/node-2/servers")).json()["hypervisors"]
    assert [s["uuid"] for s in old[0]["servers"]] == [sid]
    stats = (await compute.get("/os-hypervisors/statistics")).json()["hypervisor_statistics"]
    assert (stats["count"], stats["running_vms"], stats["vcpus_used"]) == (3, 1, 2)


async def test_search_and_servers_routes_end_at_2_52(compute: Nova) -> None:
    await _nodes(compute)
    searched = (await compute.get("/os-hypervisors/node-3/search")).json()["hypervisors"]
    assert [(n["hypervisor_hostname"], set(n)) for n in searched] == \
        [("node-3", {"id", "hypervisor_hostname", "state", "status"})]
    servers = (await compute.get("/os-hypervisors/node/servers")).json()["hypervisors"]
    assert len(servers) == 3 and all("servers" not in n for n in servers)
    missing = await compute.get("/os-hypervisors/zzz/search")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == \
        "No hypervisor matching 'zzz' could be found."
    assert (await compute.get("/os-hypervisors/zzz/servers")).status_code == 404
    for path in ("/os-hypervisors/node/search", "/os-hypervisors/node/servers"):
        gone = await compute.get(path, version="2.53")
        assert gone.status_code == 404
        assert gone.json()["itemNotFound"]["message"] == "The resource could not be found."


async def test_statistics_and_uptime_end_at_2_87(compute: Nova) -> None:
    nodes = await _nodes(compute)
    stats = (await compute.get("/os-hypervisors/statistics")).json()["hypervisor_statistics"]
    settings = compute.cloud.config.compute
    assert stats["count"] == 3
    assert stats["vcpus"] == 3 * settings.fake_vcpus
    assert stats["memory_mb_used"] == 3 * settings.reserved_host_memory_mb
    assert set(stats) == {"count", "vcpus", "memory_mb", "local_gb", "vcpus_used",
                          "memory_mb_used", "local_gb_used", "free_ram_mb", "free_disk_gb",
                          "current_workload", "running_vms", "disk_available_least"}
    await compute.put("/os-services/disable", json={"host": "node-3",
                                                    "binary": "nova-compute"})
    fewer = (await compute.get("/os-hypervisors/statistics")).json()
    assert fewer["hypervisor_statistics"]["count"] == 2
    assert (await compute.get("/os-hypervisors/statistics", version="2.88")
            ).status_code == 404

    uptime = await compute.get(f"/os-hypervisors/{nodes[0]['id']}/uptime")
    assert uptime.status_code == 200
    body = uptime.json()["hypervisor"]
    assert set(body) == {"id", "hypervisor_hostname", "state", "status", "uptime"}
    assert " up " in body["uptime"]
    assert (await compute.get(f"/os-hypervisors/{nodes[0]['id']}/uptime", version="2.88")
            ).status_code == 404
    await compute.put("/os-services/force-down", version="2.11", json={
        "host": "node", "binary": "nova-compute", "forced_down": True})
    down = await compute.get(f"/os-hypervisors/{nodes[0]['id']}/uptime")
    assert down.status_code == 400
    assert down.json()["badRequest"]["message"] == \
        "Compute service of node is unavailable at this time."
    detail = (await compute.get("/os-hypervisors/detail", version="2.88")).json()
    assert detail["hypervisors"][0]["uptime"] is None
    assert detail["hypervisors"][0]["state"] == "down"


async def test_members_may_not_see_hypervisors(compute: Nova, tenants: Tenants) -> None:
    nodes = await _nodes(compute)
    for path in ("/os-hypervisors", "/os-hypervisors/detail", "/os-hypervisors/statistics",
                 f"/os-hypervisors/{nodes[0]['id']}",
                 f"/os-hypervisors/{nodes[0]['id']}/uptime", "/os-hypervisors/node/search"):
        denied = await tenants.alice.get(path)
        assert denied.status_code == 403, path
