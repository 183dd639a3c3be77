"""What compute uses: images checked, their data found on this host, and snapshots
stored and deleted over the bus, with Glance's visibility, ownership and quotas."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from onestack.cloud import Cloud
from onestack.image.rpcapi import (
    ImageAPI,
    ImageConflict,
    ImageError,
    ImageInvalid,
    ImageNotAuthorized,
    ImageNotFound,
    ImageQuotaExceeded,
)
from tests.api.image.conftest import Projects, make_image, qemu_image
from tests.conftest import Api, bus_context, cloud_bus


@pytest.fixture
async def rpc(running: Cloud) -> AsyncIterator[ImageAPI]:
    async with cloud_bus(running) as bus:
        yield ImageAPI(bus, timeout=10)


ctx_of = bus_context
ADMIN = ctx_of("admin-project", "admin")


async def test_get_image_follows_glance_visibility(rpc: ImageAPI, image: Api,
                                                   projects: Projects) -> None:
    one, two = projects.one["id"], projects.two["id"]
    private = await make_image(projects.alice, b"x" * 512, hw_disk_bus="virtio",
                               min_ram=64)
    public = await make_image(image, b"y" * 512, visibility="public")

    seen = await rpc.get_image(ctx_of(one), private["id"])
    assert seen is not None
    assert seen["id"] == private["id"] and seen["owner"] == one
    assert seen["status"] == "active" and seen["visibility"] == "shared"
    assert seen["size"] == 512 and seen["min_ram"] == 64 and seen["min_disk"] == 0
    assert seen["disk_format"] == "raw" and seen["container_format"] == "bare"
    assert seen["checksum"] == hashlib.md5(b"x" * 512, usedforsecurity=False).hexdigest()
    assert seen["os_hash_value"] == hashlib.sha512(b"x" * 512).hexdigest()
    assert seen["properties"] == {"hw_disk_bus": "virtio"}

    assert await rpc.get_image(ctx_of(two), private["id"]) is None
    assert await rpc.get_image(ctx_of(two), "no-such-image") is None
    assert (await rpc.get_image(ctx_of(two), public["id"]) or {}).get("id") == public["id"]
    assert (await rpc.get_image(ADMIN, private["id"]) or {}).get("id") == private["id"]
    # shared with project two: visible to it from then on, as over HTTP
    added = await projects.alice.post(f"/v2/images/{private['id']}/members",
                                      json={"member": two})
    assert added.status_code == 200, added.text
    assert (await rpc.get_image(ctx_of(two), private["id"]) or {}).get("id") \
        == private["id"]


async def test_snapshot_upload_and_path(rpc: ImageAPI, projects: Projects,
                                        tmp_path: Path) -> None:
    one, two = projects.one["id"], projects.two["id"]
    data = qemu_image(tmp_path, "qcow2")
    disk = tmp_path / "snapshot.qcow2"
    disk.write_bytes(data)

    made = await rpc.create_snapshot(ctx_of(one), "snap", {
        "instance_uuid": "server-1", "image_type": "snapshot"}, min_disk=1)
    assert made["status"] == "queued" and made["owner"] == one
    assert made["visibility"] == "private" and made["disk_format"] == "qcow2"
    assert made["properties"] == {"instance_uuid": "server-1", "image_type": "snapshot"}
    assert made["min_disk"] == 1 and made["size"] is None
    assert await rpc.image_path(ctx_of(one), made["id"]) is None  # no data yet

    done = await rpc.upload_file(ctx_of(one), made["id"], str(disk))
    assert done["status"] == "active" and done["size"] == len(data)
    assert done["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert done["os_hash_algo"] == "sha512"
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert done["virtual_size"] == 1 << 20

    shown = (await projects.alice.get(f"/v2/images/{made['id']}")).json()
    assert shown["status"] == "active" and shown["checksum"] == done["checksum"]
    assert shown["instance_uuid"] == "server-1"
    downloaded = await projects.alice.get(f"/v2/images/{made['id']}/file")
    assert downloaded.content == data

    path = await rpc.image_path(ctx_of(one), made["id"])
    assert path is not None and Path(path).read_bytes() == data
    assert await rpc.image_path(ctx_of(two), made["id"]) is None
    assert await rpc.image_path(ctx_of(one), "no-such-image") is None

    with pytest.raises(ImageConflict):  # its data is stored once
        await rpc.upload_file(ctx_of(one), made["id"], str(disk))


async def test_snapshot_refusals(rpc: ImageAPI, running: Cloud, projects: Projects,
                                 tmp_path: Path) -> None:
    one, two = projects.one["id"], projects.two["id"]
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"z" * 4096)
    theirs = await rpc.create_snapshot(ctx_of(two), "theirs", {}, disk_format="raw")

    with pytest.raises(ImageNotFound):  # private to project two
        await rpc.upload_file(ctx_of(one), theirs["id"], str(disk))
    with pytest.raises(ImageInvalid):
        await rpc.upload_file(ctx_of(two), theirs["id"], str(tmp_path / "missing"))
    mismatched = await rpc.create_snapshot(ctx_of(two), "mismatched", {})
    with pytest.raises(ImageInvalid):  # raw data is no qcow2 image
        await rpc.upload_file(ctx_of(two), mismatched["id"], str(disk))
    assert (await rpc.get_image(ctx_of(two), mismatched["id"]) or {}).get("status") \
        == "queued"
    with pytest.raises(ImageNotAuthorized):
        await rpc.create_snapshot(ctx_of(one), "reserved", {"os_glance_x": "1"})
    with pytest.raises(ImageNotAuthorized):
        await rpc.create_snapshot(ctx_of(one), "public", {}, visibility="public")
    with pytest.raises(ImageNotAuthorized):
        await rpc.create_snapshot(ctx_of(one, "reader"), "reader's", {})
    with pytest.raises(ImageInvalid):
        await rpc.create_snapshot(ctx_of(one), "clash", {"name": "other"})

    settings = running.services["image"].settings
    settings.quota_bytes_per_project = 1000
    with pytest.raises(ImageQuotaExceeded):
        await rpc.upload_file(ctx_of(two), theirs["id"], str(disk))
    assert (await rpc.get_image(ctx_of(two), theirs["id"]) or {}).get("status") == "queued"
    settings.quota_bytes_per_project = -1
    assert (await rpc.upload_file(ctx_of(two), theirs["id"], str(disk)))["size"] == 4096

    settings.quota_images_per_project = 2  # project two has two already
    with pytest.raises(ImageQuotaExceeded) as over:
        await rpc.create_snapshot(ctx_of(two), "third", {})
    assert isinstance(over.value, ImageError) and "Quota exceeded" in str(over.value)


async def test_delete_image(rpc: ImageAPI, image: Api, projects: Projects,
                            tmp_path: Path) -> None:
    one, two = projects.one["id"], projects.two["id"]
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"d" * 1024)
    made = await rpc.create_snapshot(ctx_of(one), "snap", {}, disk_format="raw")
    await rpc.upload_file(ctx_of(one), made["id"], str(disk))
    path = await rpc.image_path(ctx_of(one), made["id"])
    assert path is not None and Path(path).exists()

    await rpc.delete_image(ctx_of(two), made["id"])  # invisible to two: nothing happens
    assert await rpc.get_image(ctx_of(one), made["id"]) is not None
    await rpc.delete_image(ctx_of(one), made["id"])
    assert await rpc.get_image(ctx_of(one), made["id"]) is None
    assert (await projects.alice.get(f"/v2/images/{made['id']}")).status_code == 404
    assert not Path(path).exists()
    await rpc.delete_image(ctx_of(one), made["id"])  # gone already: no error

    public = await make_image(image, b"p" * 64, visibility="public")
    with pytest.raises(ImageNotAuthorized):
        await rpc.delete_image(ctx_of(one), public["id"])
    protected = await make_image(projects.alice, protected=True)
    with pytest.raises(ImageNotAuthorized):
        await rpc.delete_image(ctx_of(one), protected["id"])
    assert await rpc.get_image(ADMIN, public["id"]) is not None
