"""The typed client of the image service's bus methods: compute uses it to check the
image of a new server, to fetch image data for a host, and to store snapshots.

``ctx`` is the caller's ``RequestContext.to_dict()``: every method applies Glance's
visibility, ownership, policy and quotas to that caller, as the HTTP API does.
Refusals arrive as the exceptions below (from errors.py, registered with the bus
codec), ``str(error)`` worded as Glance words it:

- ``ImageNotFound``: no such image, or one the caller may not see.
- ``ImageNotAuthorized``: policy, another project's image, or a protected one.
- ``ImageQuotaExceeded``: the project's image count or bytes quota, or the size cap.
- ``ImageInvalid``: a reserved or invalid property, data unlike its disk format.
- ``ImageConflict``: the image is not queued (or went while its data was stored).
- ``ImageError`` (the base of all of them): any other refusal.
"""

from __future__ import annotations

from typing import Any

from onestack.image.errors import (
    ImageConflict,
    ImageError,
    ImageInvalid,
    ImageNotAuthorized,
    ImageNotFound,
    ImageQuotaExceeded,
)
from onestack.kernel.bus import Bus, Target

__all__ = ["TOPIC", "ImageAPI", "ImageConflict", "ImageError", "ImageInvalid",
           "ImageNotAuthorized", "ImageNotFound", "ImageQuotaExceeded"]

TOPIC = "image"


class ImageAPI:
    def __init__(self, bus: Bus, timeout: float = 60) -> None:
        self.bus = bus
        self.target = Target(TOPIC)
        self.timeout = timeout

    async def _call(self, method: str, ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await self.bus.call(self.target, method, ctx, timeout=self.timeout, **kwargs)

    async def get_image(self, ctx: dict[str, Any], image_id: str) -> dict[str, Any] | None:
        """The image as the caller (ctx) may see it, in Glance v2's shape (id, name,
        status, visibility, owner, size, min_disk, min_ram, disk_format,
        container_format, checksum, os_hash_value, properties: the custom ones); None
        when it does not exist or is not visible to the caller."""
        return await self._call("get_image", ctx, image_id=image_id)  # type: ignore[no-any-return]

    async def image_path(self, ctx: dict[str, Any], image_id: str) -> str | None:
        """A local file holding the image's data (the file store's own file), for a
        compute host on this machine; None when the image has no data here."""
        return await self._call("image_path", ctx, image_id=image_id)  # type: ignore[no-any-return]

    async def create_snapshot(self, ctx: dict[str, Any], name: str,
                              properties: dict[str, str], disk_format: str = "qcow2",
                              container_format: str = "bare", min_disk: int = 0,
                              min_ram: int = 0, visibility: str = "private"
                              ) -> dict[str, Any]:
        """A new image record (status ``queued``) owned by ctx's project, in
        get_image's shape; ``properties`` are its custom ones (instance_uuid,
        image_type, ...). Raises ImageQuotaExceeded, ImageNotAuthorized (policy; a
        public snapshot needs an admin), ImageInvalid (a reserved property, or one
        that names a core attribute)."""
        return await self._call(  # type: ignore[no-any-return]
            "create_snapshot", ctx, name=name, properties=properties,
            disk_format=disk_format, container_format=container_format,
            min_disk=min_disk, min_ram=min_ram, visibility=visibility)

    async def upload_file(self, ctx: dict[str, Any], image_id: str, path: str) -> dict[str, Any]:
        """Store the data of a queued image from a local file (the image becomes
        ``active``, with its size and checksums); answers the image. Raises
        ImageNotFound, ImageNotAuthorized, ImageConflict (not queued), ImageInvalid
        (no such file; data unlike its disk format), ImageQuotaExceeded (the bytes
        quota or the size cap); on failure the image is ``queued`` again, no data
        stored."""
        return await self._call("upload_file", ctx, image_id=image_id, path=path)  # type: ignore[no-any-return]

    async def api(self, ctx: dict[str, Any], verb: str, path: str,
                  query: list[tuple[str, str]] | None = None, body: Any = None,
                  content_type: str = "application/json") -> dict[str, Any]:
        """``{"status", "body"}`` of ``verb path`` (``/v2/...``, JSON bodies) of the
        image API as the caller would get it over HTTP: for compute's /images proxy,
        which Nova answers by calling Glance's API with the caller's token."""
        return await self._call("api", ctx, verb=verb, path=path,  # type: ignore[no-any-return]
                                query=query, body=body, content_type=content_type)

    async def delete_image(self, ctx: dict[str, Any], image_id: str) -> None:
        """Delete an image (a snapshot whose instance failed to produce it), and its
        data; a missing or invisible image is no error. Raises ImageNotAuthorized
        (another project's image, or a protected one)."""
        await self._call("delete_image", ctx, image_id=image_id)
