"""Allocations of consumers against providers. A write replaces the allocations of
one or more consumers at once: the capacity check runs on the in-process Store under
the database's writer lock, and the commit is guarded in SQL by every touched
provider's generation (``UPDATE … WHERE generation = old``) and the consumer's, so a
lost race is a 409, never an overcommit."""

from __future__ import annotations

import time
from dataclasses import dataclass

from onestack.kernel.db import Database
from onestack.placement import models as m
from onestack.placement.objects import errors
from onestack.placement.objects.providers import bump
from onestack.placement.objects.store import Consumer, Store

UNSET = object()  # no consumer generation given (before 1.28, or optional since 1.37)


@dataclass
class ConsumerWrite:
    consumer: str
    allocations: dict[str, dict[str, int]]  # provider uuid -> class -> amount
    project_id: str
    user_id: str
    generation: object = UNSET  # None: a new consumer is expected
    consumer_type: str | None = None


def _check_consumer(store: Store, write: ConsumerWrite) -> Consumer | None:
    existing = store.consumers.get(write.consumer)
    if write.generation is UNSET:
        return existing
    if existing is None and write.generation is not None:
        raise errors.conflict(f"consumer generation conflict - expected {write.generation} "
                              "but got None", errors.CONCURRENT_UPDATE)
    if existing is not None and write.generation != existing.generation:
        raise errors.conflict(f"consumer generation conflict - expected "
                              f"{write.generation} but got {existing.generation}",
                              errors.CONCURRENT_UPDATE)
    return existing


def _check_capacity(store: Store, writes: list[ConsumerWrite]) -> set[str]:
    """Every provider the writes touch; 409 when a new amount does not fit."""
    delta: dict[str, dict[str, int]] = {}
    for write in writes:
        old = store.consumers.get(write.consumer)
        for uuid, resources in (old.allocations.items() if old else ()):
            for rc, amount in resources.items():
                delta.setdefault(uuid, {})[rc] = delta.get(uuid, {}).get(rc, 0) - amount
        for uuid, resources in write.allocations.items():
            provider = store.providers.get(uuid)
            if provider is None:
                raise errors.bad_request(f"Allocation for resource provider '{uuid}' that "
                                         "does not exist.")
            for rc, amount in resources.items():
                inventory = provider.inventories.get(rc)
                if inventory is None:
                    raise errors.conflict(f"Unable to allocate inventory: Inventory for "
                                          f"'{rc}' on resource provider '{uuid}' invalid.")
                if not (inventory.min_unit <= amount <= inventory.max_unit
                        and amount % inventory.step_size == 0):
                    raise errors.bad_request(
                        f"Unable to allocate inventory: Unable to allocate {amount} of {rc} "
                        f"on resource provider {uuid}: outside min_unit "
                        f"{inventory.min_unit}, max_unit {inventory.max_unit}, step_size "
                        f"{inventory.step_size}.")
                delta.setdefault(uuid, {})[rc] = delta.get(uuid, {}).get(rc, 0) + amount
    for uuid, changes in delta.items():
        provider = store.providers[uuid]
        for rc, change in changes.items():
            if change <= 0:
                continue
            used = provider.usage.get(rc, 0) + change
            if used > provider.inventories[rc].capacity:
                raise errors.conflict(
                    f"Unable to allocate inventory: Unable to create allocation for '{rc}' "
                    f"on resource provider '{uuid}'. The requested amount would exceed the "
                    "capacity.")
    return set(delta)


async def replace(db: Database, store: Store, writes: list[ConsumerWrite]) -> None:
    now = time.time()
    async with db.writer() as conn:
        consumers = [_check_consumer(store, w) for w in writes]
        touched = _check_capacity(store, writes)
        generations = {}
        for uuid in sorted(touched):
            generations[uuid] = await bump(conn, store.providers[uuid])
        ids = [w.consumer for w, c in zip(writes, consumers, strict=True) if c is not None]
        if ids:
            await conn.execute(m.allocation.delete().where(
                m.allocation.c.consumer_uuid.in_(ids)))
        keep = [w for w in writes if w.allocations]
        gone = [w.consumer for w in writes if not w.allocations]
        for write, existing in zip(writes, consumers, strict=True):
            if existing is not None:
                found = await conn.execute(
                    m.consumer.update()
                    .where(m.consumer.c.uuid == write.consumer,
                           m.consumer.c.generation == existing.generation)
                    .values(generation=existing.generation + 1, project_id=write.project_id,
                            user_id=write.user_id, consumer_type=write.consumer_type,
                            updated_at=now))
                if found.rowcount != 1:
                    raise errors.generation_conflict("consumer")
        new = [w for w, c in zip(writes, consumers, strict=True) if c is None and w.allocations]
        if new:
            await conn.execute(m.consumer.insert(), [
                {"uuid": w.consumer, "project_id": w.project_id, "user_id": w.user_id,
                 "consumer_type": w.consumer_type, "generation": 1, "created_at": now,
                 "updated_at": now} for w in new])
        rows = [{"consumer_uuid": w.consumer, "provider_id": store.providers[uuid].id,
                 "resource_class": rc, "used": amount}
                for w in keep for uuid, resources in w.allocations.items()
                for rc, amount in resources.items()]
        if rows:
            await conn.execute(m.allocation.insert(), rows)
        if gone:
            await conn.execute(m.consumer.delete().where(m.consumer.c.uuid.in_(gone)))
        _apply(store, writes, consumers, generations, now)


def _apply(store: Store, writes: list[ConsumerWrite], consumers: list[Consumer | None],
           generations: dict[str, int], now: float) -> None:
    """Mirror a committed write into the Store (still under the writer lock)."""
    for uuid, generation in generations.items():
        store.providers[uuid].generation = generation
    for write, existing in zip(writes, consumers, strict=True):
        if existing is not None:
            _release(store, existing)
        if not write.allocations:
            store.consumers.pop(write.consumer, None)
            continue
        consumer = existing or Consumer(write.consumer, write.project_id, write.user_id,
                                        write.consumer_type, 0, now, now)
        consumer.generation += 1
        consumer.project_id, consumer.user_id = write.project_id, write.user_id
        consumer.consumer_type, consumer.updated_at = write.consumer_type, now
        consumer.allocations = {u: dict(r) for u, r in write.allocations.items()}
        for uuid, resources in consumer.allocations.items():
            usage = store.providers[uuid].usage
            for rc, amount in resources.items():
                usage[rc] = usage.get(rc, 0) + amount
        store.consumers[write.consumer] = consumer
    for uuid in generations:  # only these providers' usages moved
        store.touch(uuid)


def _release(store: Store, consumer: Consumer) -> None:
    for uuid, resources in consumer.allocations.items():
        provider = store.providers.get(uuid)
        if provider is None:
            continue
        for rc, amount in resources.items():
            provider.usage[rc] = provider.usage.get(rc, 0) - amount


async def delete(db: Database, store: Store, consumer: str) -> None:
    existing = store.consumers.get(consumer)
    if existing is None or not existing.allocations:
        raise errors.not_found(f"No allocations for consumer '{consumer}'")
    await replace(db, store, [ConsumerWrite(consumer, {}, existing.project_id,
                                            existing.user_id)])

