"""Where servers land, on three fake hosts: spread by default, scheduler hints,
availability zones from aggregates, and flavors sent to an aggregate by their extra
specs (the walkthrough's kvm_hosts story)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from tests.api.compute.boot import Kit, boot, kit, make_flavor, wait_status
from tests.api.compute.conftest import Nova
from tests.api.compute.test_services import hosts_cloud


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for built in hosts_cloud(tmp_path, 3):
        yield built


async def host_of(api: Nova, k: Kit, **extra: Any) -> str:
    sid = (await boot(api, k, **extra))["server"]["id"]
    return str((await wait_status(api, sid, "ACTIVE"))["OS-EXT-SRV-ATTR:host"])


async def with_hints(api: Nova, k: Kit, hints: dict[str, Any]) -> str:
    created = await api.post("/servers", json={
        "server": {"name": "hinted", "imageRef": k.image, "flavorRef": k.flavor,
                   "networks": [{"uuid": k.network}]},
        "os:scheduler_hints": hints})
    assert created.status_code == 202, created.text
    shown = await wait_status(api, created.json()["server"]["id"], "ACTIVE")
    return str(shown["OS-EXT-SRV-ATTR:host"])


async def test_servers_spread_over_hosts(compute: Nova) -> None:
    k = await kit(compute)
    assert len({await host_of(compute, k) for _ in range(3)}) == 3


async def test_same_host_and_different_host_hints(compute: Nova) -> None:
    k = await kit(compute)
    first = (await boot(compute, k, name="first"))["server"]["id"]
    placed = (await wait_status(compute, first, "ACTIVE"))["OS-EXT-SRV-ATTR:host"]
    for _ in range(2):
        assert await with_hints(compute, k, {"same_host": [first]}) == placed
        assert await with_hints(compute, k, {"different_host": first}) != placed


async def test_flavor_extra_specs_send_servers_to_an_aggregate(compute: Nova) -> None:
    k = await kit(compute)
    aggregate = (await compute.post("/os-aggregates", json={"aggregate": {
        "name": "kvm_hosts"}})).json()["aggregate"]
    await compute.post(f"/os-aggregates/{aggregate['id']}/action", json={
        "set_metadata": {"metadata": {"hypervisor_type": "KVM"}}})
    await compute.post(f"/os-aggregates/{aggregate['id']}/action", json={
        "add_host": {"host": "node-3"}})
    flavor = await make_flavor(compute, name="m1.kvm")
    specs = await compute.post(f"/flavors/{flavor}/os-extra_specs", json={"extra_specs": {
        "aggregate_instance_extra_specs:hypervisor_type": "KVM"}})
    assert specs.status_code == 200, specs.text
    for _ in range(3):
        assert await host_of(compute, k, flavorRef=flavor) == "node-3"
    await compute.post(f"/os-aggregates/{aggregate['id']}/action", json={
        "set_metadata": {"metadata": {"hypervisor_type": "xen"}}})
    sid = (await boot(compute, k, flavorRef=flavor))["server"]["id"]
    assert "No valid host" in (await wait_status(compute, sid, "ERROR"))["fault"]["message"]


async def test_availability_zone_from_aggregate_metadata(compute: Nova) -> None:
    k = await kit(compute)
    zone = (await compute.post("/os-aggregates", json={"aggregate": {
        "name": "rack-2", "availability_zone": "az2"}})).json()["aggregate"]
    await compute.post(f"/os-aggregates/{zone['id']}/action", json={
        "add_host": {"host": "node-2"}})
    for _ in range(2):
        sid = (await boot(compute, k, availability_zone="az2"))["server"]["id"]
        shown = await wait_status(compute, sid, "ACTIVE")
        assert shown["OS-EXT-SRV-ATTR:host"] == "node-2"
        assert shown["OS-EXT-AZ:availability_zone"] == "az2"
    elsewhere = await wait_status(compute, (await boot(compute, k))["server"]["id"], "ACTIVE")
    assert elsewhere["OS-EXT-AZ:availability_zone"] == "nova"
