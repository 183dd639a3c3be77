"""What every identity handler needs: the service state, policy, body parsing, and
Keystone's collection shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.validation import validate
from onestack.kernel.auth import RequestContext

if TYPE_CHECKING:
    from starlette.responses import Response

    from onestack.identity.service import Identity


def identity_of(req: Request) -> Identity:
    return req.app


def context_of(req: Request) -> RequestContext:
    assert req.context is not None  # the app authenticated the request
    return req.context


def enforce(req: Request, rule: str, target: dict[str, Any] | None = None) -> None:
    identity_of(req).policy.enforce(rule, context_of(req), target or {})


def allowed(req: Request, rule: str, target: dict[str, Any] | None = None) -> bool:
    return identity_of(req).policy.allowed(rule, context_of(req), target or {})


async def body_of(req: Request, key: str, schema: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """The entity under ``key`` in the JSON body, validated against ``schema``."""
    document = await req.json()
    if not isinstance(document, dict) or not isinstance(document.get(key), dict):
        raise BadRequest(f"Expecting to find {key} in the request body.")
    entity = document[key]
    if schema is not None:
        validate(schema, entity)
    return entity


def links(req: Request, path: str) -> dict[str, str]:
    return {"self": identity_of(req).url(path)}


def collection(req: Request, key: str, items: Iterable[Any],
               render: Callable[[Any], dict[str, Any]], *, truncated: bool = False
               ) -> Response:
    query = req.scope.get("query_string", b"").decode()
    self_url = identity_of(req).base_url + req.path + (f"?{query}" if query else "")
    body = {key: [render(item) for item in items],
            "links": {"self": self_url, "previous": None, "next": None}}
    headers = {"X-Truncated": "true"} if truncated else None
    return json_response(body, headers=headers)


def merge_extra(rendered: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Unknown attributes a client stored come back as top-level fields."""
    for key, value in (row.get("extra") or {}).items():
        rendered.setdefault(key, value)
    return rendered


def filter_value(req: Request, name: str) -> Any:
    """A list filter from the query string; ``enabled`` style booleans parsed."""
    value = req.query(name)
    if value is None or name != "enabled":
        return value
    return value.strip().lower() not in ("0", "false", "no", "off")
