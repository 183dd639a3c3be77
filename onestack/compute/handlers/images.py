"""Nova's image proxy (up to 2.35 for images, 2.38 for their metadata): ``/images``,
``/images/detail``, ``/images/{id}`` and ``/images/{id}/metadata``, answered by
calling the image API as the caller, as Nova calls Glance, in Nova's shape."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    base_url,
    bus_context,
    isotime,
    state,
)
from onestack.compute.objects import quotas
from onestack.kernel.api.faults import ApiError, BadRequest, Forbidden, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

Image = dict[str, Any]
# Glance's own attributes: everything else about an image is its metadata
BASE = {"id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
        "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size",
        "container_format", "disk_format", "created_at", "updated_at", "tags", "direct_url",
        "min_ram", "min_disk", "self", "file", "schema", "locations", "stores"}
STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "deleted": "DELETED",
          "pending_delete": "DELETED", "killed": "ERROR"}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}
# Nova's image filters -> Glance's
FILTERS = {"name": "name", "status": "status", "server": "instance_uuid",
           "type": "image_type", "minRam": "min_ram", "minDisk": "min_disk"}
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


def _version(req: Request, last: int = 35) -> None:
    if req.version is not None and req.version.minor > last:
        raise NotFound("The resource could not be found.")


async def glance(req: Request, method: str, path: str, *, query: Any = None,
                 body: Any = None, content_type: str = "application/json"
                 ) -> tuple[int, Any]:
    answer = await state(req).image.api(bus_context(req), method, path, query=query,
                                        body=body, content_type=content_type)
    return answer["status"], answer["body"]


def _message(body: Any) -> str:
    try:
        return str(body["errors"][0]["detail"])
    except (KeyError, IndexError, TypeError):
        return ""


async def _image(req: Request, image_id: str) -> Image:
    status, body = await glance(req, "GET", f"/v2/images/{image_id}")
    if status != 200:
        raise NotFound("Image not found.")
    return dict(body)


def metadata(image: Image) -> dict[str, Any]:
    return {k: v for k, v in image.items() if k not in BASE}


def _links(req: Request, image_id: str) -> list[dict[str, str]]:
    base = base_url(req)
    image_url = state(req).config.public_url("image")
    return [{"rel": "self", "href": f"{base}/v2.1/images/{image_id}"},
            {"rel": "bookmark", "href": f"{base}/images/{image_id}"},
            {"rel": "alternate", "type": "application/vnd.openstack.image",
             "href": f"{image_url}/images/{image_id}"}]


def _time(value: str | None) -> str | None:
    if not value:
        return None
    from datetime import datetime

    return isotime(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def render(req: Request, image: Image) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": image["id"], "name": image.get("name"),
        "minRam": int(image.get("min_ram") or 0), "minDisk": int(image.get("min_disk") or 0),
        "metadata": metadata(image), "created": _time(image.get("created_at")),
        "updated": _time(image.get("updated_at")),
        "status": STATUS.get(image.get("status", ""), "UNKNOWN"),
        "progress": PROGRESS.get(image.get("status", ""), 0),
        "OS-EXT-IMG-SIZE:size": image.get("size"), "links": _links(req, image["id"])}
    server = body["metadata"].get("instance_uuid")
    if server is not None:
        base = base_url(req)
        body["server"] = {"id": server, "links": [
            {"rel": "self", "href": f"{base}/v2.1/servers/{server}"},
            {"rel": "bookmark", "href": f"{base}/servers/{server}"}]}
    auto = body["metadata"].get("auto_disk_config")
    if auto is not None:
        body["OS-DCF:diskConfig"] = "AUTO" if str(auto).lower() in (
            "1", "t", "true", "on", "y", "yes") else "MANUAL"
    return body


# -- images ----------------------------------------------------------------------------------
async def _listing(req: Request) -> tuple[list[Image], bool]:
    query: list[tuple[str, str]] = []
    for key, value in req.query_items:
        if key in FILTERS:
            if key == "server":
                value = value.rsplit("/", 1)[-1]
            elif key == "status":  # Glance's statuses are lower case
                value = value.lower()
            query.append((FILTERS[key], value))
        elif key.startswith("property-"):
            query.append((key.removeprefix("property-"), value))
        elif key == "changes-since":
            query.append(("updated_at", f"gte:{value}"))
        elif key in ("limit", "marker"):
            query.append((key, value))
    status, body = await glance(req, "GET", "/v2/images", query=query)
    if status == 400:
        raise BadRequest(_message(body))
    if status != 200:
        raise ApiError(_message(body))
    return list(body["images"]), "next" in body


def _next(req: Request, collection: str, images: list[Image], more: bool) -> dict[str, Any]:
    if not (more and images and req.query("limit")):
        return {}
    from urllib.parse import urlencode

    query = [(k, v) for k, v in req.query_items if k != "marker"]
    query.append(("marker", images[-1]["id"]))
    return {"images_links": [{"rel": "next", "href": f"{base_url(req)}/v2.1/{collection}?"
                                                     f"{urlencode(query)}"}]}


async def list_images(req: Request) -> Response:
    _version(req)
    images, more = await _listing(req)
    return json_response({"images": [{"id": i["id"], "name": i.get("name"),
                                      "links": _links(req, i["id"])} for i in images],
                          **_next(req, "images", images, more)})


async def list_details(req: Request) -> Response:
    _version(req)
    images, more = await _listing(req)
    return json_response({"images": [render(req, i) for i in images],
                          **_next(req, "images/detail", images, more)})


async def show_image(req: Request) -> Response:
    _version(req)
    return json_response({"image": render(req, await _image(req, req.params["image_id"]))})


async def delete_image(req: Request) -> Response:
    _version(req)
    status, body = await glance(req, "DELETE", f"/v2/images/{req.params['image_id']}")
    if status == 404:
        raise NotFound("Image not found.")
    if status == 403:
        raise Forbidden("You are not allowed to delete the image.")
    if status >= 400:
        raise ApiError(_message(body))
    return empty_response(204)


async def no_id(req: Request) -> Response:
    """``DELETE /images/``: no image is named (the router drops the slash)."""
    raise NotFound("The resource could not be found.")


# -- metadata (up to 2.38) -------------------------------------------------------------------
async def check_metadata(req: Request, items: Any) -> None:
    """Nova's check of image metadata: the metadata_items quota (403), then the keys."""
    if not items:
        return
    if not isinstance(items, dict):
        raise BadRequest("Invalid image metadata")
    compute = state(req)
    async with compute.db.reader() as conn:
        try:
            await quotas.check_absolute(conn, compute.settings,
                                        req.context.project_id or "",  # type: ignore[union-attr]
                                        {"metadata_items": len(items)})
        except quotas.OverQuota:
            raise Forbidden("Image metadata limit exceeded") from None
    for key in items:
        if not key:
            raise BadRequest("Image metadata key cannot be blank")
        if len(key) > 255:
            raise BadRequest("Image metadata key too long")


