"""What every placement handler shares: the state, policy, bodies, versions and the
rendering of providers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from onestack.kernel.api.faults import ApiError, NotFound
from onestack.kernel.api.request import Request
from onestack.kernel.api.validation import validate
from onestack.placement.objects import errors
from onestack.placement.objects.store import Provider

if TYPE_CHECKING:
    from onestack.placement.service import Placement

Handler = Callable[[Request], Awaitable[Any]]


def state(req: Request) -> Placement:
    return req.app


def at_least(req: Request, minor: int) -> bool:
    return req.version is not None and req.version.minor >= minor


def since(minor: int) -> Callable[[Handler], Handler]:
    """A handler that exists from 1.<minor>: 404 before, as upstream answers."""
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(req: Request) -> Any:
            if not at_least(req, minor):
                raise NotFound("The resource could not be found.")
            return await handler(req)
        return checked
    return wrap


def with_codes(handler: Handler) -> Handler:
    """errors[].code from 1.23 (placement.undefined_code when none was given)."""
    @functools.wraps(handler)
    async def coded(req: Request) -> Any:
        try:
            return await handler(req)
        except ApiError as error:
            if at_least(req, 23):
                error.details.setdefault("code", errors.UNDEFINED)
            else:
                error.details.pop("code", None)
            raise
    return coded


def authorize(req: Request, rule: str) -> None:
    assert req.context is not None
    state(req).policy.enforce(rule, req.context)


async def body(req: Request, schema: dict[str, Any]) -> Any:
    return validate(schema, await req.json())


def provider_links(provider: Provider, req: Request) -> list[dict[str, str]]:
    base = f"/resource_providers/{provider.uuid}"
    links = [{"rel": "self", "href": base},
             {"rel": "inventories", "href": base + "/inventories"},
             {"rel": "usages", "href": base + "/usages"}]
    if at_least(req, 1):
        links.append({"rel": "aggregates", "href": base + "/aggregates"})
    if at_least(req, 6):
        links.append({"rel": "traits", "href": base + "/traits"})
    if at_least(req, 11):
        links.append({"rel": "allocations", "href": base + "/allocations"})
    return links


def render_provider(provider: Provider, req: Request) -> dict[str, Any]:
    body: dict[str, Any] = {"uuid": provider.uuid, "name": provider.name,
                            "generation": provider.generation,
                            "links": provider_links(provider, req)}
    if at_least(req, 14):
        body["parent_provider_uuid"] = provider.parent_uuid
        body["root_provider_uuid"] = provider.root_uuid
    return body
