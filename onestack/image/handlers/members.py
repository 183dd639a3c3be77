"""``/v2/images/{id}/members``: the owner offers a shared image to projects; each
project accepts or rejects it (which decides whether it shows in its lists)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.image.handlers.common import (
    check_owner,
    enforce,
    iso,
    json_body,
    service_of,
    target,
    viewer_of,
)
from onestack.image.objects import images, members
from onestack.image.schemas.images import member_create, member_update
from onestack.kernel.api.faults import Forbidden, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.validation import validate


def render_member(row: dict[str, Any]) -> dict[str, Any]:
    return {"image_id": row["image_id"], "member_id": row["member_id"],
            "status": row["status"], "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]), "schema": "/v2/schemas/member"}


def _shared(row: dict[str, Any]) -> None:
    if row["visibility"] != "shared":
        raise Forbidden(f"Only shared images have members: image {row['id']} is "
                        f"{row['visibility']}.")


async def list_members(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.reader() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "get_members", target(row))
        _shared(row)
        found = await members.list_for(conn, row["id"])
    if not (viewer.is_admin or images.is_owner(viewer, row)):
        found = [m for m in found if m["member_id"] == viewer.project_id]
    return json_response({"members": [render_member(m) for m in found],
                          "schema": "/v2/schemas/members"})


async def get_member(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    member_id = req.params["member_id"]
    async with service.db.reader() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "get_member", target(row))
        if not (viewer.is_admin or images.is_owner(viewer, row)
                or member_id == viewer.project_id):
            raise NotFound(f"Member {member_id} not found for image {row['id']}.")
        found = await members.get(conn, row["id"], member_id)
    return json_response(render_member(found))


async def add_member(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    body = await json_body(req)
    validate(member_create, body)
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "add_member", target(row))
        check_owner(viewer, row)
        _shared(row)
        found = await members.add(conn, row["id"], body["member"])
    return json_response(render_member(found))


async def update_member(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    body = await json_body(req)
    validate(member_update, body)
    member_id = req.params["member_id"]
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "modify_member", target(row))
        _shared(row)
        if member_id != viewer.project_id:
            if viewer.is_admin or images.is_owner(viewer, row):
                raise Forbidden("Only the member itself may accept or reject an image.")
            raise NotFound(f"Member {member_id} not found for image {row['id']}.")
        found = await members.set_status(conn, row["id"], member_id, body["status"])
    return json_response(render_member(found))


async def delete_member(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "delete_member", target(row))
        check_owner(viewer, row)
        _shared(row)
        await members.remove(conn, row["id"], req.params["member_id"])
    return empty_response(204)
