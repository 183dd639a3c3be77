"""Run a whole write again when the database chose it as a deadlock's victim.

MySQL and MariaDB report ER_LOCK_DEADLOCK; PostgreSQL reports deadlock_detected or
serialization_failure. The victim's transaction is gone, and running the request again
is the remedy (as OpenStack's retry_db_errors does)."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

log = logging.getLogger(__name__)
MYSQL_DEADLOCK = 1213
PG_RETRYABLE = ("40P01", "40001")
RETRIES = 5
P = ParamSpec("P")
T = TypeVar("T")


def is_deadlock(error: BaseException) -> bool:
    """Whether ``error`` or what it arose from (a failed savepoint rollback hides the
    deadlock behind it on MariaDB) is a deadlock."""
    chain: list[BaseException] = []
    found: BaseException | None = error
    while found is not None and found not in chain:
        chain.append(found)
        found = found.__cause__ or found.__context__
    for link in chain:
        original = getattr(link, "orig", None)
        if original is not None:
            code = original.args[0] if original.args else None
            sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
            if code == MYSQL_DEADLOCK or sqlstate in PG_RETRYABLE:
                return True
    return False


def retry_on_deadlock(call: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a whole write again (its transaction and all) when the engine chose it as
    a deadlock's victim, after a short random pause."""
    @functools.wraps(call)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(RETRIES - 1):
            try:
                return await call(*args, **kwargs)
            except sa.exc.DBAPIError as exc:
                if not is_deadlock(exc):
                    raise
                log.info("%s: a deadlock's victim, running it again", call.__qualname__)
            await asyncio.sleep(random.uniform(0, 0.02 * 2 ** attempt))
        return await call(*args, **kwargs)
    return run


