"""Image data: upload and download streamed, hashes computed on the way, Range,
format inspection, quotas, and failed uploads that leave nothing behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.api.image.conftest import Projects, make_image, qemu_image, upload
from tests.conftest import Api


async def test_upload_download_and_hashes(image: Api) -> None:
    data = bytes(range(256)) * 4096 * 5  # 5 MiB: several buffers
    created = await make_image(image, data=data)
    shown = (await image.get(f"/v2/images/{created['id']}")).json()
    assert shown["status"] == "active"
    assert shown["size"] == len(data) == shown["virtual_size"]
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["stores"] == "file"
    got = await image.get(f"/v2/images/{created['id']}/file")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-md5"] == shown["checksum"]
    again = await upload(image, created["id"], b"more")
    assert again.status_code == 409


async def test_range_requests(image: Api) -> None:
    data = bytes(range(256)) * 8
    url = f"/v2/images/{(await make_image(image, data=data))['id']}/file"
    part = await image.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = await image.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    assert (await image.get(url, headers={"Range": "bytes=9999-"})).status_code == 416


async def test_no_data_yet_is_204_and_formats_must_be_set(image: Api) -> None:
    created = await make_image(image)
    empty = await image.get(f"/v2/images/{created['id']}/file")
    assert empty.status_code == 204
    bare = (await image.post("/v2/images", json={"name": "no formats"})).json()
    assert (await upload(image, bare["id"], b"data")).status_code == 400
    wrong_type = await image.put(f"/v2/images/{created['id']}/file", content=b"x",
                                 headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415


async def test_qcow2_and_vmdk_inspected(image: Api, tmp_path: Path) -> None:
    qcow2 = qemu_image(tmp_path, "qcow2", "64M")
    created = await make_image(image, data=qcow2, disk_format="qcow2")
    shown = (await image.get(f"/v2/images/{created['id']}")).json()
    assert shown["virtual_size"] == 64 << 20
    assert shown["size"] == len(qcow2)
    vmdk = qemu_image(tmp_path, "vmdk", "32M")
    created = await make_image(image, data=vmdk, disk_format="vmdk")
    assert (await image.get(f"/v2/images/{created['id']}")).json()["virtual_size"] == 32 << 20


async def test_format_mismatch_is_400_and_image_stays_queued(image: Api, tmp_path: Path
                                                             ) -> None:
    qcow2 = qemu_image(tmp_path, "qcow2")
    for declared, data in (("qcow2", b"\0" * 4096), ("raw", qcow2), ("vmdk", qcow2),
                           ("iso", b"x" * 40000), ("vhd", b"y" * 1024)):
        created = await make_image(image, disk_format=declared)
        response = await upload(image, created["id"], data)
        assert response.status_code == 400, (declared, response.text)
        assert "does not match disk_format" in response.text
        shown = (await image.get(f"/v2/images/{created['id']}")).json()
        assert shown["status"] == "queued" and shown["size"] is None
    assert not list((image.cloud.config.state_dir / "images").iterdir())


async def test_qcow2_with_backing_file_is_refused(image: Api, tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    base.write_bytes(qemu_image(tmp_path, "qcow2"))
    overlay = qemu_image(tmp_path, "qcow2", "1M", "-b", str(base), "-F", "qcow2")
    created = await make_image(image, disk_format="qcow2")
    response = await upload(image, created["id"], overlay)
    assert response.status_code == 400
    assert "backing file" in response.text


async def test_bytes_quota_is_413_and_leaves_nothing(image: Api) -> None:
    image.cloud.config.image.quota_bytes_per_project = 1000
    first = await make_image(image, data=b"a" * 600)
    second = await make_image(image)
    response = await upload(image, second["id"], b"b" * 600)
    assert response.status_code == 413
    assert (await image.get(f"/v2/images/{second['id']}")).json()["status"] == "queued"
    assert await upload(image, second["id"], b"c" * 400) is not None
    assert (await image.get(f"/v2/images/{first['id']}/file")).content == b"a" * 600


async def test_interrupted_upload_leaves_queued_image_and_no_data(image: Api) -> None:
    created = await make_image(image)
    app = image.cloud.apps["image"]
    messages = [{"type": "http.request", "body": b"partial", "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)
    scope = {"type": "http", "method": "PUT", "path": f"/v2/images/{created['id']}/file",
             "query_string": b"", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2),
             "headers": [(b"x-auth-token", image.token.encode()),
                         (b"content-type", b"application/octet-stream")]}
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    shown = (await image.get(f"/v2/images/{created['id']}")).json()
    assert shown["status"] == "queued"
    assert not list((image.cloud.config.state_dir / "images").iterdir())


async def test_stage_and_glance_direct_import(image: Api) -> None:
    created = await make_image(image)
    assert (await upload(image, created["id"], b"staged", "stage")).status_code == 204
    url = f"/v2/images/{created['id']}"
    assert (await image.get(url)).json()["status"] == "uploading"
    bad = await image.post(f"{url}/import", json={"method": {"name": "web-download"}})
    assert bad.status_code == 400
    done = await image.post(f"{url}/import", json={"method": {"name": "glance-direct"}})
    assert done.status_code == 202
    assert (await image.get(url)).json()["status"] == "active"
    assert (await image.get(f"{url}/file")).content == b"staged"
    tasks = (await image.get(f"{url}/tasks")).json()["tasks"]
    assert tasks[0]["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert tasks[0]["request_id"] == done.headers["x-openstack-request-id"]


async def test_deactivated_data_only_for_admin(image: Api, projects: Projects) -> None:
    created = await make_image(projects.alice, data=b"secret")
    url = f"/v2/images/{created['id']}"
    assert (await image.post(f"{url}/actions/deactivate")).status_code == 204
    assert (await projects.alice.get(f"{url}/file")).status_code == 403
    assert (await image.get(f"{url}/file")).content == b"secret"
