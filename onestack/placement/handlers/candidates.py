"""GET /allocation_candidates (1.10+): the search is ``objects/candidates.find`` over
the in-process Store; the rendered answer is kept until the Store changes."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, raw_json_response
from onestack.placement.handlers.common import at_least, authorize, since, state
from onestack.placement.handlers.query import parse_candidates_query
from onestack.placement.objects.candidates import Candidate, find
from onestack.placement.objects.store import Provider, Store


@since(10)
async def list_candidates(req: Request) -> Response:
    authorize(req, "placement:allocation_candidates:list")
    placement = state(req)
    key = (req.scope.get("query_string", b""), str(req.version))
    cached = placement.cached_candidates(key)
    if cached is None:
        query = parse_candidates_query(req, placement.store)
        found = find(placement.store, query)
        requested = {rc for g in query.groups for rc in g.resources}
        cached = json.dumps(render(req, placement.store, found, requested),
                            separators=(",", ":")).encode()
        placement.remember_candidates(key, cached)
    return raw_json_response(cached)


def render(req: Request, store: Store, found: list[Candidate], requested: set[str]
           ) -> dict[str, Any]:
    requests = []
    for candidate in found:
        if at_least(req, 12):
            item: dict[str, Any] = {"allocations": {
                uuid: {"resources": resources}
                for uuid, resources in candidate.allocations.items()}}
            if at_least(req, 34):
                item["mappings"] = candidate.mappings
        else:
            item = {"allocations": [
                {"resource_provider": {"uuid": uuid}, "resources": resources}
                for uuid, resources in candidate.allocations.items()]}
        requests.append(item)
    summaries: dict[str, Any] = {}
    for candidate in found:
        uuids = ([p.uuid for p in store.tree(candidate.root)] if at_least(req, 29)
                 else [])
        uuids.extend(candidate.allocations)
        for uuid in uuids:
            if uuid not in summaries:
                summaries[uuid] = summary(req, store.providers[uuid], requested)
    return {"allocation_requests": requests, "provider_summaries": summaries}


def summary(req: Request, provider: Provider, requested: set[str]) -> dict[str, Any]:
    every = at_least(req, 27)
    resources = {rc: {"capacity": inv.capacity, "used": provider.usage.get(rc, 0)}
                 for rc, inv in provider.inventories.items() if every or rc in requested}
    body: dict[str, Any] = {"resources": resources}
    if at_least(req, 17):
        body["traits"] = sorted(provider.traits)
    if at_least(req, 29):
        body["parent_provider_uuid"] = provider.parent_uuid
        body["root_provider_uuid"] = provider.root_uuid
    return body
