"""What a server story needs before booting: an active image, a network with a subnet
and a flavor, made through the image, network and compute APIs as a user would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.api.compute.conftest import Nova, eventually
from tests.conftest import Api


@dataclass
class Kit:
    image: str
    network: str
    network_name: str
    flavor: str


async def make_image(api: Api, name: str = "cirros", visibility: str = "public",
                     **extra: Any) -> str:
    image_api = Api(api.cloud, "image", api.token, api.clients)
    created = await image_api.post("/v2/images", json={
        "name": name, "disk_format": "raw", "container_format": "bare",
        "visibility": visibility, **extra})
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    uploaded = await image_api.put(f"/v2/images/{image_id}/file", content=b"fake-disk" * 64,
                                   headers={"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 204, uploaded.text
    return str(image_id)


async def make_network(api: Api, name: str = "private-net", cidr: str = "192.168.10.0/24",
                       shared: bool = False) -> str:
    network_api = Api(api.cloud, "network", api.token, api.clients)
    created = await network_api.post("/v2.0/networks", json={"network": {
        "name": name, "shared": shared}})
    assert created.status_code == 201, created.text
    network_id = created.json()["network"]["id"]
    subnet = await network_api.post("/v2.0/subnets", json={"subnet": {
        "network_id": network_id, "cidr": cidr, "ip_version": 4}})
    assert subnet.status_code == 201, subnet.text
    return str(network_id)


async def make_flavor(api: Nova, name: str | None = None, ram: int = 512, vcpus: int = 1,
                      disk: int = 1, **extra: Any) -> str:
    created = await api.post("/flavors", json={"flavor": {
        "name": name or f"f-{uuid.uuid4().hex[:6]}", "ram": ram, "vcpus": vcpus,
        "disk": disk, **extra}})
    assert created.status_code == 200, created.text
    return str(created.json()["flavor"]["id"])


async def kit(api: Nova, shared: bool = True) -> Kit:
    return Kit(image=await make_image(api), network=await make_network(api, shared=shared),
               network_name="private-net", flavor=await make_flavor(api))


async def boot(api: Nova, kit: Kit, name: str = "vm", status: int = 202,
               **server: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "imageRef": kit.image, "flavorRef": kit.flavor,
                            "networks": [{"uuid": kit.network}]}
    body.update(server)
    response = await api.post("/servers", json={"server": body})
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


async def server(api: Nova, server_id: str) -> dict[str, Any]:
    response = await api.get(f"/servers/{server_id}")
    assert response.status_code == 200, response.text
    return response.json()["server"]  # type: ignore[no-any-return]


async def wait_status(api: Nova, server_id: str, wanted: str,
                      timeout: float = 10.0) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await server(api, server_id))
        if seen["status"] == "ERROR" and wanted != "ERROR":
            raise AssertionError(f"server went to ERROR: {seen.get('fault')}")
        return seen["status"] == wanted

    await eventually(reached, timeout)
    return seen


async def wait_gone(api: Nova, server_id: str, timeout: float = 10.0) -> None:
    async def gone() -> bool:
        return (await api.get(f"/servers/{server_id}")).status_code == 404

    await eventually(gone, timeout)
