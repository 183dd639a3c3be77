"""The image service at run time: its database, store and policy, built once at
start and handed to every handler as ``req.app``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from onestack.image import importer, policies
from onestack.image.models import image
from onestack.image.objects import images, tasks
from onestack.image.stores import build_store
from onestack.image.stores.base import Store
from onestack.kernel.api.app import ServiceSpec
from onestack.kernel.config import Config, ImageConfig
from onestack.kernel.db import Database
from onestack.kernel.db.migrate import upgrade
from onestack.kernel.policy import Enforcer
from onestack.kernel.service import Runtime

MIGRATIONS = Path(__file__).parent / "migrations"
CHECK_INTERVAL = 60  # seconds between two looks for abandoned and expired tasks
log = logging.getLogger("onestack.image")


@dataclass
class ImageService:
    config: Config
    db: Database
    store: Store
    policy: Enforcer
    base_url: str
    # The import tasks at work (onestack/image/importer.py), awaited at close.
    running: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def settings(self) -> ImageConfig:
        return self.config.image


async def open_image_service(config: Config) -> ImageService:
    db = Database(config.database_url("image"), echo=config.database.echo,
                  pool_size=config.database.pool_size)
    await upgrade(db, "image", MIGRATIONS)
    store = build_store(config)
    store.cleanup()
    await end_abandoned_tasks(db)
    # Uploads cut short by a stop: the data was never committed, the image waits again.
    async with db.writer() as conn:
        await conn.execute(sa.update(image).where(image.c.status.in_(("saving", "importing")),
                                                  image.c.location.is_(None))
                           .values(status="queued"))
    return ImageService(config=config, db=db, store=store,
                        policy=Enforcer(policies.DEFAULTS, config.api.policy_file or None),
                        base_url=config.public_url("image"))


async def end_abandoned_tasks(db: Database) -> None:
    """Import tasks whose process stopped without ending them failed; the images they
    were making go."""
    async with db.writer() as conn:
        for image_id in await tasks.abandoned(conn, importer.STOPPED, importer.SILENCE):
            row = await images.get(conn, image_id)
            if row is not None and row["status"] in ("queued", "saving"):
                await images.delete(conn, image_id)


# -- the service module shape (onestack/kernel/service.py) -----------------------------
NAME = "image"
CATALOG = (("image", ""),)


async def build(runtime: Runtime) -> ImageService:
    return await open_image_service(runtime.config)


def spec(state: ImageService) -> ServiceSpec:
    from onestack.image.api import ROUTES

    return ServiceSpec(NAME, ROUTES, fault_style="plain",
                       auth_uri=state.config.public_url("identity") + "/v3")


async def periodic(state: ImageService) -> None:
    """Serve the bus endpoints (manager.py) while abandoned tasks fail and finished
    tasks are kept TIME_TO_LIVE, then purged."""
    from onestack.image.manager import serve

    endpoints = asyncio.create_task(serve(state), name="image-endpoints")
    try:
        await look_after_tasks(state)
    finally:
        endpoints.cancel()
        await asyncio.gather(endpoints, return_exceptions=True)


async def look_after_tasks(state: ImageService) -> None:
    while True:
        await asyncio.sleep(CHECK_INTERVAL)
        try:
            await end_abandoned_tasks(state.db)
            async with state.db.writer() as conn:
                await tasks.purge_expired(conn)
        except Exception:
            log.exception("looking after the image tasks failed")


async def close(state: ImageService) -> None:
    for job in list(state.running):
        job.cancel()
    await asyncio.gather(*state.running, return_exceptions=True)
    await state.db.close()
