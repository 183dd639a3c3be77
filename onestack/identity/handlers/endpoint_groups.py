"""``/v3/OS-EP-FILTER``: endpoint groups, and which endpoints (directly or through
endpoint groups) a project's catalog is limited to."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.catalog import render_endpoint
from onestack.identity.handlers.common import body_of, collection, enforce, identity_of
from onestack.identity.handlers.projects import render_project
from onestack.identity.objects import catalog, endpoint_groups, projects
from onestack.identity.schemas import endpoint_groups as schemas
from onestack.kernel.api.faults import NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

READ = "identity:get_endpoint_filters"
WRITE = "identity:endpoint_filters"
PREFIX = "OS-EP-FILTER"


def render_group(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "filters": row["filters"],
            "links": {"self": identity_of(req).url(f"{PREFIX}/endpoint_groups/{row['id']}")}}


# -- endpoint groups ---------------------------------------------------------------------
async def list_groups(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        found = await endpoint_groups.list_all(conn, name=req.query("name"))
    return collection(req, "endpoint_groups", found, lambda g: render_group(req, g))


async def create_group(req: Request) -> Response:
    enforce(req, WRITE)
    body = await body_of(req, "endpoint_group", schemas.endpoint_group_create)
    async with identity_of(req).write() as conn:
        row = await endpoint_groups.create(conn, body)
    return json_response({"endpoint_group": render_group(req, row)}, 201)


async def get_group(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        row = await endpoint_groups.get(conn, req.params["endpoint_group_id"])
    return json_response({"endpoint_group": render_group(req, row)})


async def update_group(req: Request) -> Response:
    enforce(req, WRITE)
    body = await body_of(req, "endpoint_group", schemas.endpoint_group_update)
    async with identity_of(req).write() as conn:
        current = await endpoint_groups.get(conn, req.params["endpoint_group_id"])
        row = await endpoint_groups.update(conn, current, body)
    return json_response({"endpoint_group": render_group(req, row)})


async def delete_group(req: Request) -> Response:
    enforce(req, WRITE)
    async with identity_of(req).write() as conn:
        await endpoint_groups.delete(conn, req.params["endpoint_group_id"])
    return empty_response()


async def group_endpoints(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        row = await endpoint_groups.get(conn, req.params["endpoint_group_id"])
        found = await endpoint_groups.matching(conn, row["filters"])
    return collection(req, "endpoints", found, lambda e: render_endpoint(req, e))


async def group_projects(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        await endpoint_groups.get(conn, req.params["endpoint_group_id"])
        ids = await endpoint_groups.project_ids_of_group(conn, req.params["endpoint_group_id"])
        found = await projects.list_all(conn, ids=set(ids))
    return collection(req, "projects", found, lambda p: render_project(req, p))


# -- projects <-> endpoint groups --------------------------------------------------------
async def _group_and_project(req: Request, conn: Any) -> tuple[str, str]:
    group_id, project_id = req.params["endpoint_group_id"], req.params["project_id"]
    await projects.get(conn, project_id)
    await endpoint_groups.get(conn, group_id)
    return group_id, project_id


def _not_associated(group_id: str, project_id: str) -> NotFound:
    return NotFound(f"Could not find endpoint group {group_id} associated with project "
                    f"{project_id}.")


async def get_group_project(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        group_id, project_id = await _group_and_project(req, conn)
        if not await endpoint_groups.has_project(conn, group_id, project_id):
            raise _not_associated(group_id, project_id)
    link = identity_of(req).url(f"{PREFIX}/endpoint_groups/{group_id}/projects/{project_id}")
    return json_response({"project_endpoint_group": {
        "endpoint_group_id": group_id, "project_id": project_id, "links": {"self": link}}})


async def add_group_project(req: Request) -> Response:
    enforce(req, WRITE)
    async with identity_of(req).write() as conn:
        group_id, project_id = await _group_and_project(req, conn)
        await endpoint_groups.add_project(conn, group_id, project_id)
    return empty_response()


async def remove_group_project(req: Request) -> Response:
    enforce(req, WRITE)
    async with identity_of(req).write() as conn:
        group_id, project_id = await _group_and_project(req, conn)
        if not await endpoint_groups.remove_project(conn, group_id, project_id):
            raise _not_associated(group_id, project_id)
    return empty_response()


async def project_groups(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        await projects.get(conn, req.params["project_id"])
        ids = await endpoint_groups.group_ids_of_project(conn, req.params["project_id"])
        found = await endpoint_groups.list_all(conn, ids=ids)
    return collection(req, "endpoint_groups", found, lambda g: render_group(req, g))


# -- projects <-> endpoints --------------------------------------------------------------
async def _project_and_endpoint(req: Request, conn: Any) -> tuple[str, str]:
    project_id, endpoint_id = req.params["project_id"], req.params["endpoint_id"]
    await catalog.get_endpoint(conn, endpoint_id)
    await projects.get(conn, project_id)
    return project_id, endpoint_id


def _no_endpoint(project_id: str, endpoint_id: str) -> NotFound:
    return NotFound(f"Endpoint {endpoint_id} not found in project {project_id}.")


async def check_project_endpoint(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        project_id, endpoint_id = await _project_and_endpoint(req, conn)
        if not await endpoint_groups.has_endpoint(conn, project_id, endpoint_id):
            raise _no_endpoint(project_id, endpoint_id)
    return empty_response()


async def add_project_endpoint(req: Request) -> Response:
    enforce(req, WRITE)
    async with identity_of(req).write() as conn:
        project_id, endpoint_id = await _project_and_endpoint(req, conn)
        await endpoint_groups.add_endpoint(conn, project_id, endpoint_id)
    return empty_response()


async def remove_project_endpoint(req: Request) -> Response:
    enforce(req, WRITE)
    project_id, endpoint_id = req.params["project_id"], req.params["endpoint_id"]
    async with identity_of(req).write() as conn:
        if not await endpoint_groups.remove_endpoint(conn, project_id, endpoint_id):
            raise _no_endpoint(project_id, endpoint_id)
    return empty_response()


async def project_endpoints(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        await projects.get(conn, req.params["project_id"])
        ids = await endpoint_groups.endpoint_ids_for_project(conn, req.params["project_id"])
        found = [e for e in await catalog.list_endpoints(conn, {}) if e["id"] in (ids or ())]
    return collection(req, "endpoints", found, lambda e: render_endpoint(req, e))


async def endpoint_projects(req: Request) -> Response:
    enforce(req, READ)
    async with identity_of(req).db.reader() as conn:
        await catalog.get_endpoint(conn, req.params["endpoint_id"])
        ids = await endpoint_groups.project_ids_of_endpoint(conn, req.params["endpoint_id"])
        found = await projects.list_all(conn, ids=set(ids))
    return collection(req, "projects", found, lambda p: render_project(req, p))


def routes() -> RouteTable:
    base = f"/v3/{PREFIX}"
    group = base + "/endpoint_groups/{endpoint_group_id}"
    return {
        base + "/endpoint_groups": {"GET": list_groups, "POST": create_group},
        group: {"GET": get_group, "PATCH": update_group, "DELETE": delete_group},
        group + "/endpoints": {"GET": group_endpoints},
        group + "/projects": {"GET": group_projects},
        group + "/projects/{project_id}": {"GET": get_group_project,
                                           "PUT": add_group_project,
                                           "DELETE": remove_group_project},
        base + "/projects/{project_id}/endpoint_groups": {"GET": project_groups},
        base + "/projects/{project_id}/endpoints": {"GET": project_endpoints},
        base + "/projects/{project_id}/endpoints/{endpoint_id}": {
            "GET": check_project_endpoint, "HEAD": check_project_endpoint,
            "PUT": add_project_endpoint, "DELETE": remove_project_endpoint},
        base + "/endpoints/{endpoint_id}/projects": {"GET": endpoint_projects},
    }
