"""``/os-aggregates``: host aggregates, their hosts and metadata (admin only). Host
membership is mirrored into placement: each compute node's resource provider carries
the uuids of its host's aggregates, so that the scheduler can ask for members."""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    body,
    bus_context,
    isotime_micro,
    state,
)
from onestack.compute.handlers.services import integer_id
from onestack.compute.objects import aggregates
from onestack.compute.objects.aggregates import ZONE_KEY, Aggregate, InvalidAction
from onestack.compute.schemas import aggregates as schemas
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable
from onestack.kernel.api.validation import validate

log = logging.getLogger(__name__)
RULE = "os_compute_api:os-aggregates:%s"


def render(req: Request, aggregate: Aggregate, with_members: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": aggregate["id"], "name": aggregate["name"],
        "availability_zone": aggregate["metadata"].get(ZONE_KEY),
        "created_at": isotime_micro(aggregate["created_at"]),
        "updated_at": isotime_micro(aggregate["updated_at"]),
        "deleted_at": None, "deleted": False}
    if with_members:
        out["hosts"] = list(aggregate["hosts"])
        out["metadata"] = dict(aggregate["metadata"])
    if at_least(req, 41):
        out["uuid"] = aggregate["uuid"]
    return out


def _one(req: Request, aggregate: Aggregate) -> Response:
    return json_response({"aggregate": render(req, aggregate)})


async def list_aggregates(req: Request) -> Response:
    authorize(req, RULE % "index")
    async with state(req).db.reader() as conn:
        found = await aggregates.list_all(conn)
    return json_response({"aggregates": [render(req, a) for a in found]})


async def create_aggregate(req: Request) -> Response:
    data = (await body(req, schemas.CREATE))["aggregate"]
    authorize(req, RULE % "create")
    zone = data.get("availability_zone")
    async with state(req).db.writer() as conn:
        created = await aggregates.create(conn, data["name"].strip(),
                                          zone.strip() if zone else None)
    return json_response({"aggregate": render(req, created, with_members=False)})


async def show_aggregate(req: Request) -> Response:
    authorize(req, RULE % "show")
    aggregate_id = integer_id(req.params["aggregate_id"])
    async with state(req).db.reader() as conn:
        return _one(req, await aggregates.get(conn, aggregate_id))


async def update_aggregate(req: Request) -> Response:
    updates = dict((await body(req, schemas.UPDATE))["aggregate"])
    authorize(req, RULE % "update")
    if "name" in updates:
        updates["name"] = updates["name"].strip()
    aggregate_id = integer_id(req.params["aggregate_id"])
    async with state(req).db.writer() as conn:
        current = await aggregates.get(conn, aggregate_id)
        return _one(req, await aggregates.update(conn, current, updates))


async def delete_aggregate(req: Request) -> Response:
    authorize(req, RULE % "delete")
    aggregate_id = integer_id(req.params["aggregate_id"])
    async with state(req).db.writer() as conn:
        await aggregates.delete(conn, await aggregates.get(conn, aggregate_id))
    return empty_response(200)


async def _mirror(req: Request, host: str) -> None:
    """Give the host's resource providers its aggregates. As Nova, a placement failure
    does not fail the request (syncing aggregates again repairs it)."""
    async with state(req).db.reader() as conn:
        uuids = await aggregates.uuids_of_host(conn, host)
        nodes = await aggregates.node_uuids(conn, host)
    for node in nodes:
        try:
            await state(req).placement.set_aggregates(bus_context(req), node, uuids)
        except Exception:
            log.exception("could not mirror the aggregates of %s into placement", host)


async def _add_host(req: Request, aggregate_id: str, data: dict[str, Any]) -> Response:
    host = validate(schemas.ADD_HOST, data)["add_host"]["host"]
    authorize(req, RULE % "add_host")
    ident = integer_id(aggregate_id)
    try:
        async with state(req).db.writer() as conn:
            aggregate = await aggregates.add_host(conn, ident, host)
    except InvalidAction as error:
        raise Conflict(error.message) from None
    await _mirror(req, host)
    return _one(req, aggregate)


async def _remove_host(req: Request, aggregate_id: str, data: dict[str, Any]) -> Response:
    host = validate(schemas.REMOVE_HOST, data)["remove_host"]["host"]
    authorize(req, RULE % "remove_host")
    ident = integer_id(aggregate_id)
    try:
        async with state(req).db.writer() as conn:
            aggregate = await aggregates.remove_host(conn, ident, host)
    except NotFound:
        raise NotFound(f"Cannot remove host {host} in aggregate {aggregate_id}") from None
    except InvalidAction as error:
        raise Conflict(error.message) from None
    await _mirror(req, host)
    return _one(req, aggregate)


async def _set_metadata(req: Request, aggregate_id: str, data: dict[str, Any]) -> Response:
    metadata = validate(schemas.SET_METADATA, data)["set_metadata"]["metadata"]
    authorize(req, RULE % "set_metadata")
    ident = integer_id(aggregate_id)
    async with state(req).db.writer() as conn:
        current = await aggregates.get(conn, ident)
        return _one(req, await aggregates.set_metadata(conn, current, metadata))


ACTIONS = {"add_host": _add_host, "remove_host": _remove_host,
           "set_metadata": _set_metadata}


async def aggregate_action(req: Request) -> Response:
    data = await req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise BadRequest("Malformed message body: too many body keys")
    name = next(iter(data))
    handler = ACTIONS.get(name)
    if handler is None:
        raise BadRequest(f"There is no such action: {name}")
    return await handler(req, req.params["aggregate_id"], data)


async def cache_images(req: Request) -> Response:
    """2.81: ask the aggregate's hosts to cache images. Fake hosts have nothing to
    warm, so this checks the request and the images and accepts it."""
    if not at_least(req, 81):
        raise NotFound("The resource could not be found.")
    data = await body(req, schemas.IMAGES)
    authorize(req, "os_compute_api:os-aggregates:images")
    aggregate_id = integer_id(req.params["aggregate_id"])
    image_ids = [item["id"] for item in data["cache"]]
    if len(set(image_ids)) != len(image_ids):
        raise BadRequest("Duplicate images in request")
    async with state(req).db.reader() as conn:
        await aggregates.get(conn, aggregate_id)
    for image_id in image_ids:
        if await state(req).image.get_image(bus_context(req), image_id) is None:
            raise BadRequest(f"Image {image_id} could not be found.")
    return empty_response(202)


ROUTES: RouteTable = {
    "/os-aggregates": {"GET": list_aggregates, "POST": create_aggregate},
    "/os-aggregates/{aggregate_id}": {"GET": show_aggregate, "PUT": update_aggregate,
                                      "DELETE": delete_aggregate},
    "/os-aggregates/{aggregate_id}/action": {"POST": aggregate_action},
    "/os-aggregates/{aggregate_id}/images": {"POST": cache_images},
}
