"""What every compute handler shares: the state, the caller, policy, bodies, versions,
links, times and Nova's paging."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from onestack.kernel.api.faults import BadRequest, Forbidden
from onestack.kernel.api.request import Request
from onestack.kernel.api.validation import validate
from onestack.kernel.auth import RequestContext

if TYPE_CHECKING:
    from onestack.compute.service import Compute

T = TypeVar("T")


def state(req: Request) -> Compute:
    return req.app


def context_of(req: Request) -> RequestContext:
    assert req.context is not None
    return req.context


def bus_context(req: Request) -> dict[str, Any]:
    return context_of(req).to_dict()


def at_least(req: Request, minor: int) -> bool:
    return req.version is not None and req.version.minor >= minor


def target_of(req: Request, project_id: str | None = None,
              user_id: str | None = None) -> dict[str, Any]:
    ctx = context_of(req)
    return {"project_id": project_id if project_id is not None else ctx.project_id,
            "user_id": user_id if user_id is not None else ctx.user_id}


def allowed(req: Request, rule: str, target: dict[str, Any] | None = None) -> bool:
    return state(req).policy.allowed(rule, context_of(req),
                                     target if target is not None else target_of(req))


def authorize(req: Request, rule: str, target: dict[str, Any] | None = None) -> None:
    """The rule allows the caller (on ``target``, by default the caller's own project
    and user), or 403 as Nova words it."""
    if not allowed(req, rule, target):
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")


async def body(req: Request, schema: dict[str, Any]) -> Any:
    return validate(schema, await req.json())


def isotime(ts: float | None) -> str | None:
    """Nova's usual time format: ``2026-11-21T10:00:00Z``."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def isotime_micro(ts: float | None) -> str | None:
    """The format of keypairs, actions, services and migrations: no zone, microseconds."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}"


def base_url(req: Request) -> str:
    return state(req).base_url


def links(req: Request, collection: str, ident: str | int) -> list[dict[str, str]]:
    base = base_url(req)
    return [{"rel": "self", "href": f"{base}/v2.1/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/{collection}/{ident}"}]


def limit_of(req: Request) -> int | None:
    raw = req.query("limit")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Invalid input for query parameters limit. Value: {raw}. "
                         f"'{raw}' is not a 'integer'") from None
    if value < 0:
        raise BadRequest(f"Invalid input for query parameters limit. Value: {raw}. "
                         f"{raw} is less than the minimum of 0")
    return value


def page(req: Request, items: Sequence[T], key: str, max_limit: int = 1000
         ) -> tuple[list[T], bool]:
    """Nova's paging over already sorted items: ``marker`` (the key of the last item
    seen; unknown: 400) and ``limit``; answers the page and whether more follow."""
    marker = req.query("marker")
    start = 0
    if marker is not None:
        for index, item in enumerate(items):
            value = item[key] if isinstance(item, dict) else getattr(item, key)
            if str(value) == marker:
                start = index + 1
                break
        else:
            raise BadRequest(f"marker [{marker}] not found")
    limit = limit_of(req)
    limit = max_limit if limit is None else min(limit, max_limit)
    chosen = list(items[start:start + limit])
    return chosen, start + limit < len(items)


def next_link(req: Request, collection: str, last: str) -> list[dict[str, str]]:
    """The ``*_links`` of a page that is not the last one."""
    from urllib.parse import urlencode

    query = [(k, v) for k, v in req.query_items if k != "marker"] + [("marker", last)]
    return [{"rel": "next",
             "href": f"{base_url(req)}/v2.1/{collection}?{urlencode(query)}"}]
