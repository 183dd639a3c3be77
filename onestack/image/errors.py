"""The refusals of the image service's bus methods, registered with the bus codec so
that they reach the caller (compute) as themselves. ``str(error)`` is Glance's
message; ``subject`` is the image id. Every class is re-created from
``(message, subject)``."""

from __future__ import annotations

from onestack.kernel.api.faults import ApiError
from onestack.kernel.bus import register_exception


@register_exception
class ImageError(Exception):
    """Any other refusal of the image service."""

    def __init__(self, message: str, subject: str = "") -> None:
        super().__init__(message, subject)
        self.message = message
        self.subject = subject

    def __str__(self) -> str:
        return self.message


@register_exception
class ImageNotFound(ImageError):
    """No such image, or the caller may not see it."""


@register_exception
class ImageNotAuthorized(ImageError):
    """Policy, another project's image, or a protected one (Glance's 403)."""


@register_exception
class ImageQuotaExceeded(ImageError):
    """The project's image count or bytes quota, or the size cap (Glance's 413)."""


@register_exception
class ImageInvalid(ImageError):
    """A request Glance refuses as bad (400): a reserved or invalid property, no disk
    or container format, data that is not an image of its disk format."""


@register_exception
class ImageConflict(ImageError):
    """The image is not in the status the request needs (Glance's 409): data for an
    image that is not queued, or an image deleted while its data was stored."""


BY_STATUS: dict[int, type[ImageError]] = {
    404: ImageNotFound, 403: ImageNotAuthorized, 413: ImageQuotaExceeded,
    400: ImageInvalid, 409: ImageConflict}


def translate(error: ApiError, image_id: str = "") -> ImageError:
    return BY_STATUS.get(error.status, ImageError)(error.message, image_id)
