"""Availability zones: the summary anyone may read (zones of compute services,
without the internal zone) and the admin's detail (every zone with its hosts and
services), as aggregates and disabled services shape them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.api.compute.conftest import Nova, Tenants
from tests.api.compute.test_services import compute_services, hosts_cloud


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for built in hosts_cloud(tmp_path):
        yield built


async def zones(api: Nova, detail: bool = False) -> list[dict[str, Any]]:
    reply = await api.get("/os-availability-zone" + ("/detail" if detail else ""))
    assert reply.status_code == 200, reply.text
    return reply.json()["availabilityZoneInfo"]


async def test_default_zone(compute: Nova, tenants: Tenants) -> None:
    await compute_services(compute)
    expected = [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    assert await zones(compute) == expected
    assert await zones(tenants.alice) == expected


async def test_detail_shows_hosts_and_the_internal_zone(compute: Nova) -> None:
    await compute_services(compute)
    detail = {z["zoneName"]: z for z in await zones(compute, detail=True)}
    assert set(detail) == {"internal", "nova"}
    nova = detail["nova"]
    assert nova["zoneState"] == {"available": True}
    assert set(nova["hosts"]) == {"node", "node-2", "node-3"}
    service = nova["hosts"]["node-2"]["nova-compute"]
    assert set(service) == {"available", "active", "updated_at"}
    assert (service["available"], service["active"]) == (True, True)
    internal = detail["internal"]["hosts"]
    binaries = {b for services in internal.values() for b in services}
    assert binaries == {"nova-conductor", "nova-scheduler"}


async def test_aggregate_zones_and_disabled_services(compute: Nova) -> None:
    await compute_services(compute)
    agg = (await compute.post("/os-aggregates", json={"aggregate": {
        "name": "edge", "availability_zone": "edge"}})).json()["aggregate"]
    empty = [z["zoneName"] for z in await zones(compute)]
    assert empty == ["nova"]  # a zone without hosts is no zone yet
    await compute.post(f"/os-aggregates/{agg['id']}/action",
                       json={"add_host": {"host": "node-3"}})
    assert [z["zoneName"] for z in await zones(compute)] == ["edge", "nova"]
    detail = {z["zoneName"]: z for z in await zones(compute, detail=True)}
    assert set(detail["edge"]["hosts"]) == {"node-3"}
    assert set(detail["nova"]["hosts"]) == {"node", "node-2"}
    services = (await compute.get("/os-services?host=node-3")).json()["services"]
    assert services[0]["zone"] == "edge"

    await compute.put("/os-services/disable", json={"host": "node-3",
                                                    "binary": "nova-compute"})
    summary = await zones(compute)
    assert summary == [
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None},
        {"zoneName": "edge", "zoneState": {"available": False}, "hosts": None}]
    detail = {z["zoneName"]: z for z in await zones(compute, detail=True)}
    assert detail["edge"] == {"zoneName": "edge", "zoneState": {"available": False},
                              "hosts": None}
    await compute.put("/os-services/force-down", version="2.11", json={
        "host": "node-2", "binary": "nova-compute", "forced_down": True})
    detail = {z["zoneName"]: z for z in await zones(compute, detail=True)}
    assert detail["nova"]["hosts"]["node-2"]["nova-compute"]["available"] is False


async def test_detail_is_for_admins(compute: Nova, tenants: Tenants) -> None:
    denied = await tenants.bob.get("/os-availability-zone/detail")
    assert denied.status_code == 403
    assert denied.json()["forbidden"]["message"] == \
        "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."
