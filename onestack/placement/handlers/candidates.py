"""GET /allocation_candidates (1.10+): the search is ``objects/candidates.find`` over
the in-process Store; the rendered answer is kept per query and version.

When the answer is one candidate per provider (one request group, no trees nor
sharing providers: the common case), it is kept as pre-serialised fragments per
provider, and a write refreshes only the providers it changed (``Store.changed_since``)
instead of searching and rendering everything again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from onestack.kernel.api.request import Request, raw_json_response
from onestack.placement.handlers.common import at_least, authorize, since, state
from onestack.placement.handlers.query import parse_candidates_query
from onestack.placement.objects.candidates import (
    Candidate,
    Query,
    RequestGroup,
    find,
    provider_matches,
    single_provider_group,
)
from onestack.placement.objects.store import Provider, Store

HEAD, MIDDLE, TAIL = b'{"allocation_requests":[', b'],"provider_summaries":{', b"}}"


@dataclass
class PerProvider:
    """The answer of a single-provider query: uuid -> (id, request, summary) bytes."""
    group: RequestGroup
    limit: int | None
    requested: set[str]
    rows: dict[str, tuple[int, bytes, bytes]]
    order: list[str]


@dataclass
class Answer:
    version: int
    body: bytes
    per_provider: PerProvider | None = None


@since(10)
async def list_candidates(req: Request) -> Response:
    authorize(req, "placement:allocation_candidates:list")
    placement = state(req)
    store = placement.store
    key = (req.scope.get("query_string", b""), str(req.version))
    answer = placement.candidates.get(key)
    if answer is not None and answer.version != store.version:
        changed = store.changed_since(answer.version)
        if answer.per_provider is not None and changed is not None:
            _refresh(req, store, answer, changed)
        else:
            answer = None
    if answer is None:
        answer = _compute(req, store, parse_candidates_query(req, store))
        placement.remember_candidates(key, answer)
    return raw_json_response(answer.body)


def _compute(req: Request, store: Store, query: Query) -> Answer:
    requested = {rc for g in query.groups for rc in g.resources}
    group = single_provider_group(store, query)
    if group is None:
        found = find(store, query)
        body = json.dumps(render(req, store, found, requested), separators=(",", ":"))
        return Answer(store.version, body.encode())
    providers = sorted((p for p in store.providers.values()
                        if provider_matches(store, p, group)), key=lambda p: p.id)
    rows = {p.uuid: _fragments(req, p, group, requested) for p in providers}
    per = PerProvider(group, query.limit, requested, rows, [p.uuid for p in providers])
    return Answer(store.version, _assemble(per), per)


def _refresh(req: Request, store: Store, answer: Answer, changed: set[str]) -> None:
    per = answer.per_provider
    assert per is not None
    moved = False
    for uuid in changed:
        provider = store.providers.get(uuid)
        if provider is not None and provider_matches(store, provider, per.group):
            moved = moved or uuid not in per.rows
            per.rows[uuid] = _fragments(req, provider, per.group, per.requested)
        elif per.rows.pop(uuid, None) is not None:
            moved = True
    if moved:
        per.order = sorted(per.rows, key=lambda u: per.rows[u][0])
    answer.body, answer.version = _assemble(per), store.version


def _fragments(req: Request, provider: Provider, group: RequestGroup, requested: set[str]
               ) -> tuple[int, bytes, bytes]:
    candidate = Candidate({provider.uuid: dict(group.resources)},
                          {group.suffix: [provider.uuid]}, provider.uuid)
    request = json.dumps(request_item(req, candidate), separators=(",", ":"))
    summary_ = json.dumps({provider.uuid: summary(req, provider, requested)},
                          separators=(",", ":"))
    return provider.id, request.encode(), summary_[1:-1].encode()


def _assemble(per: PerProvider) -> bytes:
    order = per.order if per.limit is None else per.order[:per.limit]
    rows = per.rows
    chosen = [rows[u] for u in order]
    return b"".join((HEAD, b",".join([r[1] for r in chosen]), MIDDLE,
                     b",".join([r[2] for r in chosen]), TAIL))


def request_item(req: Request, candidate: Candidate) -> dict[str, Any]:
    if at_least(req, 12):
        item: dict[str, Any] = {"allocations": {
            uuid: {"resources": resources}
            for uuid, resources in candidate.allocations.items()}}
        if at_least(req, 34):
            item["mappings"] = candidate.mappings
        return item
    return {"allocations": [
        {"resource_provider": {"uuid": uuid}, "resources": resources}
        for uuid, resources in candidate.allocations.items()]}


def render(req: Request, store: Store, found: list[Candidate], requested: set[str]
           ) -> dict[str, Any]:
    requests = [request_item(req, candidate) for candidate in found]
    trees: dict[str, list[str]] = {}
    if at_least(req, 29):
        for provider in store.providers.values():
            trees.setdefault(provider.root_uuid, []).append(provider.uuid)
    summaries: dict[str, Any] = {}
    for candidate in found:
        uuids = list(trees.get(candidate.root, ()))
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
