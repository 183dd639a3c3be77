"""``/v2/tasks``: an ``import`` task fetches an image over HTTP (here from a small
server in the test) and ends in success, or in failure with its reason, removing the
image it made; listing, showing, the errors a client meets, and restarts."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from onestack.cloud import Cloud
from onestack.image import importer, service
from onestack.image.models import task
from onestack.image.objects import tasks
from onestack.image.objects.images import Viewer
from tests.api.image.conftest import Projects
from tests.conftest import Api, free_port

DATA = b"onestack-image-data" * 4096


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        if self.path != "/disk.raw":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(DATA)))
        self.end_headers()
        self.wfile.write(DATA)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    """An HTTP server on loopback serving DATA at /disk.raw."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def import_task(url: str, **properties: Any) -> dict[str, Any]:
    return {"type": "import", "input": {
        "import_from": url, "import_from_format": "raw",
        "image_properties": {"name": "imported", "container_format": "bare",
                             "disk_format": "raw", **properties}}}


async def wait_for(api: Api, task_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(400):
        response = await api.get(f"/v2/tasks/{task_id}")
        assert response.status_code == 200, response.text
        if response.json()["status"] in statuses:
            return response.json()
        await asyncio.sleep(0.025)
    raise AssertionError(f"task {task_id} did not reach {statuses}")


async def test_import_task_succeeds(image: Api, web: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "HEARTBEAT", 0)  # touch the task at every chunk
    created = await image.post("/v2/tasks", json=import_task(f"{web}/disk.raw",
                                                             visibility="public"))
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["type"] == "import" and task["status"] in ("pending", "processing")
    assert task["self"] == f"/v2/tasks/{task['id']}"
    assert task["schema"] == "/v2/schemas/task" and task["owner"]
    assert created.headers["Location"].endswith(task["self"])
    done = await wait_for(image, task["id"], "success", "failure")
    assert done["status"] == "success", done["message"]
    assert done["expires_at"] and done["input"] == import_task(
        f"{web}/disk.raw", visibility="public")["input"]
    made = (await image.get(f"/v2/images/{done['result']['image_id']}")).json()
    assert (made["status"], made["name"], made["disk_format"]) == ("active", "imported",
                                                                   "raw")
    assert made["visibility"] == "public" and made["size"] == len(DATA)
    assert made["checksum"] == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    downloaded = await image.get(f"/v2/images/{made['id']}/file")
    assert downloaded.content == DATA
    listed = (await image.get("/v2/tasks")).json()
    assert listed["schema"] == "/v2/schemas/tasks" and listed["first"] == "/v2/tasks"
    summary = next(t for t in listed["tasks"] if t["id"] == task["id"])
    assert "input" not in summary and summary["status"] == "success"
    assert [t["id"] for t in (await image.get("/v2/tasks?status=failure")).json()[
        "tasks"]] == []


@pytest.mark.parametrize(("path", "words"), [
    ("/missing.raw", "HTTP 404"),
    ("/to-file", "not allowed"),
    (None, "cannot reach"),
])
async def test_import_task_fails_with_its_reason(image: Api, web: str, path: str | None,
                                                 words: str) -> None:
    url = f"{web}{path}" if path else f"http://127.0.0.1:{free_port()}/disk.raw"
    before = (await image.get("/v2/images")).json()["images"]
    created = await image.post("/v2/tasks", json=import_task(url))
    assert created.status_code == 201, created.text
    done = await wait_for(image, created.json()["id"], "success", "failure")
    assert done["status"] == "failure" and done["result"] is None
    assert words in done["message"] and url in done["message"]
    assert "removed" in done["message"]
    assert (await image.get("/v2/images")).json()["images"] == before


async def test_import_refuses_data_of_another_format(image: Api, web: str) -> None:
    body = import_task(f"{web}/disk.raw", disk_format="qcow2")
    body["input"]["import_from_format"] = "qcow2"
    created = await image.post("/v2/tasks", json=body)
    done = await wait_for(image, created.json()["id"], "success", "failure")
    assert done["status"] == "failure" and "qcow2" in done["message"]


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"type": "export"}, 400, "type"),
    ({"input": None}, 400, "input"),
    ({"extra": 1}, 400, "must not contain"),
    ({"input": {"import_from_format": "raw", "image_properties": {}}}, 400, "import_from"),
    ({"input": {"import_from": "http://x/y", "image_properties": {}}}, 400,
     "import_from_format"),
    ({"input": {"import_from": "file:///etc/passwd", "import_from_format": "raw",
                "image_properties": {}}}, 400, "http or https"),
    ({"input": {"import_from": "http:///nohost", "import_from_format": "raw",
                "image_properties": {}}}, 400, "http or https"),
    ({"input": {"import_from": "http://x/y", "import_from_format": "floppy",
                "image_properties": {}}}, 400, "import_from_format"),
    ({"input": {"import_from": "http://x/y", "import_from_format": "raw",
                "image_properties": {"disk_format": "qcow2"}}}, 400, "Converting"),
    ({"input": {"import_from": "http://x/y", "import_from_format": "raw",
                "image_properties": {"status": "active"}}}, 403, "read-only"),
    ({"input": {"import_from": "http://x/y", "import_from_format": "raw",
                "image_properties": {"min_ram": "lots"}}}, 400, "min_ram"),
])
async def test_task_create_errors(image: Api, change: dict[str, Any], status: int,
                                  words: str) -> None:
    body = {**import_task("http://example.invalid/disk.raw"), **change}
    response = await image.post("/v2/tasks", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["errors"][0]["detail"]
    assert (await image.get("/v2/tasks")).json()["tasks"] == []


async def test_tasks_are_an_operator_api(image: Api, projects: Projects) -> None:
    body = import_task("http://example.invalid/disk.raw")
    for api in (projects.alice, projects.reader):
        assert (await api.post("/v2/tasks", json=body)).status_code == 403
        assert (await api.get("/v2/tasks")).status_code == 403
    assert (await projects.alice.get("/v2/tasks/nope")).status_code == 403
    assert (await image.get("/v2/tasks/nope")).status_code == 404
    for query in ("status=done", "type=export", "sort_key=input", "limit=-1",
                  "marker=nope"):
        response = await image.get(f"/v2/tasks?{query}")
        assert response.status_code == 400, query


async def test_abandoned_tasks_fail_at_start(cloud: Cloud, image: Api) -> None:
    """A task its process left unfinished (silent too long) fails when an image
    service starts; one at work elsewhere (touched lately) is left alone."""
    made = []
    async with cloud.services["image"].db.writer() as conn:
        for age in (importer.SILENCE + 60, 1):
            row = await tasks.create(conn, Viewer("p", True, "u"), "req-1", "import",
                                     import_task("http://example.invalid/x")["input"])
            await conn.execute(sa.update(task).where(task.c.id == row["id"])
                               .values(updated_at=time.time() - age))
            made.append(row["id"])
    again = await service.open_image_service(cloud.config)
    await again.db.close()
    old, fresh = [(await image.get(f"/v2/tasks/{i}")).json() for i in made]
    assert old["status"] == "failure" and "interrupted" in old["message"]
    assert old["expires_at"]
    assert fresh["status"] == "pending"


async def test_a_stop_ends_the_tasks_at_work(cloud: Cloud, image: Api, web: str) -> None:
    other = await service.open_image_service(cloud.config)
    async with other.db.writer() as conn:
        row = await tasks.create(conn, Viewer("p", True, "u"), "req-1", "import",
                                 import_task(f"{web}/slow")["input"])
    importer.start(other, row)
    await asyncio.sleep(0.2)
    assert len(other.running) == 1
    await service.close(other)
    shown = (await image.get(f"/v2/tasks/{row['id']}")).json()
    assert shown["status"] == "failure" and shown["message"].startswith(
        "The import was interrupted")
    assert "removed" in shown["message"]
