"""``/v2/images``: create, list, show, JSON-patch update, delete, deactivate and
reactivate, and tags."""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.responses import Response

from onestack.image.handlers.common import (
    check_owner,
    enforce,
    json_body,
    render_image,
    service_of,
    target,
    viewer_of,
)
from onestack.image.objects import images, patch
from onestack.image.schemas.images import CORE
from onestack.kernel.api.faults import BadRequest, Forbidden, NotFound, UnsupportedMediaType
from onestack.kernel.api.request import Request, empty_response, json_response

PATCH_TYPES = ("application/openstack-images-v2.1-json-patch",
               "application/openstack-images-v2.0-json-patch")
# Query parameters that are not filters on attributes or properties.
CONTROL = {"limit", "marker", "sort", "sort_key", "sort_dir", "visibility", "member_status",
           "os_hidden", "tag", "changes-since", "size_min", "size_max"}


def _check_visibility(req: Request, visibility: str | None) -> None:
    if visibility == "public":
        enforce(req, "publicize_image")
    elif visibility == "community":
        enforce(req, "communitize_image")


async def create_image(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "add_image")
    viewer = viewer_of(req)
    body = await json_body(req)
    for key, value in body.items():
        patch.check_name(key, creating=True)
        patch.check_value(key, value)
    _check_visibility(req, body.get("visibility"))
    owner = body.pop("owner", None) or viewer.project_id
    if owner != viewer.project_id:
        enforce(req, "set_image_owner")
    values: dict[str, Any] = {k: v for k, v in body.items() if k in CORE}
    values["properties"] = {k: v for k, v in body.items() if k not in CORE}
    values["owner"] = owner
    async with service.db.writer() as conn:
        await images.check_count_quota(conn, owner, service.settings.quota_images_per_project)
        row = await images.create(conn, values)
    return json_response(render_image(row), 201,
                         {"Location": f"{service.base_url}/v2/images/{row['id']}"})


async def get_image(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "get_image")
    async with service.db.reader() as conn:
        row = await images.load(conn, viewer_of(req), req.params["image_id"])
    return json_response(render_image(row))


def _int_param(req: Request, name: str) -> int | None:
    value = req.query(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} param must be an integer") from None
    if number < 0:
        raise BadRequest(f"{name} param must be positive")
    return number


def _bool_param(req: Request, name: str) -> bool | None:
    value = req.query(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise BadRequest(f"Invalid value {value!r} for {name}: true or false expected.")
    return value.lower() == "true"


async def no_image_id(req: Request) -> Response:
    raise NotFound("No image ID was given.")


async def list_images(req: Request) -> Response:
    if req.path.endswith("/"):  # GET /v2/images/ : an image with an empty id
        return await no_image_id(req)
    service = service_of(req)
    enforce(req, "get_images")
    limit = _int_param(req, "limit")
    limit = images.MAX_LIMIT if limit is None else min(limit, images.MAX_LIMIT)
    visibility = req.query("visibility")
    if visibility not in (None, "public", "private", "shared", "community", "all"):
        raise BadRequest(f"Invalid visibility value: {visibility}")
    member_status = req.query("member_status", "accepted") or "accepted"
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise BadRequest(f"Invalid status value: {member_status}")
    filters = [(k, v) for k, v in req.query_items if k not in CONTROL]
    for name, op in (("size_min", "gte"), ("size_max", "lte")):
        bound = _int_param(req, name)
        if bound is not None:
            filters.append(("size", f"{op}:{bound}"))
    since = req.query("changes-since")
    hidden = _bool_param(req, "os_hidden")
    sort = images.sort_spec(req.query("sort"), req.query_all("sort_key"),
                            req.query_all("sort_dir"))
    async with service.db.reader() as conn:
        rows, more = await images.list_visible(
            conn, viewer_of(req), filters=filters, tags=req.query_all("tag"),
            visibility=visibility, member_status=member_status,
            hidden=False if hidden is None else hidden,
            changes_since=images.parse_time(since) if since else None,
            sort=sort, marker=req.query("marker"), limit=limit)
    body: dict[str, Any] = {"images": [render_image(r) for r in rows],
                            "first": "/v2/images", "schema": "/v2/schemas/images"}
    query = [(k, v) for k, v in req.query_items if k != "marker"]
    if query:
        body["first"] += "?" + urllib.parse.urlencode(query)
    if more and rows:
        query.append(("marker", rows[-1]["id"]))
        body["next"] = "/v2/images?" + urllib.parse.urlencode(query)
    return json_response(body)


async def update_image(req: Request) -> Response:
    service = service_of(req)
    content_type = req.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in PATCH_TYPES:
        raise UnsupportedMediaType(f"Unsupported Content-Type {content_type!r}: use "
                                   f"{PATCH_TYPES[0]}.", headers={
                                       "Accept-Patch": ", ".join(PATCH_TYPES)})
    changes = await req.json()
    viewer = viewer_of(req)
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "modify_image", target(row))
        check_owner(viewer, row)
        core, properties = patch.apply(row, changes)
        if core.get("visibility", row["visibility"]) != row["visibility"]:
            _check_visibility(req, core["visibility"])
        if "owner" in core and core["owner"] != row["owner"]:
            enforce(req, "set_image_owner")
        for key in ("disk_format", "container_format"):
            if key in core and core[key] != row[key] and row["status"] != "queued":
                raise Forbidden(f"Attribute {key} can be only replaced for a queued image.")
        await images.update(conn, row["id"], {**core, "properties": properties})
        row = await images.get(conn, row["id"])
    assert row is not None
    return json_response(render_image(row))


async def delete_image(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "delete_image", target(row))
        check_owner(viewer, row)
        if row["protected"]:
            raise Forbidden(f"Image {row['id']} is protected and cannot be deleted.")
        await images.delete(conn, row["id"])
    if row["location"]:
        await service.store.delete(row["location"])
    return empty_response(204)


async def _transition(req: Request, rule: str, source: str, final: str) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, rule, target(row))
        check_owner(viewer, row)
        if row["status"] == source:
            await images.update(conn, row["id"], {"status": final})
        elif row["status"] != final:
            raise BadRequest(f"Not allowed to {rule} image in status '{row['status']}'")
    return empty_response(204)


async def deactivate(req: Request) -> Response:
    return await _transition(req, "deactivate", "active", "deactivated")


async def reactivate(req: Request) -> Response:
    return await _transition(req, "reactivate", "deactivated", "active")


async def add_tag(req: Request) -> Response:
    tag = req.params["tag"]
    if len(tag) > 255:
        raise BadRequest("Tags are at most 255 characters long.")
    return await _change_tags(req, lambda tags: [*tags, tag] if tag not in tags else tags)


async def delete_tag(req: Request) -> Response:
    tag = req.params["tag"]

    def remove(tags: list[str]) -> list[str]:
        if tag not in tags:
            raise NotFound(f"Tag {tag} not found.")
        return [t for t in tags if t != tag]
    return await _change_tags(req, remove)


async def _change_tags(req: Request, change: Any) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.writer() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "modify_image", target(row))
        check_owner(viewer, row)
        await images.update(conn, row["id"], {"tags": change(list(row["tags"]))})
    return empty_response(204)
