"""The work of an ``import`` task (``POST /v2/tasks``): make the image the task
describes, fetch its data from ``import_from`` (http or https) through the same
inspection and hashing as an upload, and record how it ended. A failed import
removes the image it made and says why in the task's ``message``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from onestack.image.ingest import data_limit, ingest
from onestack.image.objects import images, tasks
from onestack.image.schemas.images import CORE
from onestack.kernel.api.faults import ApiError, PayloadTooLarge

if TYPE_CHECKING:
    from onestack.image.service import ImageService

log = logging.getLogger("onestack.image.import")

CHUNK = 1 << 20
FETCH_TIMEOUT = 30  # seconds to connect, and between two reads
HEARTBEAT = 30  # a task at work touches its row at least this often (seconds)...
SILENCE = 300  # ...so one silent this long was abandoned by a stopped process
STOPPED = "The import was interrupted: the image service stopped before it ended."


class ImportFailed(Exception):
    pass


def start(service: ImageService, task: dict[str, Any]) -> None:
    """Run the task in the background; the service waits for it when it closes."""
    job = asyncio.create_task(run(service, task), name=f"image-task-{task['id']}")
    service.running.add(job)
    job.add_done_callback(service.running.discard)


def image_values(task: dict[str, Any]) -> dict[str, Any]:
    """The image the task makes: its image_properties, the data's format by default."""
    properties = dict(task["input"]["image_properties"])
    properties.setdefault("disk_format", task["input"]["import_from_format"])
    properties.setdefault("container_format", "bare")
    values = {k: v for k, v in properties.items() if k in CORE and k != "owner"}
    values["properties"] = {k: v for k, v in properties.items() if k not in CORE}
    values["owner"] = properties.get("owner") or task["owner"]
    return values


class _HttpRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to {newurl} is not "
                                         f"allowed: only http and https are", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpRedirects)


def _open(url: str) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "onestack-image-import"})
    return _OPENER.open(request, timeout=FETCH_TIMEOUT)


async def download(url: str, limit: int) -> AsyncIterator[bytes]:
    """The body at ``url``, chunk by chunk, at most ``limit`` bytes (413 beyond)."""
    try:
        response = await asyncio.to_thread(_open, url)
    except urllib.error.HTTPError as exc:
        raise ImportFailed(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ImportFailed(f"cannot reach {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise ImportFailed(f"cannot reach {url}: {exc}") from None
    try:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The image at {url} ({declared} bytes) is larger than "
                                  f"the {limit} bytes allowed.")
        size = 0
        while True:
            try:
                chunk = await asyncio.to_thread(response.read, CHUNK)
            except OSError as exc:
                raise ImportFailed(f"reading {url} failed: {exc}") from None
            if not chunk:
                return
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The image at {url} is larger than the {limit} "
                                      f"bytes allowed.")
            yield chunk
    finally:
        response.close()


async def _alive(service: ImageService, task_id: str, chunks: AsyncIterator[bytes]
                 ) -> AsyncIterator[bytes]:
    """The chunks, touching the task every HEARTBEAT seconds on the way."""
    last = time.monotonic()
    async for chunk in chunks:
        if time.monotonic() - last >= HEARTBEAT:
            async with service.db.writer() as conn:
                await tasks.update(conn, task_id)
            last = time.monotonic()
        yield chunk


async def run(service: ImageService, task: dict[str, Any]) -> None:
    url = task["input"]["import_from"]
    image_id: str | None = None
    try:
        async with service.db.writer() as conn:
            await tasks.update(conn, task["id"], status="processing")
            values = image_values(task)
            await images.check_count_quota(conn, values["owner"],
                                           service.settings.quota_images_per_project)
            image = await images.create(conn, values)
            image_id = image["id"]
            await images.update(conn, image_id, {"status": "saving"}, expect_status="queued")
            await tasks.update(conn, task["id"], image_id=image_id)
            used = await images.bytes_used(conn, values["owner"])
        limit = data_limit(service.settings, used)
        async with contextlib.aclosing(download(url, limit)) as chunks:
            data = await ingest(service.store, image_id, image["disk_format"],
                                _alive(service, task["id"], chunks))
        async with service.db.writer() as conn:
            done = await images.update(conn, image_id, {**data, "status": "active"},
                                       expect_status="saving")
            if done:
                await tasks.update(conn, task["id"], status="success",
                                   result={"image_id": image_id}, message="")
        if not done:
            await service.store.delete(data["location"])
            image_id = None
            raise ImportFailed("the image was deleted while its data was imported")
    except asyncio.CancelledError:
        await _fail(service, task, image_id, STOPPED)
        raise
    except (ImportFailed, ApiError) as exc:
        reason = exc.message if isinstance(exc, ApiError) else str(exc)
        await _fail(service, task, image_id, f"Import from {url} failed: {reason}")
    except Exception as exc:
        log.exception("image task %s failed", task["id"])
        await _fail(service, task, image_id, f"Import from {url} failed: unexpected "
                                             f"{type(exc).__name__}: {exc}")


async def _fail(service: ImageService, task: dict[str, Any], image_id: str | None,
                message: str) -> None:
    """The task failed: say why, and remove the image it made (never its data: none
    was stored)."""
    if image_id is not None:
        message += f" (the image {image_id} made for it was removed)"
    async with service.db.writer() as conn:
        if image_id is not None:
            await images.delete(conn, image_id)
        await tasks.update(conn, task["id"], status="failure", message=message)
    log.info("image task %s: %s", task["id"], message)
