"""``/v3/regions``, ``/v3/services`` and ``/v3/endpoints``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    body_of,
    collection,
    enforce,
    filter_value,
    identity_of,
    links,
    merge_extra,
)
from onestack.identity.objects import catalog
from onestack.identity.schemas import catalog as schemas
from onestack.kernel.api.request import Request, empty_response, json_response


def render_region(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({"id": row["id"], "description": row["description"],
                        "parent_region_id": row["parent_region_id"],
                        "links": links(req, f"regions/{row['id']}")}, row)


def render_service(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({"id": row["id"], "type": row["type"], "enabled": row["enabled"],
                        "links": links(req, f"services/{row['id']}")}, row)


def render_endpoint(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({"id": row["id"], "interface": row["interface"],
                        "service_id": row["service_id"], "region_id": row["region_id"],
                        "region": row["region_id"], "url": row["url"],
                        "enabled": row["enabled"],
                        "links": links(req, f"endpoints/{row['id']}")}, row)


# -- regions -----------------------------------------------------------------------------
async def list_regions(req: Request) -> Response:
    enforce(req, "identity:list_regions")
    async with identity_of(req).db.reader() as conn:
        found = await catalog.list_regions(conn, req.query("parent_region_id"))
    return collection(req, "regions", found, lambda r: render_region(req, r))


async def get_region(req: Request) -> Response:
    enforce(req, "identity:get_region")
    async with identity_of(req).db.reader() as conn:
        row = await catalog.get_region(conn, req.params["region_id"])
    return json_response({"region": render_region(req, row)})


async def create_region(req: Request) -> Response:
    enforce(req, "identity:manage_regions")
    body = await body_of(req, "region", schemas.region_create)
    async with identity_of(req).write() as conn:
        row = await catalog.create_region(conn, body)
    return json_response({"region": render_region(req, row)}, 201,
                         {"Location": identity_of(req).url(f"regions/{row['id']}")})


async def create_region_with_id(req: Request) -> Response:
    enforce(req, "identity:manage_regions")
    body = await body_of(req, "region", schemas.region_create)
    body["id"] = req.params["region_id"]
    async with identity_of(req).write() as conn:
        row = await catalog.create_region(conn, body)
    return json_response({"region": render_region(req, row)}, 201)


async def update_region(req: Request) -> Response:
    enforce(req, "identity:manage_regions")
    body = await body_of(req, "region", schemas.region_update)
    async with identity_of(req).write() as conn:
        row = await catalog.update_region(
            conn, await catalog.get_region(conn, req.params["region_id"]), body)
    return json_response({"region": render_region(req, row)})


async def delete_region(req: Request) -> Response:
    enforce(req, "identity:manage_regions")
    async with identity_of(req).write() as conn:
        await catalog.delete_region(conn, req.params["region_id"])
    return empty_response()


# -- services ----------------------------------------------------------------------------
async def list_services(req: Request) -> Response:
    enforce(req, "identity:list_services")
    async with identity_of(req).db.reader() as conn:
        found = await catalog.list_services(conn, req.query("type"), req.query("name"))
    return collection(req, "services", found, lambda s: render_service(req, s))


async def get_service(req: Request) -> Response:
    enforce(req, "identity:get_service")
    async with identity_of(req).db.reader() as conn:
        row = await catalog.get_service(conn, req.params["service_id"])
    return json_response({"service": render_service(req, row)})


async def create_service(req: Request) -> Response:
    enforce(req, "identity:manage_services")
    body = await body_of(req, "service", schemas.service_create)
    async with identity_of(req).write() as conn:
        row = await catalog.create_service(conn, body)
    return json_response({"service": render_service(req, row)}, 201)


async def update_service(req: Request) -> Response:
    enforce(req, "identity:manage_services")
    body = await body_of(req, "service", schemas.service_update)
    async with identity_of(req).write() as conn:
        row = await catalog.update_service(
            conn, await catalog.get_service(conn, req.params["service_id"]), body)
    return json_response({"service": render_service(req, row)})


async def delete_service(req: Request) -> Response:
    enforce(req, "identity:manage_services")
    async with identity_of(req).write() as conn:
        await catalog.delete_service(conn, req.params["service_id"])
    return empty_response()


# -- endpoints ---------------------------------------------------------------------------
async def list_endpoints(req: Request) -> Response:
    enforce(req, "identity:list_endpoints")
    filters = {"service_id": req.query("service_id"), "interface": req.query("interface"),
               "region_id": req.query("region_id"), "enabled": filter_value(req, "enabled")}
    async with identity_of(req).db.reader() as conn:
        found = await catalog.list_endpoints(conn, filters)
    return collection(req, "endpoints", found, lambda e: render_endpoint(req, e))


async def get_endpoint(req: Request) -> Response:
    enforce(req, "identity:get_endpoint")
    async with identity_of(req).db.reader() as conn:
        row = await catalog.get_endpoint(conn, req.params["endpoint_id"])
    return json_response({"endpoint": render_endpoint(req, row)})


async def create_endpoint(req: Request) -> Response:
    enforce(req, "identity:manage_endpoints")
    body = await body_of(req, "endpoint", schemas.endpoint_create)
    async with identity_of(req).write() as conn:
        row = await catalog.create_endpoint(conn, body)
    return json_response({"endpoint": render_endpoint(req, row)}, 201)


async def update_endpoint(req: Request) -> Response:
    enforce(req, "identity:manage_endpoints")
    body = await body_of(req, "endpoint", schemas.endpoint_update)
    async with identity_of(req).write() as conn:
        row = await catalog.update_endpoint(
            conn, await catalog.get_endpoint(conn, req.params["endpoint_id"]), body)
    return json_response({"endpoint": render_endpoint(req, row)})


async def delete_endpoint(req: Request) -> Response:
    enforce(req, "identity:manage_endpoints")
    async with identity_of(req).write() as conn:
        await catalog.delete_endpoint(conn, req.params["endpoint_id"])
    return empty_response()
