"""Allocations per consumer, bulk POST /allocations, allocations of a provider, and
usages of a project (or user)."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.validation import validate
from onestack.placement.handlers.common import at_least, authorize, since, state
from onestack.placement.objects import allocations, errors, providers
from onestack.placement.objects.allocations import UNSET, ConsumerWrite
from onestack.placement.schemas import allocations as schemas

DEFAULT_ID = "00000000-0000-0000-0000-000000000000"  # incomplete consumers (before 1.8)


def _consumer_id(value: str) -> str:
    try:
        uuidlib.UUID(value)
    except ValueError:
        raise errors.bad_request(f"Malformed consumer_uuid: {value}") from None
    return value


async def get_allocations(req: Request) -> Response:
    authorize(req, "placement:allocations")
    store = state(req).store
    consumer = store.consumers.get(req.params["consumer_uuid"])
    result: dict[str, Any] = {"allocations": {}}
    if consumer is None:
        return json_response(result)
    result["allocations"] = {
        uuid: {"generation": store.providers[uuid].generation, "resources": dict(res)}
        for uuid, res in consumer.allocations.items()}
    if at_least(req, 12):
        result["project_id"] = consumer.project_id
        result["user_id"] = consumer.user_id
    if at_least(req, 28):
        result["consumer_generation"] = consumer.generation
    if at_least(req, 38):
        result["consumer_type"] = consumer.consumer_type or "UNKNOWN"
    return json_response(result)


def _write(req: Request, consumer: str, data: dict[str, Any]) -> ConsumerWrite:
    minor = req.version.minor if req.version is not None else 0
    if minor >= 12:
        wanted = {uuid: dict(item["resources"])
                  for uuid, item in data["allocations"].items()}
        if not wanted and minor < 28:
            raise errors.bad_request("Allocations must not be empty before 1.28.")
    else:
        wanted = {}
        for item in data["allocations"]:
            wanted.setdefault(item["resource_provider"]["uuid"], {}).update(item["resources"])
    if minor >= 8 and ("project_id" not in data or "user_id" not in data):
        raise errors.bad_request("'project_id' and 'user_id' are required properties.")
    write = ConsumerWrite(consumer, wanted, data.get("project_id", DEFAULT_ID),
                          data.get("user_id", DEFAULT_ID))
    if minor >= 28 and "consumer_generation" in data:
        write.generation = data["consumer_generation"]
    elif minor >= 28 and minor < 37:
        write.generation = UNSET
    existing = state(req).store.consumers.get(consumer)
    write.consumer_type = data.get("consumer_type") or (
        existing.consumer_type if existing else None)
    return write


async def put_allocations(req: Request) -> Response:
    authorize(req, "placement:allocations")
    consumer = _consumer_id(req.params["consumer_uuid"])
    minor = req.version.minor if req.version is not None else 0
    schema = schemas.dict_shape(minor) if minor >= 12 else schemas.LIST_SHAPE
    data = validate(schema, await req.json())
    placement = state(req)
    await allocations.replace(placement.db, placement.store, [_write(req, consumer, data)])
    return empty_response()


@since(13)
async def post_allocations(req: Request) -> Response:
    authorize(req, "placement:allocations")
    minor = req.version.minor if req.version is not None else 0
    data = validate(schemas.bulk_shape(minor), await req.json())
    writes = [_write(req, _consumer_id(consumer), item) for consumer, item in data.items()]
    placement = state(req)
    await allocations.replace(placement.db, placement.store, writes)
    return empty_response()


async def delete_allocations(req: Request) -> Response:
    authorize(req, "placement:allocations")
    placement = state(req)
    await allocations.delete(placement.db, placement.store, req.params["consumer_uuid"])
    return empty_response()


async def provider_allocations(req: Request) -> Response:
    authorize(req, "placement:resource_providers:allocations:list")
    store = state(req).store
    provider = providers.get(store, req.params["uuid"])
    found = {c.uuid: {"resources": dict(c.allocations[provider.uuid])}
             for c in store.consumers.values() if provider.uuid in c.allocations}
    return json_response({"allocations": found,
                          "resource_provider_generation": provider.generation})


@since(9)
async def usages(req: Request) -> Response:
    authorize(req, "placement:usages")
    project = req.query("project_id")
    if project is None:
        raise errors.bad_request("'project_id' is a required property")
    user = req.query("user_id")
    kind = req.query("consumer_type") if at_least(req, 38) else None
    totals: dict[str, dict[str, int]] = {}
    counts: dict[str, int] = {}
    for consumer in state(req).store.consumers.values():
        if consumer.project_id != project or (user is not None and consumer.user_id != user):
            continue
        ctype = consumer.consumer_type or "unknown"
        if kind not in (None, "all", "ALL") and ctype != kind:
            continue
        bucket = totals.setdefault(ctype, {})
        counts[ctype] = counts.get(ctype, 0) + 1
        for resources in consumer.allocations.values():
            for rc, amount in resources.items():
                bucket[rc] = bucket.get(rc, 0) + amount
    if not at_least(req, 38):
        flat: dict[str, int] = {}
        for bucket in totals.values():
            for rc, amount in bucket.items():
                flat[rc] = flat.get(rc, 0) + amount
        return json_response({"usages": flat})
    if kind in ("all", "ALL"):
        merged: dict[str, Any] = {"consumer_count": sum(counts.values())}
        for bucket in totals.values():
            for rc, amount in bucket.items():
                merged[rc] = merged.get(rc, 0) + amount
        return json_response({"usages": {"all": merged}})
    return json_response({"usages": {
        ctype: {"consumer_count": counts[ctype], **bucket} for ctype, bucket in totals.items()}})