def _body(data: Any, key: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise BadRequest("Malformed request body")
    return dict(data[key])


async def _write(req: Request, image: Image, wanted: dict[str, Any]) -> dict[str, Any]:
    """Make ``wanted`` the image's metadata (what it leaves out goes)."""
    current = metadata(image)
    await check_metadata(req, wanted)
    ops: list[dict[str, Any]] = [{"op": "remove", "path": f"/{k}"} for k in current
                                 if k not in wanted]
    ops += [{"op": "replace" if k in current else "add", "path": f"/{k}", "value": str(v)}
            for k, v in wanted.items() if current.get(k) != v]
    if not ops:
        return current
    status, body = await glance(req, "PATCH", f"/v2/images/{image['id']}", body=ops,
                                content_type=PATCH_TYPE)
    if status == 404:
        raise NotFound("Image not found.")
    if status == 403:
        raise Forbidden(_message(body) or "You are not allowed to update the image.")
    if status >= 400:
        raise BadRequest(_message(body))
    return metadata(body)


async def list_metadata(req: Request) -> Response:
    _version(req, 38)
    image = await _image(req, req.params["image_id"])
    return json_response({"metadata": metadata(image)})


async def show_metadata_item(req: Request) -> Response:
    _version(req, 38)
    image = await _image(req, req.params["image_id"])
    key = req.params["key"]
    found = metadata(image)
    if key not in found:
        raise NotFound(f"Image {image['id']} has no metadata with key {key}.")
    return json_response({"meta": {key: found[key]}})


async def merge_metadata(req: Request) -> Response:
    _version(req, 38)
    image = await _image(req, req.params["image_id"])
    items = _body(await req.json(), "metadata")
    merged = {**metadata(image), **items}
    return json_response({"metadata": await _write(req, image, merged)})


async def replace_metadata(req: Request) -> Response:
    _version(req, 38)
    image = await _image(req, req.params["image_id"])
    items = _body(await req.json(), "metadata")
    return json_response({"metadata": await _write(req, image, items)})


async def set_metadata_item(req: Request) -> Response:
    _version(req, 38)
    image = await _image(req, req.params["image_id"])
    key = req.params["key"]
    meta = _body(await req.json(), "meta")
    if key not in meta:
        raise BadRequest("Request body and URI mismatch")
    if len(meta) > 1:
        raise BadRequest("Request body contains too many items")
    await _write(req, image, {**metadata(image), key: meta[key]})
    return json_response({"meta": {key: meta[key]}})


async def delete_metadata_item(req: Request) -> Response:
    _version(req, 38)
    image = await _image(req, req.params["image_id"])
    key = req.params["key"]
    current = metadata(image)
    if key not in current:
        raise NotFound(f"Image {image['id']} has no metadata with key {key}.")
    await _write(req, image, {k: v for k, v in current.items() if k != key})
    return empty_response(204)


ROUTES: RouteTable = {
    "/images": {"GET": list_images, "DELETE": no_id},
    "/images/detail": {"GET": list_details},
    "/images/{image_id}": {"GET": show_image, "DELETE": delete_image},
    "/images/{image_id}/metadata": {"GET": list_metadata, "POST": merge_metadata,
                                    "PUT": replace_metadata},
    "/images/{image_id}/metadata/{key}": {"GET": show_metadata_item, "PUT": set_metadata_item,
                                          "DELETE": delete_metadata_item},
}
