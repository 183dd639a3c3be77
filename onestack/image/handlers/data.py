"""Image data: upload (``PUT …/file``), staging and the glance-direct import, and
download with ``Range``. Uploads go through ``onestack/image/ingest.py``: streamed,
hashed and inspected, and visible only once complete."""

from __future__ import annotations

import re

from starlette.responses import Response, StreamingResponse

from onestack.image.handlers.common import check_owner, enforce, service_of, target, viewer_of
from onestack.image.ingest import claim as claim_data
from onestack.image.ingest import receive
from onestack.image.objects import images, tasks
from onestack.kernel.api.faults import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    UnsupportedMediaType,
)
from onestack.kernel.api.request import Request, empty_response

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ApiError):
    status = 416
    title = "Requested Range Not Satisfiable"


async def _receive(req: Request, claim: str, final: str) -> Response:
    """Claim a queued image (status ``claim``), take its data, then set ``final``; any
    failure returns it to ``queued`` with nothing stored."""
    service = service_of(req)
    viewer = viewer_of(req)
    content_type = req.headers.get("content-type", "application/octet-stream")
    if content_type.split(";")[0].strip() != "application/octet-stream":
        raise UnsupportedMediaType("Image data must be sent as application/octet-stream.")
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "upload_image", target(row))
        check_owner(viewer, row)
        used = await claim_data(conn, row, claim)
    await receive(service.db, service.store, service.settings, row, claim, final, used,
                  req.stream)
    return empty_response(204)


async def upload(req: Request) -> Response:
    return await _receive(req, "saving", "active")


async def stage(req: Request) -> Response:
    return await _receive(req, "uploading", "uploading")


async def import_image(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    body = await req.json()
    method = (body.get("method") or {}).get("name") if isinstance(body, dict) else None
    if method != "glance-direct":
        raise BadRequest(f"Import method {method!r} is not supported: glance-direct is.")
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "import_image", target(row))
        check_owner(viewer, row)
        if row["status"] != "uploading" or not row["location"]:
            raise Conflict(f"Image {row['id']} has no staged data (status "
                           f"{row['status']}): stage it first.")
        await images.update(conn, row["id"], {"status": "active"}, expect_status="uploading")
        await tasks.record(conn, row, viewer, req.request_id, body)
    return empty_response(202)


def _range(header: str, size: int) -> tuple[int, int]:
    found = _RANGE.match(header.strip())
    if not found or found.group(1) == found.group(2) == "":
        raise RangeNotSatisfiable("Invalid Range header.",
                                  headers={"Content-Range": f"bytes */{size}"})
    first, last = found.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(f"Range {header} is outside the image data.",
                                  headers={"Content-Range": f"bytes */{size}"})
    return start, end


async def download(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.reader() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
    enforce(req, "download_image", target(row))
    if row["status"] == "deactivated" and not viewer.is_admin:
        raise Forbidden("The requested image has been deactivated. Image data download is "
                        "forbidden.")
    if row["status"] not in ("active", "deactivated") or not row["location"]:
        return empty_response(204)
    size = row["size"] or 0
    headers = {"Content-Type": "application/octet-stream"}
    header = req.headers.get("range")
    if header and size:
        start, end = _range(header, size)
        headers.update({"Content-Range": f"bytes {start}-{end}/{size}",
                        "Content-Length": str(end - start + 1)})
        return StreamingResponse(service.store.read(row["location"], start, end - start + 1),
                                 206, headers)
    headers.update({"Content-Length": str(size), "Content-MD5": row["checksum"] or ""})
    return StreamingResponse(service.store.read(row["location"]), 200, headers)
