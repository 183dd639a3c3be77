"""Resource providers, their inventories, traits and aggregates: SQL first, guarded
by the provider generation, then the in-process Store."""

from __future__ import annotations

import time
import uuid as uuidlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.db import Database, is_duplicate
from onestack.placement import models as m
from onestack.placement.objects import errors
from onestack.placement.objects.store import Inventory, Provider, Store


def get(store: Store, uuid: str) -> Provider:
    provider = store.providers.get(uuid)
    if provider is None:
        raise errors.not_found(f"No resource provider with uuid {uuid} found",
                               errors.PROVIDER_NOT_FOUND)
    return provider


async def bump(conn: AsyncConnection, provider: Provider, expected: int | None = None) -> int:
    """``UPDATE … SET generation = old + 1 WHERE generation = old``; 409 if it moved."""
    old = provider.generation if expected is None else expected
    found = await conn.execute(
        m.resource_provider.update()
        .where(m.resource_provider.c.id == provider.id,
               m.resource_provider.c.generation == old)
        .values(generation=old + 1, updated_at=time.time()))
    if found.rowcount != 1:
        raise errors.generation_conflict()
    return old + 1


def check_generation(provider: Provider, generation: object) -> None:
    if generation != provider.generation:
        raise errors.generation_conflict()


async def create(db: Database, store: Store, name: str, uuid: str | None,
                 parent: str | None) -> Provider:
    uuid = uuid or str(uuidlib.uuid4())
    if uuid in store.providers:
        raise errors.conflict(f"Conflicting resource provider uuid: {uuid} already exists.",
                              errors.DUPLICATE_NAME)
    if name in store.names:
        raise errors.conflict(f"Conflicting resource provider name: {name} already exists.",
                              errors.DUPLICATE_NAME)
    root = uuid
    if parent is not None:
        root = get_parent(store, parent).root_uuid
    now = time.time()
    try:
        async with db.writer() as conn:
            result = await conn.execute(m.resource_provider.insert().values(
                uuid=uuid, name=name, generation=0, root_uuid=root, parent_uuid=parent,
                created_at=now, updated_at=now))
    except sa.exc.IntegrityError as exc:
        if is_duplicate(exc):
            raise errors.conflict("Conflicting resource provider name or uuid.",
                                  errors.DUPLICATE_NAME) from None
        raise
    provider = Provider(result.inserted_primary_key[0], uuid, name, 0, root, parent, now, now)
    store.add_provider(provider)
    return provider


def get_parent(store: Store, parent: str) -> Provider:
    found = store.providers.get(parent)
    if found is None:
        raise errors.bad_request(f"parent provider UUID {parent} does not exist.")
    return found


async def update(db: Database, store: Store, provider: Provider, name: str,
                 parent: str | None, allow_reparent: bool) -> Provider:
    if name != provider.name and name in store.names:
        raise errors.conflict(f"Conflicting resource provider name: {name} already exists.",
                              errors.DUPLICATE_NAME)
    if parent != provider.parent_uuid:
        if provider.parent_uuid is not None and not allow_reparent:
            raise errors.bad_request("re-parenting a provider is not currently allowed.")
        if parent is not None:
            new_parent = get_parent(store, parent)
            if new_parent.root_uuid == provider.root_uuid and _is_descendant(
                    store, new_parent, provider.uuid):
                raise errors.bad_request("creating loop in the provider tree is not allowed.")
    root = provider.uuid if parent is None else store.providers[parent].root_uuid
    subtree = _subtree(store, provider.uuid)
    async with db.writer() as conn:
        generation = await bump(conn, provider)
        await conn.execute(m.resource_provider.update()
                           .where(m.resource_provider.c.id == provider.id)
                           .values(name=name, parent_uuid=parent))
        if root != provider.root_uuid:
            await conn.execute(m.resource_provider.update()
                               .where(m.resource_provider.c.uuid.in_(subtree))
                               .values(root_uuid=root))
    store.names.pop(provider.name, None)
    provider.name, provider.parent_uuid, provider.generation = name, parent, generation
    provider.updated_at = time.time()
    store.names[name] = provider.uuid
    for uuid in subtree:
        store.providers[uuid].root_uuid = root
    store.touch()
    return provider


def _subtree(store: Store, uuid: str) -> list[str]:
    found, stack = [], [uuid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(p.uuid for p in store.children(current))
    return found


def _is_descendant(store: Store, candidate: Provider, ancestor: str) -> bool:
    return candidate.uuid in _subtree(store, ancestor)


async def delete(db: Database, store: Store, provider: Provider) -> None:
    if any(provider.usage.values()):
        raise errors.conflict(f"Unable to delete resource provider {provider.uuid}: "
                              "Resource provider has allocations.", errors.PROVIDER_INUSE)
    if store.children(provider.uuid):
        raise errors.conflict(f"Unable to delete parent resource provider {provider.uuid}: "
                              "It has child resource providers.",
                              errors.CANNOT_DELETE_PARENT)
    async with db.writer() as conn:
        for table in (m.inventory, m.provider_trait, m.provider_aggregate):
            await conn.execute(table.delete().where(table.c.provider_id == provider.id))
        await conn.execute(m.resource_provider.delete().where(
            m.resource_provider.c.id == provider.id))
    store.drop_provider(provider)


async def set_inventories(db: Database, store: Store, provider: Provider,
                          inventories: dict[str, Inventory], generation: int) -> None:
    check_generation(provider, generation)
    for rc in inventories:
        if rc not in store.resource_classes:
            raise errors.bad_request(f"Unknown resource class in inventory for resource "
                                     f"provider {provider.uuid}: {rc}")
    removed = [rc for rc in provider.inventories if rc not in inventories]
    in_use = [rc for rc in removed if provider.usage.get(rc)]
    if in_use:
        raise errors.conflict(f"Inventory for '{', '.join(sorted(in_use))}' on resource "
                              f"provider '{provider.uuid}' in use.", errors.INVENTORY_INUSE)
    async with db.writer() as conn:
        new_generation = await bump(conn, provider, generation)
        await conn.execute(m.inventory.delete().where(m.inventory.c.provider_id == provider.id))
        if inventories:
            await conn.execute(m.inventory.insert(), [
                {"provider_id": provider.id, "resource_class": rc, **inv.as_dict()}
                for rc, inv in inventories.items()])
    provider.generation = new_generation
    store.set_inventories(provider, inventories)


async def set_traits(db: Database, store: Store, provider: Provider, traits: set[str],
                     generation: int) -> None:
    check_generation(provider, generation)
    unknown = sorted(t for t in traits if t not in store.traits)
    if unknown:
        raise errors.bad_request(f"No such trait(s): {', '.join(unknown)}")
    async with db.writer() as conn:
        provider.generation = await bump(conn, provider, generation)
        await conn.execute(m.provider_trait.delete().where(
            m.provider_trait.c.provider_id == provider.id))
        if traits:
            await conn.execute(m.provider_trait.insert(), [
                {"provider_id": provider.id, "trait": t} for t in traits])
    provider.traits = set(traits)
    store.touch()


async def set_aggregates(db: Database, store: Store, provider: Provider,
                         aggregates: set[str], generation: int | None) -> None:
    if generation is not None:
        check_generation(provider, generation)
    async with db.writer() as conn:
        provider.generation = await bump(conn, provider, generation)
        await conn.execute(m.provider_aggregate.delete().where(
            m.provider_aggregate.c.provider_id == provider.id))
        if aggregates:
            await conn.execute(m.provider_aggregate.insert(), [
                {"provider_id": provider.id, "aggregate": a} for a in aggregates])
    store.set_aggregates(provider, aggregates)
