"""``/v3/policies``: policy blobs kept on behalf of other services."""

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
from onestack.identity.objects import policies_api
from onestack.identity.schemas import policies_api as schemas
from onestack.kernel.api.request import Request, empty_response, json_response


def render_policy(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return merge_extra({"id": row["id"], "type": row["type"], "blob": row["blob"],
                        "links": links(req, f"policies/{row['id']}")}, row)


async def list_policies(req: Request) -> Response:
    enforce(req, "identity:get_policy")
    async with identity_of(req).db.reader() as conn:
        found = await policies_api.list_all(conn, req.query("type"))
    return collection(req, "policies", found, lambda p: render_policy(req, p))


async def get_policy(req: Request) -> Response:
    enforce(req, "identity:get_policy")
    async with identity_of(req).db.reader() as conn:
        row = await policies_api.get(conn, req.params["policy_id"])
    return json_response({"policy": render_policy(req, row)})


async def create_policy(req: Request) -> Response:
    enforce(req, "identity:policies")
    body = await body_of(req, "policy", schemas.policy_create)
    async with identity_of(req).write() as conn:
        row = await policies_api.create(conn, body)
    return json_response({"policy": render_policy(req, row)}, 201,
                         {"Location": identity_of(req).url(f"policies/{row['id']}")})


async def update_policy(req: Request) -> Response:
    enforce(req, "identity:policies")
    body = await body_of(req, "policy", schemas.policy_update)
    async with identity_of(req).write() as conn:
        current = await policies_api.get(conn, req.params["policy_id"])
        row = await policies_api.update(conn, current, body)
    return json_response({"policy": render_policy(req, row)})


async def delete_policy(req: Request) -> Response:
    enforce(req, "identity:policies")
    async with identity_of(req).write() as conn:
        await policies_api.delete(conn, req.params["policy_id"])
    return empty_response()
