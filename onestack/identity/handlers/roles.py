"""``/v3/roles`` and role inference rules (``/v3/roles/{id}/implies``,
``/v3/role_inferences``)."""

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
from onestack.identity.objects import assignments, revocations, roles
from onestack.identity.schemas import roles as schemas
from onestack.kernel.api.faults import NotFound
from onestack.kernel.api.request import Request, empty_response, json_response


def render_role(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    rendered = {"id": row["id"], "name": row["name"], "domain_id": roles.public_domain(row),
                "description": row.get("description"), "options": row.get("options") or {},
                "links": links(req, f"roles/{row['id']}")}
    return merge_extra(rendered, row)


def _ref(req: Request, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "links": links(req, f"roles/{row['id']}")}


async def list_roles(req: Request) -> Response:
    enforce(req, "identity:list_roles")
    async with identity_of(req).db.reader() as conn:
        found = await roles.list_all(conn, name=req.query("name"),
                                     domain_id=req.query("domain_id"))
    return collection(req, "roles", found, lambda r: render_role(req, r))


async def get_role(req: Request) -> Response:
    enforce(req, "identity:get_role")
    async with identity_of(req).db.reader() as conn:
        row = await roles.get(conn, req.params["role_id"])
    return json_response({"role": render_role(req, row)})


async def create_role(req: Request) -> Response:
    enforce(req, "identity:create_role")
    body = await body_of(req, "role", schemas.role_create)
    async with identity_of(req).write() as conn:
        row = await roles.create(conn, body)
    return json_response({"role": render_role(req, row)}, 201)


async def update_role(req: Request) -> Response:
    enforce(req, "identity:update_role")
    body = await body_of(req, "role", schemas.role_update)
    async with identity_of(req).write() as conn:
        row = await roles.update(conn, await roles.get(conn, req.params["role_id"]), body)
    return json_response({"role": render_role(req, row)})


async def delete_role(req: Request) -> Response:
    enforce(req, "identity:delete_role")
    identity = identity_of(req)
    async with identity.write() as conn:
        current = await roles.get(conn, req.params["role_id"])
        holders = await assignments.users_holding(conn, current["id"])
        await roles.delete(conn, current)
        # Tokens name their roles: revoke the tokens of whoever held this one.
        for user_id in sorted(holders):
            await revocations.revoke(identity, conn, user_id=user_id)
    return empty_response()


async def _pair(req: Request, conn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    prior = await roles.get(conn, req.params["prior_role_id"])
    implied = await roles.get(conn, req.params["implied_role_id"])
    return prior, implied


async def create_implied(req: Request) -> Response:
    enforce(req, "identity:manage_implied_roles")
    async with identity_of(req).write() as conn:
        prior, implied = await _pair(req, conn)
        await roles.add_implied(conn, prior, implied)
    body = {"role_inference": {"prior_role": _ref(req, prior), "implies": _ref(req, implied)},
            "links": links(req, f"roles/{prior['id']}/implies/{implied['id']}")}
    return json_response(body, 201)


async def get_implied(req: Request) -> Response:
    enforce(req, "identity:implied_roles")
    async with identity_of(req).db.reader() as conn:
        prior, implied = await _pair(req, conn)
        if not await roles.has_implied(conn, prior["id"], implied["id"]):
            raise NotFound(f"{prior['id']} does not imply {implied['id']}.")
    body = {"role_inference": {"prior_role": _ref(req, prior), "implies": _ref(req, implied)},
            "links": links(req, f"roles/{prior['id']}/implies/{implied['id']}")}
    return json_response(body)


async def check_implied(req: Request) -> Response:
    await get_implied(req)
    return empty_response()


async def delete_implied(req: Request) -> Response:
    enforce(req, "identity:manage_implied_roles")
    async with identity_of(req).write() as conn:
        prior, implied = await _pair(req, conn)
        if not await roles.remove_implied(conn, prior["id"], implied["id"]):
            raise NotFound(f"{prior['id']} does not imply {implied['id']}.")
    return empty_response()


async def list_implied(req: Request) -> Response:
    enforce(req, "identity:implied_roles")
    async with identity_of(req).db.reader() as conn:
        prior = await roles.get(conn, req.params["prior_role_id"])
        implied = await roles.by_ids(conn, set(await roles.implied_by(conn, prior["id"])))
    body = {"role_inference": {"prior_role": _ref(req, prior),
                               "implies": [_ref(req, r) for r in implied.values()]},
            "links": links(req, f"roles/{prior['id']}/implies")}
    return json_response(body)


async def list_inferences(req: Request) -> Response:
    enforce(req, "identity:implied_roles")
    async with identity_of(req).db.reader() as conn:
        rules = await roles.all_inferences(conn)
        ids = set(rules) | {i for implied in rules.values() for i in implied}
        known = await roles.by_ids(conn, ids)
    inferences = [{"prior_role": _ref(req, known[prior]),
                   "implies": [_ref(req, known[i]) for i in implied]}
                  for prior, implied in rules.items()]
    return json_response({"role_inferences": inferences,
                          "links": links(req, "role_inferences")})
