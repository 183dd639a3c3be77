"""Identity's periodic work: take in revocation events other identity processes wrote
(several API processes may share one database), and forget old ones."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from onestack.identity.objects import revocations

if TYPE_CHECKING:
    from onestack.identity.service import Identity

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0
PRUNE_SECONDS = 3600.0


async def run_periodic(identity: Identity) -> None:
    last_prune = time.monotonic()
    while True:
        await asyncio.sleep(REFRESH_SECONDS)
        try:
            if await revocations.refresh(identity):
                identity.generation += 1  # drop cached reads that predate the revocation
            if time.monotonic() - last_prune > PRUNE_SECONDS:
                identity.revocations.prune(time.time() - identity.settings.token_expiration
                                           - identity.settings.allow_expired_window)
                last_prune = time.monotonic()
        except Exception:  # the loop must outlive a database hiccup
            log.exception("identity periodic task failed; retrying")
