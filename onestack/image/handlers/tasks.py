"""``/v2/tasks``: create an ``import`` task, list and show tasks; and an image's
tasks (``/v2/images/{id}/tasks``)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.responses import Response

from onestack.image import importer
from onestack.image.handlers.common import (
    check_owner,
    enforce,
    iso,
    json_body,
    service_of,
    target,
    viewer_of,
)
from onestack.image.objects import images, paging, patch, tasks
from onestack.image.schemas.images import DISK_FORMATS
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.validation import validate

SORT_KEYS = ("id", "type", "status", "created_at", "updated_at")
IMPORT_INPUT = ("import_from", "import_from_format", "image_properties")

task_create: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "input": {"type": "object"}},
    "required": ["type", "input"],
    "additionalProperties": False,
}


def render_task(row: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    """A task; in lists (``full=False``) without its input, result and message."""
    doc: dict[str, Any] = {
        "id": row["id"], "type": row["type"], "status": row["status"],
        "owner": row["owner"], "expires_at": iso(row["expires_at"]),
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
        "self": f"/v2/tasks/{row['id']}", "schema": "/v2/schemas/task"}
    if full:
        doc.update(input=row["input"], result=row["result"], message=row["message"] or "")
        for key in ("image_id", "request_id", "user_id"):
            if row[key]:
                doc[key] = row[key]
    return doc


def _check_import(req: Request, task_input: dict[str, Any]) -> None:
    """What an import needs: where from (http or https), the data's format, and the
    image to make (checked as an image create is)."""
    for key in IMPORT_INPUT:
        if key not in task_input:
            raise BadRequest(f"Input does not contain '{key}' field.")
    url = task_input["import_from"]
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BadRequest(f"Invalid import_from {url!r}: an http or https URL is expected.")
    data_format = task_input["import_from_format"]
    if data_format not in DISK_FORMATS:
        raise BadRequest(f"Invalid import_from_format {data_format!r}: one of "
                         f"{', '.join(DISK_FORMATS)} is expected.")
    properties = task_input["image_properties"]
    if not isinstance(properties, dict):
        raise BadRequest("Input field 'image_properties' must be an object.")
    for key, value in properties.items():
        patch.check_name(key, creating=True)
        patch.check_value(key, value)
    if properties.get("disk_format", data_format) != data_format:
        raise BadRequest(f"Converting {data_format} to {properties['disk_format']} is not "
                         f"supported: import_from_format must be the image's disk_format.")
    if properties.get("visibility") == "public":
        enforce(req, "publicize_image")
    elif properties.get("visibility") == "community":
        enforce(req, "communitize_image")
    owner = properties.get("owner")
    if owner and owner != viewer_of(req).project_id:
        enforce(req, "set_image_owner")


async def create_task(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "tasks_api_access")
    enforce(req, "add_task")
    body = await json_body(req)
    validate(task_create, body)
    if body["type"] != "import":
        raise BadRequest(f"Invalid type value: {body['type']}. The task type is import.")
    _check_import(req, body["input"])
    async with service.db.writer() as conn:
        row = await tasks.create(conn, viewer_of(req), req.request_id, body["type"],
                                 body["input"])
    importer.start(service, row)
    return json_response(render_task(row), 201,
                         {"Location": f"{service.base_url}/v2/tasks/{row['id']}"})


async def list_tasks(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "tasks_api_access")
    enforce(req, "get_tasks")
    status, kind = req.query("status"), req.query("type")
    if status is not None and status not in tasks.STATUSES:
        raise BadRequest(f"Invalid status value: {status}. It is one of "
                         f"{', '.join(tasks.STATUSES)}.")
    if kind is not None and kind not in tasks.TYPES:
        raise BadRequest(f"Invalid type value: {kind}. It is one of {', '.join(tasks.TYPES)}.")
    async with service.db.reader() as conn:
        rows = await tasks.list_visible(conn, viewer_of(req), status=status, kind=kind)
    rows, more = paging.page(rows, key="id", sort_key=req.query("sort_key"),
                             sort_dir=req.query("sort_dir"), keys=SORT_KEYS,
                             marker=req.query("marker"), limit=req.query("limit"))
    body: dict[str, Any] = {"tasks": [render_task(r, full=False) for r in rows],
                            "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}
    query = [(k, v) for k, v in req.query_items if k != "marker"]
    if query:
        body["first"] += "?" + urllib.parse.urlencode(query)
    if more and rows:
        query.append(("marker", rows[-1]["id"]))
        body["next"] = "/v2/tasks?" + urllib.parse.urlencode(query)
    return json_response(body)


async def get_task(req: Request) -> Response:
    service = service_of(req)
    enforce(req, "tasks_api_access")
    enforce(req, "get_task")
    async with service.db.reader() as conn:
        row = await tasks.load(conn, viewer_of(req), req.params["task_id"])
    return json_response(render_task(row))


async def image_tasks(req: Request) -> Response:
    service = service_of(req)
    viewer = viewer_of(req)
    async with service.db.reader() as conn:
        row = await images.load(conn, viewer, req.params["image_id"])
        enforce(req, "get_task", target(row))
        check_owner(viewer, row)
        found = await tasks.for_image(conn, row["id"])
    return json_response({"tasks": [render_task(t) for t in found]})
