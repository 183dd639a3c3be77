"""What hangs off a server besides actions: metadata, tags (2.26) and addresses."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute.handlers import server_view
from onestack.compute.handlers.common import at_least, authorize, body, state, target_of
from onestack.compute.handlers.servers import check_locked, owned, refresh_addresses
from onestack.compute.objects import instances, quotas, states
from onestack.compute.schemas.servers import METADATA, TAG
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

Instance = dict[str, Any]
MAX_TAGS = 50
METADATA_BODY = {"type": "object", "properties": {"metadata": METADATA},
                 "required": ["metadata"], "additionalProperties": False}
META_ITEM_BODY = {"type": "object", "properties": {"meta": {**METADATA, "minProperties": 1,
                                                            "maxProperties": 1}},
                  "required": ["meta"], "additionalProperties": False}
TAGS_BODY = {"type": "object", "properties": {"tags": {"type": "array", "items": TAG}},
             "required": ["tags"], "additionalProperties": False}


async def _server(req: Request, rule: str) -> Instance:
    instance = await owned(req, req.params["server_id"])
    authorize(req, rule, target_of(req, instance["project_id"], instance["user_id"]))
    return instance


async def _write(req: Request, instance: Instance, changes: dict[str, Any],
                 action: str) -> Instance:
    check_locked(req, instance)
    if action == "update tags" and instance["vm_state"] == states.BUILDING:
        raise Conflict(f"Cannot '{action}' instance {instance['uuid']} while it is in "
                       f"vm_state {instance['vm_state']}")
    async with state(req).db.writer() as conn:
        current = await instances.get(conn, instance["uuid"])
        updated = await instances.update(conn, current, changes)
        if updated is None:
            raise Conflict("The server changed while it was being updated; retry.")
    return updated


async def _check_metadata_quota(req: Request, instance: Instance,
                                metadata: dict[str, str]) -> None:
    compute = state(req)
    async with compute.db.reader() as conn:
        await quotas.check_absolute(conn, compute.settings, instance["project_id"],
                                    {"metadata_items": len(metadata)})


# -- metadata ----------------------------------------------------------------------
async def list_metadata(req: Request) -> Response:
    instance = await _server(req, "os_compute_api:server-metadata:index")
    return json_response({"metadata": dict(instance["metadata"])})


async def replace_metadata(req: Request) -> Response:
    data = await body(req, METADATA_BODY)
    instance = await _server(req, "os_compute_api:server-metadata:update_all")
    await _check_metadata_quota(req, instance, data["metadata"])
    await _write(req, instance, {"metadata": data["metadata"]}, "update metadata")
    return json_response({"metadata": data["metadata"]})


async def merge_metadata(req: Request) -> Response:
    data = await body(req, METADATA_BODY)
    instance = await _server(req, "os_compute_api:server-metadata:create")
    merged = {**instance["metadata"], **data["metadata"]}
    await _check_metadata_quota(req, instance, merged)
    await _write(req, instance, {"metadata": merged}, "update metadata")
    return json_response({"metadata": merged})


async def show_metadata_item(req: Request) -> Response:
    instance = await _server(req, "os_compute_api:server-metadata:show")
    key = req.params["key"]
    if key not in instance["metadata"]:
        raise NotFound("Metadata item was not found")
    return json_response({"meta": {key: instance["metadata"][key]}})


async def set_metadata_item(req: Request) -> Response:
    data = await body(req, META_ITEM_BODY)
    key = req.params["key"]
    if key not in data["meta"]:
        raise BadRequest("Request body and URI mismatch")
    instance = await _server(req, "os_compute_api:server-metadata:update")
    merged = {**instance["metadata"], key: data["meta"][key]}
    await _check_metadata_quota(req, instance, merged)
    await _write(req, instance, {"metadata": merged}, "update metadata")
    return json_response({"meta": {key: data["meta"][key]}})


async def delete_metadata_item(req: Request) -> Response:
    instance = await _server(req, "os_compute_api:server-metadata:delete")
    key = req.params["key"]
    if key not in instance["metadata"]:
        raise NotFound("Metadata item was not found")
    remaining = {k: v for k, v in instance["metadata"].items() if k != key}
    await _write(req, instance, {"metadata": remaining}, "update metadata")
    return empty_response(204)


# -- tags (2.26) -------------------------------------------------------------------
def _tags_version(req: Request) -> None:
    if not at_least(req, 26):
        raise NotFound("The resource could not be found.")


async def list_tags(req: Request) -> Response:
    _tags_version(req)
    instance = await _server(req, "os_compute_api:os-server-tags:index")
    return json_response({"tags": list(instance["tags"])})


async def replace_tags(req: Request) -> Response:
    _tags_version(req)
    data = await body(req, TAGS_BODY)
    instance = await _server(req, "os_compute_api:os-server-tags:update_all")
    tags = list(dict.fromkeys(data["tags"]))
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    await _write(req, instance, {"tags": tags}, "update tags")
    return json_response({"tags": tags})


async def delete_tags(req: Request) -> Response:
    _tags_version(req)
    instance = await _server(req, "os_compute_api:os-server-tags:delete_all")
    await _write(req, instance, {"tags": []}, "update tags")
    return empty_response(204)


async def check_tag(req: Request) -> Response:
    _tags_version(req)
    instance = await _server(req, "os_compute_api:os-server-tags:show")
    if req.params["tag"] not in instance["tags"]:
        raise NotFound(f"Tag {req.params['tag']} could not be found.")
    return empty_response(204)


async def add_tag(req: Request) -> Response:
    _tags_version(req)
    tag = req.params["tag"]
    if not tag or len(tag) > 60 or "," in tag or "/" in tag:
        raise BadRequest(f"Invalid tag: {tag}")
    instance = await _server(req, "os_compute_api:os-server-tags:update")
    if tag in instance["tags"]:
        return empty_response(204)
    if len(instance["tags"]) >= MAX_TAGS:
        raise BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    await _write(req, instance, {"tags": [*instance["tags"], tag]}, "update tags")
    base = state(req).base_url
    return empty_response(201, headers={
        "Location": f"{base}/v2.1/servers/{instance['uuid']}/tags/{tag}"})


async def delete_tag(req: Request) -> Response:
    _tags_version(req)
    instance = await _server(req, "os_compute_api:os-server-tags:delete")
    tag = req.params["tag"]
    if tag not in instance["tags"]:
        raise NotFound(f"Tag {tag} could not be found.")
    await _write(req, instance, {"tags": [t for t in instance["tags"] if t != tag]},
                 "update tags")
    return empty_response(204)


# -- addresses -----------------------------------------------------------------------
async def list_ips(req: Request) -> Response:
    instance = await _server(req, "os_compute_api:ips:index")
    await refresh_addresses(req, [instance])
    return json_response({"addresses": server_view.addresses(instance["network_info"] or [],
                                                             detail=False)})


async def show_ips(req: Request) -> Response:
    instance = await _server(req, "os_compute_api:ips:show")
    await refresh_addresses(req, [instance])
    found = server_view.addresses(instance["network_info"] or [], detail=False)
    label = req.params["network"]
    if label not in found:
        raise NotFound("Instance is not a member of specified network")
    return json_response({label: found[label]})


ROUTES: RouteTable = {
    "/servers/{server_id}/metadata": {"GET": list_metadata, "PUT": replace_metadata,
                                      "POST": merge_metadata},
    "/servers/{server_id}/metadata/{key}": {"GET": show_metadata_item,
                                            "PUT": set_metadata_item,
                                            "DELETE": delete_metadata_item},
    "/servers/{server_id}/tags": {"GET": list_tags, "PUT": replace_tags, "DELETE": delete_tags},
    "/servers/{server_id}/tags/{tag}": {"GET": check_tag, "PUT": add_tag,
                                        "DELETE": delete_tag},
    "/servers/{server_id}/ips": {"GET": list_ips},
    "/servers/{server_id}/ips/{network}": {"GET": show_ips},
}
