"""``/v3/OS-OAUTH1/consumers``: register, show, list, describe and remove OAuth 1.0a
consumers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.identity.handlers.common import (
    body_of,
    collection,
    enforce,
    identity_of,
    links,
    merge_extra,
)
from onestack.identity.objects import oauth1
from onestack.identity.schemas import oauth1 as schemas
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, empty_response, json_response


def render_consumer(req: Request, row: dict[str, Any], secret: str | None = None
                    ) -> dict[str, Any]:
    rendered: dict[str, Any] = {"id": row["id"], "description": row["description"],
                                "links": links(req, f"OS-OAUTH1/consumers/{row['id']}")}
    if secret is not None:
        rendered["secret"] = secret
    return merge_extra(rendered, row)


def _extra(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "secret", "description")}


async def create_consumer(req: Request) -> Response:
    enforce(req, "identity:create_consumer")
    body = await body_of(req, "consumer", schemas.consumer_create)
    for field in ("id", "secret"):
        if field in body:
            raise BadRequest(f"Invalid input for field '{field}': the server chooses a "
                             f"consumer's {field}.")
    identity = identity_of(req)
    async with identity.write() as conn:
        row, secret = await oauth1.create(conn, identity.credential_keys,
                                          body.get("description"), _extra(body))
    return json_response({"consumer": render_consumer(req, row, secret)}, 201)


async def list_consumers(req: Request) -> Response:
    enforce(req, "identity:list_consumers")
    async with identity_of(req).db.reader() as conn:
        found = await oauth1.list_all(conn)
    return collection(req, "consumers", found, lambda c: render_consumer(req, c))


async def get_consumer(req: Request) -> Response:
    enforce(req, "identity:get_consumer")
    async with identity_of(req).db.reader() as conn:
        row = await oauth1.get(conn, req.params["consumer_id"])
    return json_response({"consumer": render_consumer(req, row)})


async def update_consumer(req: Request) -> Response:
    enforce(req, "identity:update_consumer")
    body = await body_of(req, "consumer", schemas.consumer_update)
    consumer_id = req.params["consumer_id"]
    if "secret" in body:
        raise BadRequest("Invalid input for field 'secret': a consumer's secret cannot "
                         "be changed.")
    if body.get("id", consumer_id) != consumer_id:
        raise BadRequest("Invalid input for field 'id': a consumer's id cannot change.")
    async with identity_of(req).write() as conn:
        current = await oauth1.get(conn, consumer_id)
        row = await oauth1.update(conn, current, body, _extra(body))
    return json_response({"consumer": render_consumer(req, row)})


async def delete_consumer(req: Request) -> Response:
    enforce(req, "identity:delete_consumer")
    async with identity_of(req).write() as conn:
        await oauth1.delete(conn, req.params["consumer_id"])
    return empty_response()
