"""``/os-quota-sets`` (a project's or a user's limits, their usage, the defaults) and
``/os-quota-class-sets`` (the ``default`` class is every project's base)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import authorize, body, state
from onestack.compute.handlers.params import strict_query
from onestack.compute.objects import quotas
from onestack.compute.schemas import quotas as schemas
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-quota-sets:"
CLASS_RULE = "os_compute_api:os-quota-class-sets:"
# Quota classes showed no server group limits before 2.50.
SERVER_GROUPS = ("server_groups", "server_group_members")


def _minor(req: Request) -> int:
    return req.version.minor if req.version is not None else 1


def _shown(req: Request, values: dict[str, Any]) -> dict[str, Any]:
    gone = schemas.hidden(_minor(req))
    return {k: v for k, v in values.items() if k not in gone}


def _target(req: Request) -> tuple[str, str | None]:
    strict_query(req, ["user_id"])
    return req.params["project_id"], req.query("user_id") or None


async def show(req: Request) -> Response:
    project_id, user_id = _target(req)
    authorize(req, RULE + "show", {"project_id": project_id})
    compute = state(req)
    async with compute.db.reader() as conn:
        values = await quotas.limits(conn, compute.settings, project_id, user_id)
    return json_response({"quota_set": {"id": project_id, **_shown(req, values)}})


async def detail(req: Request) -> Response:
    project_id, user_id = _target(req)
    authorize(req, RULE + "detail", {"project_id": project_id})
    compute = state(req)
    async with compute.db.reader() as conn:
        values = await quotas.detail(conn, compute.settings, project_id, user_id)
    return json_response({"quota_set": {"id": project_id, **_shown(req, values)}})


async def defaults(req: Request) -> Response:
    project_id = req.params["project_id"]
    authorize(req, RULE + "defaults", {"project_id": project_id})
    compute = state(req)
    async with compute.db.reader() as conn:
        values = await quotas.class_limits(conn, compute.settings)
    return json_response({"quota_set": {"id": project_id, **_shown(req, values)}})


def _limits(given: dict[str, Any]) -> dict[str, int]:
    values = {}
    for resource, raw in given.items():
        value = int(raw)
        if not quotas.UNLIMITED <= value <= quotas.MAX_INT:
            bound = ("less than the minimum of -1" if value < quotas.UNLIMITED
                     else f"greater than the maximum of {quotas.MAX_INT}")
            raise BadRequest(f"Invalid input for field/attribute {resource}. Value: {raw}. "
                             f"{raw} is {bound}")
        values[resource] = value
    return values


async def update(req: Request) -> Response:
    data = (await body(req, schemas.quota_set(_minor(req))))["quota_set"]
    project_id, user_id = _target(req)
    authorize(req, RULE + "update", {"project_id": project_id})
    force = str(data.pop("force", False)).lower() in ("true", "1", "on", "yes")
    values = _limits(data)
    compute = state(req)
    async with compute.db.writer() as conn:
        await quotas.update(conn, compute.settings, project_id, user_id, values, force)
        shown = await quotas.limits(conn, compute.settings, project_id, user_id)
    return json_response({"quota_set": _shown(req, shown)})


async def delete(req: Request) -> Response:
    project_id, user_id = _target(req)
    authorize(req, RULE + "delete", {"project_id": project_id})
    async with state(req).db.writer() as conn:
        await quotas.reset(conn, project_id, user_id)
    return empty_response(202)


# -- quota classes -----------------------------------------------------------------
def _class_shown(req: Request, values: dict[str, int]) -> dict[str, int]:
    gone = schemas.hidden(_minor(req), network_until=50)
    if _minor(req) < 50:
        gone += SERVER_GROUPS
    return {k: v for k, v in values.items() if k not in gone}


async def show_class(req: Request) -> Response:
    authorize(req, CLASS_RULE + "show", {})
    name = req.params["class_name"]
    compute = state(req)
    async with compute.db.reader() as conn:
        values = await quotas.class_limits(conn, compute.settings, name)
    return json_response({"quota_class_set": {"id": name, **_class_shown(req, values)}})


async def update_class(req: Request) -> Response:
    data = (await body(req, schemas.quota_class_set(_minor(req))))["quota_class_set"]
    authorize(req, CLASS_RULE + "update", {})
    name = req.params["class_name"]
    if len(name) > 255:
        raise BadRequest("Invalid input received: quota_class_name has more than 255 "
                         "characters.")
    compute = state(req)
    async with compute.db.writer() as conn:
        await quotas.set_class_limits(conn, name, _limits(data))
        values = await quotas.class_limits(conn, compute.settings, name)
    return json_response({"quota_class_set": _class_shown(req, values)})


ROUTES: RouteTable = {
    "/os-quota-sets/{project_id}": {"GET": show, "PUT": update, "DELETE": delete},
    "/os-quota-sets/{project_id}/detail": {"GET": detail},
    "/os-quota-sets/{project_id}/defaults": {"GET": defaults},
    "/os-quota-class-sets/{class_name}": {"GET": show_class, "PUT": update_class},
}
