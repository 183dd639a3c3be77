"""``/flavors``: flavors, their extra specs (``os-extra_specs``) and the projects a
private flavor is shared with (``os-flavor-access`` and the tenant access actions)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    allowed,
    at_least,
    authorize,
    body,
    context_of,
    limit_of,
    links,
    next_link,
    state,
)
from onestack.compute.handlers.params import MAX_LIMIT, strict_query, to_int
from onestack.compute.objects import extra_specs, flavors
from onestack.compute.objects.flavors import Flavor
from onestack.compute.schemas import flavors as schemas
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

MANAGE = "os_compute_api:os-flavor-manage:"
SPECS = "os_compute_api:os-flavor-extra-specs:"
ACCESS = "os_compute_api:os-flavor-access"
LIST_PARAMS = ("limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir")
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


# -- rendering ---------------------------------------------------------------------
def render_brief(req: Request, flavor: Flavor) -> dict[str, Any]:
    out: dict[str, Any] = {"id": flavor["flavorid"], "name": flavor["name"],
                           "links": links(req, "flavors", flavor["flavorid"])}
    if at_least(req, 55):
        out["description"] = flavor["description"]
    return out


def render(req: Request, flavor: Flavor, with_specs: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": flavor["flavorid"], "name": flavor["name"], "ram": flavor["memory_mb"],
        "disk": flavor["root_gb"],
        "swap": flavor["swap"] if at_least(req, 75) else (flavor["swap"] or ""),
        "OS-FLV-EXT-DATA:ephemeral": flavor["ephemeral_gb"],
        "OS-FLV-DISABLED:disabled": flavor["disabled"], "vcpus": flavor["vcpus"],
        "os-flavor-access:is_public": flavor["is_public"],
        "rxtx_factor": flavor["rxtx_factor"] or "",
        "links": links(req, "flavors", flavor["flavorid"]),
    }
    if at_least(req, 55):
        out["description"] = flavor["description"]
    if with_specs:
        out["extra_specs"] = flavor.get("extra_specs", {})
    return out


def _with_specs(req: Request) -> bool:
    """Extra specs are in the flavor body from 2.61, for callers allowed to read them."""
    return at_least(req, 61) and allowed(req, SPECS + "index")


# -- flavors -----------------------------------------------------------------------
def _is_public_filter(req: Request) -> bool | None:
    raw = req.query("is_public")
    if raw is None:
        return True
    if raw.strip().lower() == "none":
        return None
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise BadRequest(f"Invalid is_public filter [{raw}]")


def _int_filter(req: Request, name: str) -> int | None:
    raw = req.query(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Invalid {name} filter [{raw}]") from None


def _sorting(req: Request) -> tuple[str, str]:
    key = req.query("sort_key") or "flavorid"
    direction = req.query("sort_dir") or "asc"
    if key not in flavors.SORT_KEYS:
        raise BadRequest(f"Invalid input for query parameters sort_key. Value: {key}. "
                         f"'{key}' is not one of {list(flavors.SORT_KEYS)}")
    if direction not in ("asc", "desc"):
        raise BadRequest(f"Invalid input for query parameters sort_dir. Value: {direction}"
                         f". '{direction}' is not one of ['asc', 'desc']")
    return key, direction


async def _listing(req: Request, collection: str, detailed: bool) -> Response:
    strict_query(req, LIST_PARAMS)
    ctx = context_of(req)
    key, direction = _sorting(req)
    limit = min(MAX_LIMIT if (given := limit_of(req)) is None else given, MAX_LIMIT)
    marker = req.query("marker")
    is_public = _is_public_filter(req) if ctx.is_admin else True
    min_ram, min_disk = _int_filter(req, "minRam"), _int_filter(req, "minDisk")
    with_specs = detailed and _with_specs(req)
    async with state(req).db.reader() as conn:
        found = await flavors.listing(conn, ctx, is_public=is_public, min_ram=min_ram,
                                      min_disk=min_disk, include_disabled=ctx.is_admin)
        if marker is not None:
            after = await flavors.find(conn, marker, ctx, extra_specs=False)
            if after is None:
                raise BadRequest(f"marker [{marker}] not found")
            # the marker need not pass the filters: the page starts after its place
            ordered = flavors.sort([f for f in found if f["id"] != after["id"]] + [after],
                                   key, direction)
            found = ordered[ordered.index(after) + 1:]
        else:
            found = flavors.sort(found, key, direction)
        page, more = found[:limit], len(found) > limit
        if with_specs:
            specs = await flavors.specs_of(conn, [f["id"] for f in page])
            page = [{**f, "extra_specs": specs[f["id"]]} for f in page]
    items = [render(req, f, with_specs) if detailed else render_brief(req, f) for f in page]
    result: dict[str, Any] = {"flavors": items}
    if more and page:
        result["flavors_links"] = next_link(req, collection, page[-1]["flavorid"])
    return json_response(result)


async def list_flavors(req: Request) -> Response:
    return await _listing(req, "flavors", detailed=False)


async def list_details(req: Request) -> Response:
    return await _listing(req, "flavors/detail", detailed=True)


async def show(req: Request) -> Response:
    async with state(req).db.reader() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req))
    return json_response({"flavor": render(req, flavor, _with_specs(req))})


def _flavorid(raw: Any) -> str | None:
    if raw is None:
        return None
    text = str(raw)
    return None if text == "auto" else text


async def create(req: Request) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = (await body(req, schemas.create(minor)))["flavor"]
    authorize(req, MANAGE + "create", {})
    rxtx = data.get("rxtx_factor", 1.0)
    try:
        rxtx = float(rxtx)
    except ValueError:
        rxtx = 0.0
    if not 0 < rxtx <= 3.40282e38:
        raise BadRequest("Invalid input received: 'rxtx_factor' argument must be a float "
                         "between 0 and 3.40282e+38")
    values = {
        "flavorid": _flavorid(data.get("id")), "name": data["name"].strip(),
        "memory_mb": to_int(data["ram"], "ram", 1), "vcpus": to_int(data["vcpus"], "vcpus", 1),
        "root_gb": to_int(data["disk"], "disk", 0),
        "ephemeral_gb": to_int(data.get("OS-FLV-EXT-DATA:ephemeral", 0),
                               "OS-FLV-EXT-DATA:ephemeral", 0),
        "swap": to_int(data.get("swap", 0), "swap", 0), "rxtx_factor": rxtx,
        "is_public": _boolean(data.get("os-flavor-access:is_public", True)),
        "description": data.get("description") if minor >= 55 else None,
    }
    async with state(req).db.writer() as conn:
        flavor = await flavors.create(conn, values)
    return json_response({"flavor": render(req, flavor, _with_specs(req))})


def _boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "on",
                                                                        "yes")


async def update(req: Request) -> Response:
    if not at_least(req, 55):
        raise NotFound("The resource could not be found.")
    data = await body(req, schemas.UPDATE)
    authorize(req, MANAGE + "update", {})
    async with state(req).db.writer() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req))
        flavor = await flavors.set_description(conn, flavor, data["flavor"]["description"])
    return json_response({"flavor": render(req, flavor, _with_specs(req))})


async def delete(req: Request) -> Response:
    authorize(req, MANAGE + "delete", {})
    async with state(req).db.writer() as conn:
        await flavors.delete(conn, req.params["flavor_id"])
    return empty_response(202)


# -- extra specs -------------------------------------------------------------------
def _checked_specs(req: Request, specs: dict[str, Any]) -> dict[str, str]:
    """The specs as stored (strings); numbers may be given but must fit, and from 2.86
    known specs are validated."""
    stored = {}
    for name, value in specs.items():
        text = value if isinstance(value, str) else str(value)
        if len(text) > 255:
            raise BadRequest("Invalid input received: extra_specs value has more than 255 "
                             "characters.")
        if at_least(req, 86):
            extra_specs.validate(name, text)
        stored[name] = text
    return stored


async def list_specs(req: Request) -> Response:
    authorize(req, SPECS + "index")
    async with state(req).db.reader() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req))
    return json_response({"extra_specs": flavor["extra_specs"]})


async def create_specs(req: Request) -> Response:
    data = await body(req, schemas.EXTRA_SPECS)
    authorize(req, SPECS + "create", {})
    specs = _checked_specs(req, data["extra_specs"])
    async with state(req).db.writer() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req))
        await flavors.set_specs(conn, flavor, specs)
    return json_response(data)


async def show_spec(req: Request) -> Response:
    authorize(req, SPECS + "show")
    key = req.params["key"]
    async with state(req).db.reader() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req))
    if key not in flavor["extra_specs"]:
        raise flavors.spec_not_found(req.params["flavor_id"], key)
    return json_response({key: flavor["extra_specs"][key]})


async def update_spec(req: Request) -> Response:
    data = await body(req, schemas.ONE_EXTRA_SPEC)
    authorize(req, SPECS + "update", {})
    specs = _checked_specs(req, data)
    if req.params["key"] not in data:
        raise BadRequest("Request body and URI mismatch")
    async with state(req).db.writer() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req))
        await flavors.set_specs(conn, flavor, specs)
    return json_response(data)


async def delete_spec(req: Request) -> Response:
    authorize(req, SPECS + "delete", {})
    async with state(req).db.writer() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req),
                                   extra_specs=False)
        await flavors.delete_spec(conn, flavor, req.params["key"])
    return empty_response(200)


# -- access ------------------------------------------------------------------------
def _access(flavor: Flavor, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor["flavorid"], "tenant_id": p}
                              for p in projects]}


async def list_access(req: Request) -> Response:
    authorize(req, ACCESS)
    async with state(req).db.reader() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req),
                                   extra_specs=False)
        if flavor["is_public"]:
            raise NotFound("Access list not available for public flavors.")
        projects = await flavors.projects_of(conn, flavor)
    return json_response(_access(flavor, projects))


async def action(req: Request) -> Response:
    document = await req.json()
    if not isinstance(document, dict) or not document:
        raise BadRequest("Malformed request body")
    if "addTenantAccess" in document:
        return await _add_tenant_access(req)
    if "removeTenantAccess" in document:
        return await _remove_tenant_access(req)
    raise BadRequest(f"There is no such action: {next(iter(document))}")


async def _add_tenant_access(req: Request) -> Response:
    data = await body(req, schemas.ADD_TENANT_ACCESS)
    authorize(req, ACCESS + ":add_tenant_access", {})
    tenant = data["addTenantAccess"]["tenant"]
    async with state(req).db.writer() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req),
                                   extra_specs=False)
        if at_least(req, 7) and flavor["is_public"]:
            raise Conflict("Can not add access to a public flavor.")
        await flavors.add_access(conn, flavor, tenant)
        projects = await flavors.projects_of(conn, flavor)
    return json_response(_access(flavor, projects))


async def _remove_tenant_access(req: Request) -> Response:
    data = await body(req, schemas.REMOVE_TENANT_ACCESS)
    authorize(req, ACCESS + ":remove_tenant_access", {})
    tenant = data["removeTenantAccess"]["tenant"]
    async with state(req).db.writer() as conn:
        flavor = await flavors.get(conn, req.params["flavor_id"], context_of(req),
                                   extra_specs=False)
        await flavors.remove_access(conn, flavor, tenant)
        projects = await flavors.projects_of(conn, flavor)
    return json_response(_access(flavor, projects))


ROUTES: RouteTable = {
    "/flavors": {"GET": list_flavors, "POST": create},
    "/flavors/detail": {"GET": list_details},
    "/flavors/{flavor_id}": {"GET": show, "PUT": update, "DELETE": delete},
    "/flavors/{flavor_id}/os-extra_specs": {"GET": list_specs, "POST": create_specs},
    "/flavors/{flavor_id}/os-extra_specs/{key}": {"GET": show_spec, "PUT": update_spec,
                                                  "DELETE": delete_spec},
    "/flavors/{flavor_id}/os-flavor-access": {"GET": list_access},
    "/flavors/{flavor_id}/action": {"POST": action},
}
