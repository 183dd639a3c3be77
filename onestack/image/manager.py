"""The image service's bus endpoints: what compute calls (through rpcapi.py) to check
the image of a new server, to find its data on this machine, and to store snapshots.
Every method goes through the same objects, policy rules and ingest as the HTTP
handlers, as the caller of ``ctx`` (``RequestContext.to_dict()``); their API errors
leave as the registered refusals of errors.py."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from onestack.image import errors
from onestack.image.handlers.common import check_owner, iso, target
from onestack.image.ingest import claim, receive
from onestack.image.objects import images, patch
from onestack.image.objects.images import Viewer
from onestack.kernel.api import loopback
from onestack.kernel.api.faults import ApiError, BadRequest, Forbidden, PayloadTooLarge
from onestack.kernel.api.routing import Router
from onestack.kernel.auth import RequestContext
from onestack.kernel.bus import Target, connect
from onestack.kernel.bus.base import Endpoint

if TYPE_CHECKING:
    from onestack.image.service import ImageService

TOPIC = "image"
READ_CHUNK = 1 << 20
VIEW_KEYS = ("id", "name", "status", "visibility", "owner", "size", "virtual_size",
             "min_disk", "min_ram", "disk_format", "container_format", "checksum",
             "os_hash_algo", "os_hash_value", "protected", "os_hidden")


def image_view(row: dict[str, Any]) -> dict[str, Any]:
    """Glance v2's image, its custom properties apart under ``properties``."""
    view = {key: row[key] for key in VIEW_KEYS}
    view.update(properties=dict(row["properties"]), tags=list(row["tags"]),
                created_at=iso(row["created_at"]), updated_at=iso(row["updated_at"]))
    return view


async def read_file(path: str, limit: int) -> AsyncIterator[bytes]:
    """The file at ``path``, chunk by chunk, at most ``limit`` bytes (413 beyond)."""
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        size = 0
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The image data is larger than the {limit} bytes "
                                      f"allowed.")
            yield chunk
    finally:
        handle.close()


def _refusals(call: Endpoint) -> Endpoint:
    """The objects layer's API errors leave as the bus refusals of errors.py."""
    @functools.wraps(call)
    async def run(self: ImageEndpoints, ctx: dict[str, Any], *args: Any, **kwargs: Any
                  ) -> Any:
        try:
            return await call(self, ctx, *args, **kwargs)
        except ApiError as error:
            raise errors.translate(error, kwargs.get("image_id") or "") from None
    return run


