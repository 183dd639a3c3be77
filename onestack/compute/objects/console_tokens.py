"""Console auth tokens: what a remote console URL carries. A token is random, kept
only as its sha256, valid for ``compute.console_token_ttl`` seconds and good for one
connection: the console proxy consumes it. Rows are plain dicts; expired rows are
purged whenever a token is issued, and an instance's tokens go with the instance."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.compute import models as m

Token = dict[str, Any]
_table = m.console_auth_token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


async def issue(conn: AsyncConnection, *, instance_uuid: str, console_type: str,
                ttl: float, compute_host: str | None, host: str | None = None,
                port: int | None = None, path: str | None = None,
                internal_access_path: str | None = None) -> str:
    """A new token for the console of ``instance_uuid`` that listens at host and
    port (TCP) or path (a Unix socket on the compute host); answers the token,
    which is stored nowhere in the clear."""
    now = time.time()
    await purge_expired(conn, now)
    token = str(uuid.uuid4())
    await conn.execute(_table.insert().values(
        token_hash=token_hash(token), instance_uuid=instance_uuid,
        console_type=console_type, compute_host=compute_host, host=host, port=port,
        path=path, internal_access_path=internal_access_path, expires=now + ttl,
        created_at=now))
    return token


async def find(conn: AsyncConnection, token: str) -> Token | None:
    """The token's row while it is valid (not used, not expired)."""
    row = (await conn.execute(sa.select(_table).where(
        _table.c.token_hash == token_hash(token), _table.c.expires > time.time()))).first()
    return None if row is None else dict(row._mapping)


async def consume(conn: AsyncConnection, token: str, console_type: str) -> Token | None:
    """Use the token up: its row when it was valid for this kind of console (and no
    concurrent connection took it first), else None. A token of another kind stays."""
    found = await find(conn, token)
    if found is None or found["console_type"] != console_type:
        return None
    taken = await conn.execute(_table.delete().where(
        _table.c.token_hash == found["token_hash"]))
    return found if taken.rowcount == 1 else None


async def delete_for_instance(conn: AsyncConnection, instance_uuid: str) -> None:
    await conn.execute(_table.delete().where(_table.c.instance_uuid == instance_uuid))


async def purge_expired(conn: AsyncConnection, now: float | None = None) -> None:
    await conn.execute(_table.delete().where(
        _table.c.expires <= (time.time() if now is None else now)))
