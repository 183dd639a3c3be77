"""The in-process copy of Placement's rows, read by every GET and by the candidates
search. Loaded once at start; each write changes the database first (guarded by
generations) and this copy after the commit. ``version`` moves on every change so
that derived caches (rendered candidates) know when to forget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from onestack.kernel.db import Database
from onestack.placement import models as m
from onestack.placement.objects.standard import RESOURCE_CLASSES, TRAITS


@dataclass
class Inventory:
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = 2147483647
    step_size: int = 1
    allocation_ratio: float = 1.0

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "reserved": self.reserved, "min_unit": self.min_unit,
                "max_unit": self.max_unit, "step_size": self.step_size,
                "allocation_ratio": self.allocation_ratio}

    def fits(self, amount: int, used: int) -> bool:
        return (self.min_unit <= amount <= self.max_unit and amount % self.step_size == 0
                and used + amount <= self.capacity)


@dataclass
class Provider:
    id: int
    uuid: str
    name: str
    generation: int
    root_uuid: str
    parent_uuid: str | None
    created_at: float
    updated_at: float
    inventories: dict[str, Inventory] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    traits: set[str] = field(default_factory=set)
    aggregates: set[str] = field(default_factory=set)


@dataclass
class Consumer:
    uuid: str
    project_id: str
    user_id: str
    consumer_type: str | None
    generation: int
    created_at: float
    updated_at: float
    # provider uuid -> resource class -> used
    allocations: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Store:
    resource_classes: dict[str, tuple[float, float]] = field(default_factory=dict)
    traits: dict[str, tuple[float, float]] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    consumers: dict[str, Consumer] = field(default_factory=dict)
    # resource class -> uuids of the providers with an inventory of it
    by_class: dict[str, set[str]] = field(default_factory=dict)
    # aggregate -> uuids of its member providers
    by_aggregate: dict[str, set[str]] = field(default_factory=dict)
    version: int = 0
    # what changed at each version after ``log_start``: one provider's rows (inventory,
    # usage, aggregates), or None for a change that may move any answer (providers
    # added, removed or re-parented, traits, resource classes)
    log: list[str | None] = field(default_factory=list)
    log_start: int = 0

    def touch(self, uuid: str | None = None) -> None:
        self.version += 1
        self.log.append(uuid)
        if len(self.log) > 8192:
            del self.log[:4096]
            self.log_start += 4096

    def changed_since(self, version: int) -> set[str] | None:
        """The providers changed after ``version``; None: anything may have changed."""
        if version < self.log_start:
            return None
        changes = self.log[version - self.log_start:]
        if None in changes:
            return None
        return set(changes)  # type: ignore[arg-type]

    def children(self, parent: str) -> list[Provider]:
        return [p for p in self.providers.values() if p.parent_uuid == parent]

    def tree(self, root: str) -> list[Provider]:
        return [p for p in self.providers.values() if p.root_uuid == root]

    def add_provider(self, provider: Provider) -> None:
        self.providers[provider.uuid] = provider
        self.by_id[provider.id] = provider.uuid
        self.names[provider.name] = provider.uuid
        self.touch()

    def drop_provider(self, provider: Provider) -> None:
        del self.providers[provider.uuid]
        self.by_id.pop(provider.id, None)
        self.names.pop(provider.name, None)
        for members in self.by_class.values():
            members.discard(provider.uuid)
        for members in self.by_aggregate.values():
            members.discard(provider.uuid)
        self.touch()

    def set_inventories(self, provider: Provider, inventories: dict[str, Inventory]) -> None:
        for name in provider.inventories:
            self.by_class.get(name, set()).discard(provider.uuid)
        provider.inventories = inventories
        for name in inventories:
            self.by_class.setdefault(name, set()).add(provider.uuid)
        self.touch(provider.uuid)

    def set_aggregates(self, provider: Provider, aggregates: set[str]) -> None:
        for name in provider.aggregates:
            self.by_aggregate.get(name, set()).discard(provider.uuid)
        provider.aggregates = set(aggregates)
        for name in aggregates:
            self.by_aggregate.setdefault(name, set()).add(provider.uuid)
        self.touch(provider.uuid)


async def seed(db: Database) -> None:
    """Insert the standard resource classes and traits that are missing."""
    now = time.time()
    async with db.writer() as conn:
        for table, names in ((m.resource_class, RESOURCE_CLASSES), (m.trait, TRAITS)):
            have = set((await conn.execute(sa.select(table.c.name))).scalars())
            rows = [{"name": n, "created_at": now, "updated_at": now}
                    for n in names if n not in have]
            if rows:
                await conn.execute(table.insert(), rows)


async def load(db: Database) -> Store:
    store = Store()
    async with db.reader() as conn:
        for row in await conn.execute(sa.select(m.resource_class)):
            store.resource_classes[row.name] = (row.created_at, row.updated_at)
        for row in await conn.execute(sa.select(m.trait)):
            store.traits[row.name] = (row.created_at, row.updated_at)
        for row in await conn.execute(sa.select(m.resource_provider)):
            store.add_provider(Provider(row.id, row.uuid, row.name, row.generation,
                                        row.root_uuid, row.parent_uuid, row.created_at,
                                        row.updated_at))
        inventories: dict[str, dict[str, Inventory]] = {}
        for row in await conn.execute(sa.select(m.inventory)):
            inventories.setdefault(store.by_id[row.provider_id], {})[row.resource_class] = (
                Inventory(row.total, row.reserved, row.min_unit, row.max_unit,
                          row.step_size, row.allocation_ratio))
        for uuid, found in inventories.items():
            store.set_inventories(store.providers[uuid], found)
        for row in await conn.execute(sa.select(m.provider_trait)):
            store.providers[store.by_id[row.provider_id]].traits.add(row.trait)
        aggregates: dict[str, set[str]] = {}
        for row in await conn.execute(sa.select(m.provider_aggregate)):
            aggregates.setdefault(store.by_id[row.provider_id], set()).add(row.aggregate)
        for uuid, found_aggs in aggregates.items():
            store.set_aggregates(store.providers[uuid], found_aggs)
        for row in await conn.execute(sa.select(m.consumer)):
            store.consumers[row.uuid] = Consumer(row.uuid, row.project_id, row.user_id,
                                                 row.consumer_type, row.generation,
                                                 row.created_at, row.updated_at)
        for row in await conn.execute(sa.select(m.allocation)):
            uuid = store.by_id[row.provider_id]
            store.consumers[row.consumer_uuid].allocations.setdefault(uuid, {})[
                row.resource_class] = row.used
            usage = store.providers[uuid].usage
            usage[row.resource_class] = usage.get(row.resource_class, 0) + row.used
    return store
