"""Placement's bus endpoints: what compute agents and the scheduler call (through
rpcapi.py) instead of the HTTP API, so that a claim in the all-in-one cloud is one
in-process call. Every method goes through the same objects as the HTTP handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onestack.kernel.api.faults import ApiError
from onestack.kernel.bus import Target, connect
from onestack.placement.objects import allocations, candidates, names, providers
from onestack.placement.objects.allocations import ConsumerWrite
from onestack.placement.objects.candidates import Query, RequestGroup, single_provider_group
from onestack.placement.objects.store import Inventory, Provider

if TYPE_CHECKING:
    from onestack.placement.service import Placement

TOPIC = "placement"
WEIGHED = ["VCPU", "MEMORY_MB", "DISK_GB"]


def _free(provider: Provider) -> list[int]:
    result = []
    for rc in WEIGHED:
        inv = provider.inventories.get(rc)
        result.append(0 if inv is None else inv.capacity - provider.usage.get(rc, 0))
    return result


class PlacementEndpoints:
    """Served at Target("placement"); every method takes the caller's context first."""

    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        # query key -> (store version, provider uuid -> free per WEIGHED class)
        self.fits: dict[tuple[Any, ...], tuple[int, dict[str, list[int]]]] = {}

    async def ensure_provider(self, ctx: dict[str, Any], uuid: str, name: str,
                              inventories: dict[str, dict[str, Any]],
                              traits: list[str] | None = None) -> int:
        """Create the provider if missing and make its inventories (and traits, when
        given) what the caller reports; answers its generation."""
        state = self.placement
        store = state.store
        provider = store.providers.get(uuid)
        if provider is None:
            provider = await providers.create(state.db, store, name, uuid, None)
        wanted = {rc: Inventory(**inv) for rc, inv in inventories.items()}
        if {rc: inv.as_dict() for rc, inv in provider.inventories.items()} != \
                {rc: inv.as_dict() for rc, inv in wanted.items()}:
            await providers.set_inventories(state.db, store, provider, wanted,
                                            provider.generation)
        if traits is not None and set(traits) != provider.traits:
            for trait in traits:
                await names.ensure_trait(state.db, store, trait)
            await providers.set_traits(state.db, store, provider, set(traits),
                                       provider.generation)
        return provider.generation

    async def delete_provider(self, ctx: dict[str, Any], uuid: str) -> None:
        provider = self.placement.store.providers.get(uuid)
        if provider is not None:
            await providers.delete(self.placement.db, self.placement.store, provider)

    async def set_aggregates(self, ctx: dict[str, Any], uuid: str,
                             aggregates: list[str]) -> None:
        provider = self.placement.store.providers.get(uuid)
        if provider is not None and set(aggregates) != provider.aggregates:
            await providers.set_aggregates(self.placement.db, self.placement.store,
                                           provider, set(aggregates), None)

    async def candidates(self, ctx: dict[str, Any], resources: dict[str, int],
                         required: list[str] | None = None,
                         forbidden: list[str] | None = None,
                         member_of: list[list[str]] | None = None,
                         in_tree: str | None = None,
                         limit: int | None = None) -> dict[str, Any]:
        """Candidates for one unnumbered request group, compact for the wire:
        ``{"classes": [...], "rows": [[root, free per class], ...], "allocations":
        {root: allocation}}``, where a root missing from ``allocations`` takes all of
        ``resources`` from itself (the common case). ``free``: what the root provider
        has left of each class (the scheduler's weighers read it)."""
        group = RequestGroup(resources=dict(resources),
                             required=[{t} for t in required or ()],
                             forbidden=set(forbidden or ()),
                             member_of=[set(any_of) for any_of in member_of or ()],
                             in_tree=in_tree)
        store = self.placement.store
        query = Query([group], limit=limit)
        if single_provider_group(store, query) is None:
            found = candidates.find(store, query)
            rows = [[c.root, *_free(store.providers[c.root])] for c in found]
            return {"classes": WEIGHED, "rows": rows,
                    "allocations": {c.root: c.allocations for c in found}}
        fits = self._fitting(store, group)
        rows = [[uuid, *free] for uuid, free in fits.items()]
        return {"classes": WEIGHED, "rows": rows if limit is None else rows[:limit],
                "allocations": {}}

    def _fitting(self, store: Any, group: RequestGroup) -> dict[str, list[int]]:
        """Providers that alone satisfy ``group``, with what they have free; kept per
        query and refreshed provider by provider after writes (Store.changed_since)."""
        key = (tuple(sorted(group.resources.items())),
               tuple(sorted(tuple(sorted(s)) for s in group.required)),
               tuple(sorted(group.forbidden)),
               tuple(sorted(tuple(sorted(s)) for s in group.member_of)), group.in_tree)
        cached = self.fits.get(key)
        changed = store.changed_since(cached[0]) if cached is not None else None
        if cached is None or changed is None:
            fits = {p.uuid: _free(p) for p in sorted(store.providers.values(),
                                                      key=lambda p: p.id)
                    if candidates.provider_matches(store, p, group)}
        else:
            fits = cached[1]
            for uuid in changed:
                provider = store.providers.get(uuid)
                if provider is not None and candidates.provider_matches(store, provider,
                                                                        group):
                    fits[uuid] = _free(provider)
                else:
                    fits.pop(uuid, None)
        self.fits[key] = (store.version, fits)
        if len(self.fits) > 64:
            self.fits.pop(next(iter(self.fits)))
        return fits

    async def claim(self, ctx: dict[str, Any], consumer: str,
                    allocations_by_provider: dict[str, dict[str, int]], project_id: str,
                    user_id: str, replace_existing: bool = False) -> bool:
        """Allocate for a consumer; False when capacity or a generation was lost to a
        concurrent writer (the scheduler then tries its next candidate)."""
        store = self.placement.store
        existing = store.consumers.get(consumer)
        write = ConsumerWrite(consumer, allocations_by_provider, project_id, user_id,
                              consumer_type="INSTANCE")
        if existing is not None and not replace_existing:
            return False
        if existing is not None:
            write.generation = existing.generation
        else:
            write.generation = None
        try:
            await allocations.replace(self.placement.db, store, [write])
        except ApiError as error:
            if error.status == 409:
                return False
            raise
        return True

    async def get_allocations(self, ctx: dict[str, Any],
                              consumer: str) -> dict[str, dict[str, int]]:
        found = self.placement.store.consumers.get(consumer)
        return {} if found is None else {uuid: dict(res)
                                         for uuid, res in found.allocations.items()}

    async def move_allocations(self, ctx: dict[str, Any], source: str, to: str) -> None:
        """Hand the allocations of ``source`` to ``to`` (a migration record holds a
        server's old host while it moves), replacing what ``to`` had."""
        target = to
        store = self.placement.store
        moving = store.consumers.get(source)
        if moving is None:
            return
        writes = [ConsumerWrite(target, {u: dict(r) for u, r in moving.allocations.items()},
                                moving.project_id, moving.user_id,
                                consumer_type=moving.consumer_type),
                  ConsumerWrite(source, {}, moving.project_id, moving.user_id)]
        had = store.consumers.get(target)
        writes[0].generation = had.generation if had is not None else None
        writes[1].generation = moving.generation
        await allocations.replace(self.placement.db, store, writes)

    async def delete_allocations(self, ctx: dict[str, Any], consumer: str) -> None:
        if self.placement.store.consumers.get(consumer) is not None:
            try:
                await allocations.delete(self.placement.db, self.placement.store, consumer)
            except ApiError as error:
                if error.status != 404:
                    raise

    async def usages(self, ctx: dict[str, Any], uuid: str) -> dict[str, int]:
        provider = self.placement.store.providers.get(uuid)
        return {} if provider is None else dict(provider.usage)


async def serve(placement: Placement) -> None:
    import asyncio

    bus = connect(placement.config.bus.url, exchange=placement.config.bus.exchange)
    server = await bus.serve(Target(TOPIC), PlacementEndpoints(placement))
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
        await bus.close()
