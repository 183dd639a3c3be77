"""``/os-keypairs``: a user's key pairs; admins reach another user's with ``user_id``
(2.10), lists page by name (2.35), and from 2.92 keys are imported only."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from onestack.compute.handlers.common import (
    at_least,
    authorize,
    body,
    context_of,
    isotime_micro,
    limit_of,
    next_link,
    state,
)
from onestack.compute.handlers.params import MAX_LIMIT, strict_query
from onestack.compute.objects import keypairs, quotas
from onestack.compute.objects.keypairs import Keypair
from onestack.compute.schemas import keypairs as schemas
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable

RULE = "os_compute_api:os-keypairs:"


def _user(req: Request, rule: str) -> str:
    """The user whose key pairs are meant (another one's from 2.10, by ``user_id``),
    once the caller may act on them."""
    user_id = context_of(req).user_id
    if at_least(req, 10) and req.query("user_id"):
        user_id = req.query("user_id") or user_id
    authorize(req, RULE + rule, {"user_id": user_id})
    return user_id


def render_listed(req: Request, key: Keypair) -> dict[str, Any]:
    out = {"name": key["name"], "public_key": key["public_key"],
           "fingerprint": key["fingerprint"]}
    if at_least(req, 2):
        out["type"] = key["type"]
    return {"keypair": out}


def render(req: Request, key: Keypair) -> dict[str, Any]:
    out = {"name": key["name"], "public_key": key["public_key"],
           "fingerprint": key["fingerprint"], "user_id": key["user_id"],
           "created_at": isotime_micro(key["created_at"]),
           "updated_at": isotime_micro(key["updated_at"]), "deleted_at": None,
           "deleted": False, "id": key["id"]}
    if at_least(req, 2):
        out["type"] = key["type"]
    return out


async def list_keypairs(req: Request) -> Response:
    params = ["user_id"] if at_least(req, 10) else []
    strict_query(req, params + (["limit", "marker"] if at_least(req, 35) else []))
    user_id = _user(req, "index")
    async with state(req).db.reader() as conn:
        found = await keypairs.list_for_user(conn, user_id)
    more = False
    if at_least(req, 35):
        marker = req.query("marker")
        if marker is not None:
            names = [k["name"] for k in found]
            if marker not in names:
                raise BadRequest(f"Marker {marker} could not be found.")
            found = found[names.index(marker) + 1:]
        limit = min(MAX_LIMIT if (given := limit_of(req)) is None else given, MAX_LIMIT)
        found, more = found[:limit], len(found) > limit
    result: dict[str, Any] = {"keypairs": [render_listed(req, k) for k in found]}
    if more and found:
        result["keypairs_links"] = next_link(req, "os-keypairs", found[-1]["name"])
    return json_response(result)


async def show(req: Request) -> Response:
    strict_query(req, ["user_id"] if at_least(req, 10) else [])
    user_id = _user(req, "show")
    async with state(req).db.reader() as conn:
        key = await keypairs.get(conn, user_id, req.params["name"])
    return json_response({"keypair": render(req, key)})


def _check_name(req: Request, name: str) -> None:
    if name != name.strip() or not name.isprintable():
        raise BadRequest("An invalid 'name' value was provided. The name must be: printable "
                         "characters. Can not start or end with whitespace.")
    allowed = schemas.NAME_CHARS_292 if at_least(req, 92) else schemas.NAME_CHARS
    if any(c not in allowed for c in name):
        pattern = r"^[_\-\@\. a-zA-Z0-9]+$" if at_least(req, 92) else r"^[_\- a-zA-Z0-9]+$"
        raise BadRequest(f"Invalid input for field/attribute name. Value: {name}. "
                         f"'{name}' does not match '{pattern}'")


async def create(req: Request) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = (await body(req, schemas.create(minor)))["keypair"]
    name = data["name"]
    _check_name(req, name)
    ctx = context_of(req)
    user_id = data.get("user_id") or ctx.user_id
    authorize(req, RULE + "create", {"user_id": user_id})
    key_type = data.get("type", keypairs.SSH)
    private_key = None
    if "public_key" in data:
        public_key = data["public_key"]
        print_ = keypairs.fingerprint(public_key, key_type)
    else:
        private_key, public_key, print_ = keypairs.generate(user_id, key_type)
    compute = state(req)
    project_id = ctx.project_id or ""
    async with compute.db.writer() as conn:
        await quotas.check(conn, compute.settings, project_id, user_id, {"key_pairs": 1})
        key = await keypairs.create(conn, user_id, name, key_type, public_key, print_)
    # concurrent creations each passed the check before the others committed: as Nova,
    # count again now that they have, and take this one back if over
    over = None
    async with compute.db.writer() as conn:
        try:
            await quotas.check(conn, compute.settings, project_id, user_id, {"key_pairs": 0})
        except quotas.OverQuota as exc:
            over = exc
            await keypairs.delete(conn, user_id, name)
    if over is not None:
        raise over
    out: dict[str, Any] = {"name": key["name"], "public_key": key["public_key"],
                           "fingerprint": key["fingerprint"], "user_id": key["user_id"]}
    if at_least(req, 2):
        out["type"] = key["type"]
    if private_key is not None:
        out["private_key"] = private_key
    return json_response({"keypair": out}, status=201 if at_least(req, 2) else 200)


async def delete(req: Request) -> Response:
    strict_query(req, ["user_id"] if at_least(req, 10) else [])
    user_id = _user(req, "delete")
    async with state(req).db.writer() as conn:
        await keypairs.delete(conn, user_id, req.params["name"])
    return empty_response(204 if at_least(req, 2) else 202)


ROUTES: RouteTable = {
    "/os-keypairs": {"GET": list_keypairs, "POST": create},
    "/os-keypairs/{name}": {"GET": show, "DELETE": delete},
}
