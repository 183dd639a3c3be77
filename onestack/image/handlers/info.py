"""Version discovery, the schema documents and ``/v2/info/*``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.image.handlers.common import enforce, service_of, viewer_of
from onestack.image.objects import images
from onestack.image.schemas import images as schemas
from onestack.image.schemas import metadefs as metadef_schemas
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import public

# Each minor version of the Images API v2 this service answers (2.16: os_hidden,
# import, stores and tasks per image, usage).
CURRENT = 16


def _versions(req: Request) -> list[dict[str, Any]]:
    href = service_of(req).base_url + "/v2/"
    return [{"id": f"v2.{minor}", "status": "CURRENT" if minor == CURRENT else "SUPPORTED",
             "links": [{"rel": "self", "href": href}]}
            for minor in range(CURRENT, -1, -1)]


@public
async def root(req: Request) -> Response:
    return json_response({"versions": _versions(req)}, 300)


@public
async def versions(req: Request) -> Response:
    return json_response({"versions": _versions(req)})


SCHEMAS = {"image": schemas.image_schema, "images": schemas.images_schema,
           "member": schemas.member_schema, "members": schemas.members_schema,
           "task": schemas.task_schema, "tasks": schemas.tasks_schema,
           **metadef_schemas.SCHEMAS}


def schema_route(name: str) -> Any:
    async def get_schema(req: Request) -> Response:
        return json_response(SCHEMAS[name]())
    get_schema.__name__ = f"schema_{name.replace('/', '_')}"
    return get_schema


async def import_info(req: Request) -> Response:
    return json_response({"import-methods": {
        "description": "Import methods available.", "type": "array",
        "value": ["glance-direct"]}})


async def stores_info(req: Request) -> Response:
    store = service_of(req).store
    return json_response({"stores": [{"id": store.name, "default": True,
                                      "description": f"The {store.name} store"}]})


async def stores_detail(req: Request) -> Response:
    enforce(req, "stores_info_detail")
    service = service_of(req)
    return json_response({"stores": [{
        "id": service.store.name, "default": True, "type": service.store.name,
        "description": f"The {service.store.name} store", "properties": {}}]})


async def usage(req: Request) -> Response:
    enforce(req, "get_usage")
    service = service_of(req)
    settings = service.settings
    project = viewer_of(req).project_id
    async with service.db.reader() as conn:
        used = await images.bytes_used(conn, project)
        count = await images.count_owned(conn, project)
    return json_response({"usage": {
        "image_size_total": {"limit": settings.quota_bytes_per_project, "usage": used},
        "image_count_total": {"limit": settings.quota_images_per_project, "usage": count},
        "image_stage_total": {"limit": -1, "usage": 0},
        "image_count_uploading": {"limit": -1, "usage": 0}}})

