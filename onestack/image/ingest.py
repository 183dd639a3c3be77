"""Image data on its way into a store, from an upload or an import: streamed in
bounded buffers, hashed (md5 and sha512) and inspected on the way, and visible only
once complete."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.image.formats import Inspector
from onestack.image.objects import images
from onestack.image.stores.base import Store
from onestack.kernel.api.faults import BadRequest, Conflict
from onestack.kernel.config import ImageConfig
from onestack.kernel.db import Database

FLUSH = 4 << 20  # bytes gathered before one hash-and-write step


def data_limit(settings: ImageConfig, used: int) -> int:
    """The most bytes one image may bring: the size cap, and what is left of the
    project's quota (``used`` bytes already)."""
    limit = settings.image_size_cap
    quota = settings.quota_bytes_per_project
    if quota >= 0:
        limit = min(limit, max(0, quota - used))
    return limit


async def ingest(store: Store, image_id: str, disk_format: str | None,
                 chunks: AsyncIterator[bytes]) -> dict[str, Any]:
    """Stream ``chunks`` into the store; the new columns of the image on success.
    Two buffers at most are in memory: one hashed and written while the next fills.
    Any failure (the source's, the inspection's) leaves nothing stored."""
    writer = await store.begin(image_id)
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    inspector = Inspector(disk_format)

    async def flush(data: bytes) -> None:
        await asyncio.gather(asyncio.to_thread(md5.update, data),
                             asyncio.to_thread(sha512.update, data), writer.write(data))
    pending: list[bytes] = []
    pending_size = size = 0
    step: asyncio.Future[Any] | None = None
    try:
        async for chunk in chunks:
            inspector.feed(chunk)
            pending.append(chunk)
            pending_size += len(chunk)
            size += len(chunk)
            if pending_size >= FLUSH:
                data, pending, pending_size = b"".join(pending), [], 0
                if step is not None:
                    await step
                step = asyncio.ensure_future(flush(data))
        if step is not None:
            await step
        step = None
        if pending:
            await flush(b"".join(pending))
        virtual_size = inspector.finish(size)
        location = await writer.commit()
    except BaseException:
        if step is not None:
            with contextlib.suppress(BaseException):
                await step
        await writer.abort()
        raise
    return {"size": size, "virtual_size": virtual_size, "checksum": md5.hexdigest(),
            "os_hash_algo": "sha512", "os_hash_value": sha512.hexdigest(),
            "location": location}


async def claim(conn: AsyncConnection, row: dict[str, Any], status: str) -> int:
    """Claim the queued image ``row`` for its data (status ``status``): two uploads
    never both claim one image. Answers the bytes its owner uses already."""
    if not row["disk_format"] or not row["container_format"]:
        raise BadRequest("Properties disk_format, container_format must be set prior to "
                         "saving data.")
    if not await images.update(conn, row["id"], {"status": status}, expect_status="queued"):
        raise Conflict(f"Image status transition from {row['status']} to {status} is not "
                       f"allowed.")
    return await images.bytes_used(conn, row["owner"])


async def receive(db: Database, store: Store, settings: ImageConfig, row: dict[str, Any],
                  claimed: str, final: str, used: int,
                  source: Callable[[int], AsyncIterator[bytes]]) -> None:
    """Take the data of the image claimed as ``claimed`` from ``source(limit)``, then
    set ``final``; any failure returns it to ``queued`` with nothing stored."""
    try:
        values = await ingest(store, row["id"], row["disk_format"],
                              source(data_limit(settings, used)))
    except BaseException:
        async with db.writer() as conn:
            await images.update(conn, row["id"], {"status": "queued"}, expect_status=claimed)
        raise
    async with db.writer() as conn:
        done = await images.update(conn, row["id"], {**values, "status": final},
                                   expect_status=claimed)
    if not done:
        await store.delete(values["location"])
        raise Conflict("The image was deleted while its data was being uploaded.")
