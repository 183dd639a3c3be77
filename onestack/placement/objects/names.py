"""Resource classes and traits: standard names seeded at start, CUSTOM_ names made by
users; each may be deleted only while nothing uses it."""

from __future__ import annotations

import time

from onestack.kernel.db import Database
from onestack.placement import models as m
from onestack.placement.objects import errors
from onestack.placement.objects.standard import RESOURCE_CLASSES, TRAITS, is_custom_name
from onestack.placement.objects.store import Store


def _check_custom(name: str, kind: str) -> None:
    if not is_custom_name(name):
        raise errors.bad_request(f"'{name}' is not a valid {kind} name: it must start with "
                                 "CUSTOM_ and use only A-Z, 0-9 and _.")


async def create_class(db: Database, store: Store, name: str) -> None:
    _check_custom(name, "resource class")
    if name in store.resource_classes:
        raise errors.conflict(f"Conflicting resource class already exists: {name}",
                              errors.DUPLICATE_NAME)
    now = time.time()
    async with db.writer() as conn:
        await conn.execute(m.resource_class.insert().values(name=name, created_at=now,
                                                            updated_at=now))
    store.resource_classes[name] = (now, now)
    store.touch()


def class_in_use(store: Store, name: str) -> bool:
    return bool(store.by_class.get(name))


async def delete_class(db: Database, store: Store, name: str) -> None:
    if name not in store.resource_classes:
        raise errors.not_found(f"No such resource class {name}.")
    if name in RESOURCE_CLASSES:
        raise errors.bad_request(f"Cannot delete standard resource class {name}: "
                                 "Cannot delete a standard resource class")
    if class_in_use(store, name):
        raise errors.conflict(f"Unable to delete resource class {name}: It is in use by "
                              "inventories of resource providers.")
    async with db.writer() as conn:
        await conn.execute(m.resource_class.delete().where(m.resource_class.c.name == name))
    del store.resource_classes[name]
    store.touch()


async def rename_class(db: Database, store: Store, name: str, new: str) -> None:
    if name not in store.resource_classes:
        raise errors.not_found(f"No such resource class {name}.")
    if name in RESOURCE_CLASSES:
        raise errors.bad_request(f"Cannot update standard resource class {name}")
    _check_custom(new, "resource class")
    if new in store.resource_classes:
        raise errors.conflict(f"Resource class already exists: {new}", errors.DUPLICATE_NAME)
    if class_in_use(store, name):
        raise errors.conflict(f"Unable to rename resource class {name}: it is in use.")
    async with db.writer() as conn:
        await conn.execute(m.resource_class.update().where(m.resource_class.c.name == name)
                           .values(name=new, updated_at=time.time()))
    store.resource_classes[new] = store.resource_classes.pop(name)
    store.touch()


async def ensure_trait(db: Database, store: Store, name: str) -> bool:
    """True when the trait was created."""
    if name in store.traits:
        return False
    _check_custom(name, "trait")
    now = time.time()
    async with db.writer() as conn:
        await conn.execute(m.trait.insert().values(name=name, created_at=now, updated_at=now))
    store.traits[name] = (now, now)
    store.touch()
    return True


async def delete_trait(db: Database, store: Store, name: str) -> None:
    if name not in store.traits:
        raise errors.not_found(f"No such trait(s): {name}.")
    if name in TRAITS or not name.startswith("CUSTOM_"):
        raise errors.bad_request(f"Cannot delete standard trait {name}.")
    if any(name in p.traits for p in store.providers.values()):
        raise errors.conflict(f"The trait {name} is in use by a resource provider.")
    async with db.writer() as conn:
        await conn.execute(m.trait.delete().where(m.trait.c.name == name))
    del store.traits[name]
    store.touch()
