"""What every image handler needs: the service state, the caller, policy, and the
image document as Glance renders it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from onestack.image.objects.images import Viewer, is_owner
from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.api.request import Request
from onestack.kernel.auth import RequestContext

if TYPE_CHECKING:
    from onestack.image.service import ImageService


def service_of(req: Request) -> ImageService:
    return req.app


def context_of(req: Request) -> RequestContext:
    assert req.context is not None  # the app authenticated the request
    return req.context


def viewer_of(req: Request) -> Viewer:
    context = context_of(req)
    admin = service_of(req).policy.allowed("context_is_admin", context)
    return Viewer(context.project_id, admin, context.user_id)


def enforce(req: Request, rule: str, target: dict[str, Any] | None = None) -> None:
    service_of(req).policy.enforce(rule, context_of(req), target or {})


def target(row: dict[str, Any]) -> dict[str, Any]:
    return {"project_id": row["owner"], "owner": row["owner"],
            "visibility": row["visibility"]}


def check_owner(viewer: Viewer, row: dict[str, Any]) -> None:
    """A visible image is changed only by its owner project (or an admin)."""
    if not (viewer.is_admin or is_owner(viewer, row)):
        raise Forbidden("You are not permitted to modify this image: it belongs to "
                        "another project.")


async def json_body(req: Request) -> Any:
    body = await req.json()
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def render_image(row: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = dict(row["properties"])
    for key in ("name", "disk_format", "container_format", "visibility", "size",
                "virtual_size", "status", "checksum", "protected", "min_ram", "min_disk",
                "owner", "os_hidden", "os_hash_algo", "os_hash_value", "id"):
        doc[key] = row[key]
    image_id = row["id"]
    doc.update(created_at=iso(row["created_at"]), updated_at=iso(row["updated_at"]),
               tags=list(row["tags"]), self=f"/v2/images/{image_id}",
               file=f"/v2/images/{image_id}/file", schema="/v2/schemas/image")
    if row["location"] and row["status"] in ("active", "deactivated"):
        doc["stores"] = row["location"].split(":", 1)[0]
    return doc
