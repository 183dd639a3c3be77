"""The identity service at run time: its database, keys, caches and policy, built
once at start and handed to every handler as ``req.app``."""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.identity import policies
from onestack.kernel.api.app import ServiceSpec
from onestack.kernel.auth import RevocationList, TokenValidator
from onestack.kernel.config import Config
from onestack.kernel.db import Database
from onestack.kernel.db.migrate import upgrade
from onestack.kernel.policy import Enforcer
from onestack.kernel.service import Runtime
from onestack.kernel.tokens import KeyRepository, TokenCodec

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Identity:
    config: Config
    db: Database
    keys: KeyRepository
    credential_keys: KeyRepository
    codec: TokenCodec
    revocations: RevocationList
    validator: TokenValidator
    policy: Enforcer
    base_url: str
    # user id -> keyed digest of the last password bcrypt accepted (never stored on disk)
    verified_passwords: dict[str, bytes] = field(default_factory=dict)
    # Bumped after every committed write: rendered token documents older than the
    # current generation (or than the cache lifetime) are rendered again.
    generation: int = 0
    # The newest revocation event row this process has taken in.
    revocation_cursor: int = 0
    token_documents: OrderedDict[tuple[str, bool], tuple[int, int, float, bytes]] = field(
        default_factory=OrderedDict)
    document_lifetime: float = 30.0
    # Rows the token path reads, kept until the next write or for cache_ttl seconds.
    cache_ttl: float = 5.0
    _read_cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _read_cache_key: tuple[int, float] = (-1, 0.0)

    def read_cache(self) -> dict[tuple[Any, ...], Any]:
        moment = time.monotonic()
        generation, since = self._read_cache_key
        if (generation != self.generation or moment - since > self.cache_ttl
                or len(self._read_cache) > 50000):
            self._read_cache.clear()
            self._read_cache_key = (self.generation, moment)
        return self._read_cache

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.writer() as conn:
            yield conn
        self.generation += 1

    def cached_document(self, token: str, nocatalog: bool) -> bytes | None:
        entry = self.token_documents.get((token, nocatalog))
        if entry is None:
            return None
        generation, revocations, stamp, document = entry
        if (generation != self.generation or revocations != self.revocations.generation
                or time.monotonic() - stamp > self.document_lifetime):
            return None
        return document

    def remember_document(self, token: str, nocatalog: bool, document: bytes) -> None:
        self.token_documents[(token, nocatalog)] = (
            self.generation, self.revocations.generation, time.monotonic(), document)
        if len(self.token_documents) > 10000:
            self.token_documents.popitem(last=False)

    @property
    def settings(self):
        return self.config.identity

    def url(self, path: str) -> str:
        return f"{self.base_url}/v3/{path}"


async def open_identity(config: Config, revocations: RevocationList | None = None
                        ) -> Identity:
    state = config.state_dir
    keys = KeyRepository(state / "fernet-keys", config.identity.fernet_max_active_keys)
    keys.initialize()
    credential_keys = KeyRepository(state / "credential-keys", 3)
    credential_keys.initialize()
    codec = TokenCodec(keys)
    revocations = revocations if revocations is not None else RevocationList()
    db = Database(config.database_url("identity"), echo=config.database.echo,
                  pool_size=config.database.pool_size)
    await upgrade(db, "identity", MIGRATIONS)
    enforcer = Enforcer(policies.DEFAULTS, config.api.policy_file or None)
    return Identity(config=config, db=db, keys=keys, credential_keys=credential_keys,
                    codec=codec, revocations=revocations,
                    validator=TokenValidator(codec, revocations), policy=enforcer,
                    base_url=config.public_url("identity"))


# -- the service module shape (onestack/kernel/service.py) -----------------------------
NAME = "identity"
CATALOG = (("identity", "/v3"),)


async def build(runtime: Runtime) -> Identity:
    from onestack.identity.bootstrap import bootstrap
    from onestack.identity.objects import revocations

    identity = await open_identity(runtime.config)
    await bootstrap(identity)
    await revocations.load(identity)
    runtime.validator = identity.validator
    return identity


def spec(identity: Identity) -> ServiceSpec:
    from onestack.identity.api import ROUTES

    return ServiceSpec(NAME, ROUTES, fault_style="keystone", auth_uri=identity.base_url + "/v3")


async def periodic(identity: Identity) -> None:
    from onestack.identity.manager import run_periodic

    await run_periodic(identity)


async def close(identity: Identity) -> None:
    await identity.db.close()