class ImageEndpoints:
    """Served at Target("image"); every method takes the caller's context first."""

    def __init__(self, service: ImageService) -> None:
        self.service = service
        self._router: Router | None = None

    async def api(self, ctx: dict[str, Any], verb: str, path: str,
                  query: list[tuple[str, str]] | None = None, body: Any = None,
                  content_type: str = "application/json") -> dict[str, Any]:
        """The image API as the caller would get it over HTTP (compute's proxy API,
        /images); JSON bodies only."""
        from onestack.image.api import ROUTES

        if self._router is None:
            self._router = Router(ROUTES)
        context = RequestContext.from_dict({"user_id": "", **ctx})
        return await loopback.call(self._router, self.service, context, verb, path,
                                   query=query, body=body, content_type=content_type,
                                   fault_style="plain")

    def _caller(self, ctx: dict[str, Any]) -> tuple[RequestContext, Viewer]:
        context = RequestContext.from_dict({"user_id": "", **ctx})
        admin = self.service.policy.allowed("context_is_admin", context)
        return context, Viewer(context.project_id, admin, context.user_id)

    def _allowed(self, context: RequestContext, rule: str,
                 row: dict[str, Any] | None = None) -> bool:
        return self.service.policy.allowed(rule, context, target(row) if row else {})

    async def _visible(self, ctx: dict[str, Any], image_id: str, rule: str
                       ) -> tuple[Viewer, dict[str, Any] | None]:
        context, viewer = self._caller(ctx)
        async with self.service.db.reader() as conn:
            row = await images.get(conn, image_id)
            if row is None or not await images.is_visible(conn, viewer, row) \
                    or not self._allowed(context, rule, row):
                return viewer, None
        return viewer, row

    async def get_image(self, ctx: dict[str, Any], image_id: str) -> dict[str, Any] | None:
        _, row = await self._visible(ctx, image_id, "get_image")
        return None if row is None else image_view(row)

    async def image_path(self, ctx: dict[str, Any], image_id: str) -> str | None:
        viewer, row = await self._visible(ctx, image_id, "download_image")
        if row is None or not row["location"] or row["status"] not in ("active",
                                                                        "deactivated"):
            return None
        if row["status"] == "deactivated" and not viewer.is_admin:
            return None
        path = self.service.store.local_path(row["location"])
        return None if path is None or not path.exists() else str(path)

    @_refusals
    async def create_snapshot(self, ctx: dict[str, Any], name: str,
                              properties: dict[str, str], disk_format: str = "qcow2",
                              container_format: str = "bare", min_disk: int = 0,
                              min_ram: int = 0, visibility: str = "private"
                              ) -> dict[str, Any]:
        service = self.service
        context, viewer = self._caller(ctx)
        service.policy.enforce("add_image", context)
        if visibility == "public":
            service.policy.enforce("publicize_image", context)
        elif visibility == "community":
            service.policy.enforce("communitize_image", context)
        core = {"name": name, "disk_format": disk_format, "container_format": container_format,
                "min_disk": min_disk, "min_ram": min_ram, "visibility": visibility}
        for key, value in {**core, **properties}.items():
            patch.check_name(key, creating=True)
            patch.check_value(key, value)
        clash = sorted(set(properties) & (set(core) | {"owner", "id", "tags"}))
        if clash:
            raise BadRequest(f"Properties {clash} are attributes of the image, not custom "
                             f"properties.")
        async with service.db.writer() as conn:
            await images.check_count_quota(conn, viewer.project_id,
                                           service.settings.quota_images_per_project)
            row = await images.create(conn, {**core, "properties": dict(properties),
                                             "owner": viewer.project_id})
        return image_view(row)

    @_refusals
    async def upload_file(self, ctx: dict[str, Any], image_id: str, path: str
                          ) -> dict[str, Any]:
        service = self.service
        context, viewer = self._caller(ctx)
        if not os.path.isfile(path):
            raise BadRequest(f"{path} is not a file this host holds.")
        async with service.db.writer() as conn:
            row = await images.load(conn, viewer, image_id)
            service.policy.enforce("upload_image", context, target(row))
            check_owner(viewer, row)
            used = await claim(conn, row, "saving")
        await receive(service.db, service.store, service.settings, row, "saving", "active",
                      used, functools.partial(read_file, path))
        async with service.db.reader() as conn:
            done = await images.get(conn, image_id)
        if done is None:
            raise errors.ImageNotFound(f"No image found with ID {image_id}", image_id)
        return image_view(done)

    @_refusals
    async def delete_image(self, ctx: dict[str, Any], image_id: str) -> None:
        """A missing (or invisible) image is no error: it is gone for the caller."""
        service = self.service
        context, viewer = self._caller(ctx)
        async with service.db.writer() as conn:
            row = await images.get(conn, image_id)
            if row is None or not await images.is_visible(conn, viewer, row):
                return
            service.policy.enforce("delete_image", context, target(row))
            check_owner(viewer, row)
            if row["protected"]:
                raise Forbidden(f"Image {row['id']} is protected and cannot be deleted.")
            await images.delete(conn, row["id"])
        if row["location"]:
            await service.store.delete(row["location"])


async def serve(service: ImageService) -> None:
    """Serve the bus endpoints while the service runs."""
    bus = connect(service.config.bus.url, exchange=service.config.bus.exchange)
    server = await bus.serve(Target(TOPIC), ImageEndpoints(service))
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
        await bus.close()
