"""Real guests: a cloud whose compute host runs the QEMU driver, with the test guest
image (scripts/build-test-image.sh) in its image service. Guests boot under TCG, one
test at a time; every fixture leaves no QEMU process and no guest file behind."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud, prepare_state_dir
from tests.api.compute.boot import make_flavor, make_network, wait_status
from tests.api.compute.conftest import Nova, eventually
from tests.conftest import Api, admin_api, test_config
from tests.guest import guest_image_dir

BOOT_TIMEOUT = 120.0  # TCG on a shared 2-core machine: a boot is ~7 s, allow for load
READY = re.compile(r"onestack-guest ready hostname=(\S+)")


def qemu_processes(marker: str) -> list[int]:
    """Pids of QEMU processes whose command line mentions ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and marker.encode() in cmdline:
            found.append(int(entry))
    return found


@dataclass
class Guests:
    cloud: Cloud
    api: Nova
    image: str
    flavor: str
    network: str
    instances: Path

    async def upload(self, name: str, path: Path, disk_format: str,
                     **properties: Any) -> str:
        image_api = Api(self.cloud, "image", self.api.token, self.api.clients)
        created = await image_api.post("/v2/images", json={
            "name": name, "disk_format": disk_format, "container_format": "bare",
            "visibility": "public", **properties})
        assert created.status_code == 201, created.text
        image_id = created.json()["id"]
        uploaded = await image_api.put(f"/v2/images/{image_id}/file",
                                       content=path.read_bytes(),
                                       headers={"Content-Type": "application/octet-stream"})
        assert uploaded.status_code == 204, uploaded.text
        return str(image_id)

    async def boot(self, name: str, **server: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "imageRef": self.image,
                                "flavorRef": self.flavor,
                                "networks": [{"uuid": self.network}], **server}
        response = await self.api.post("/servers", json={"server": body})
        assert response.status_code == 202, response.text
        return await wait_status(self.api, response.json()["server"]["id"], "ACTIVE",
                                 timeout=BOOT_TIMEOUT)

    async def console(self, server_id: str, length: int | None = None) -> str:
        body: dict[str, Any] = {"os-getConsoleOutput": {}}
        if length is not None:
            body["os-getConsoleOutput"]["length"] = length
        response = await self.api.post(f"/servers/{server_id}/action", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["output"])

    async def ready(self, server_id: str, times: int = 1) -> str:
        """The guest's hostname once its console shows the ready line ``times`` times
        (each boot prints it once)."""
        found: list[str] = []

        async def printed() -> bool:
            found[:] = READY.findall(await self.console(server_id))
            return len(found) >= times

        await eventually(printed, BOOT_TIMEOUT)
        return found[-1]

    async def action(self, server_id: str, body: dict[str, Any], wanted: str,
                     status: int = 202) -> None:
        response = await self.api.post(f"/servers/{server_id}/action", json=body)
        assert response.status_code == status, response.text
        await wait_status(self.api, server_id, wanted, timeout=BOOT_TIMEOUT)


async def _delete_all(api: Nova) -> None:
    """What a failed story left: deleted through the API, as a user would."""
    listed = await api.get("/servers?all_tenants=1")
    for server in listed.json().get("servers", []):
        await api.delete(f"/servers/{server['id']}")

    async def none_left() -> bool:
        return not (await api.get("/servers?all_tenants=1")).json()["servers"]

    await eventually(none_left, BOOT_TIMEOUT)


@pytest.fixture
async def guests(tmp_path: Path) -> AsyncIterator[Guests]:
    images = guest_image_dir()
    config = test_config(tmp_path / "state")
    config.compute.virt_driver = "qemu"
    config.compute.virt_type = "auto"
    config.compute.clean_shutdown_timeout = 20
    config.compute.reconcile_interval = 2
    prepare_state_dir(config.state_dir, reset=False)
    cloud = Cloud(config)
    await cloud.build()
    # served on its ports: guests reach the metadata service through a relay over HTTP
    started = asyncio.Event()
    serving = asyncio.create_task(cloud.serve(started))
    await asyncio.wait_for(started.wait(), 30)
    instances = config.state_dir / "instances"
    try:
        async with admin_api(cloud, "compute", Nova) as api:
            api = api.at("2.79")  # type: ignore[assignment]
            kit = Guests(cloud, api, "", "", "", instances)  # type: ignore[arg-type]
            kit.image = await kit.upload("onestack-guest", images / "onestack-guest.qcow2",
                                         "qcow2")
            kit.flavor = await make_flavor(api, ram=128, disk=1)
            kit.network = await make_network(api, shared=True)
            try:
                yield kit
            finally:
                await _delete_all(api)
    finally:
        cloud.stop()
        await serving
        await cloud.close()
        # nothing of the test's guests may outlive it, also when it failed
        leftovers = qemu_processes(str(instances))
        for pid in leftovers:
            os.kill(pid, 9)
        await asyncio.sleep(0.1)
        assert not leftovers, f"QEMU processes left behind: {leftovers}"
