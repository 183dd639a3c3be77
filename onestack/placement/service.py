"""The placement service at run time (port 8778): its database, the in-process copy
of its rows and the caches derived from it, handed to every handler as ``req.app``."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onestack.kernel.api.app import ServiceSpec
from onestack.kernel.config import Config
from onestack.kernel.db import Database
from onestack.kernel.db.migrate import upgrade
from onestack.kernel.policy import Enforcer
from onestack.kernel.service import Runtime
from onestack.placement import policies
from onestack.placement.objects.store import Store, load, seed

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Placement:
    config: Config
    db: Database
    store: Store
    policy: Enforcer
    # (query, microversion) -> allocation candidates answer (handlers/candidates.Answer),
    # refreshed there when the Store moved on
    candidates: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)

    def remember_candidates(self, key: tuple[Any, ...], answer: Any) -> None:
        self.candidates[key] = answer
        self.candidates.move_to_end(key)
        while len(self.candidates) > 32:
            self.candidates.popitem(last=False)


async def open_placement(config: Config) -> Placement:
    db = Database(config.database_url("placement"), echo=config.database.echo,
                  pool_size=config.database.pool_size)
    await upgrade(db, "placement", MIGRATIONS)
    await seed(db)
    store = await load(db)
    enforcer = Enforcer(policies.DEFAULTS, config.api.policy_file or None)
    return Placement(config=config, db=db, store=store, policy=enforcer)


# -- the service module shape (onestack/kernel/service.py) -----------------------------
NAME = "placement"
CATALOG = (("placement", ""),)


async def build(runtime: Runtime) -> Placement:
    return await open_placement(runtime.config)


def spec(state: Placement) -> ServiceSpec:
    from onestack.placement.api import ROUTES
    from onestack.placement.microversions import SPEC

    return ServiceSpec(NAME, ROUTES, fault_style="plain", microversions=SPEC,
                       auth_uri=state.config.public_url("identity") + "/v3")


async def periodic(state: Placement) -> None:
    from onestack.placement.manager import serve

    await serve(state)


async def close(state: Placement) -> None:
    await state.db.close()
