"""Taking turns per project on engines with concurrent writers (PostgreSQL, MariaDB):
a transaction locks the project's row of ``project_lock`` for a name until it ends.
Quota checks lock the resource's name, so that concurrent creations count each
other; the default security group is made under its own lock, so it is made once.

On SQLite, writers take turns already (one at a time): nothing is locked.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.db import MYSQL_BACKENDS
from onestack.network.models import project_lock


async def take_turn(conn: AsyncConnection, project_id: str, name: str) -> None:
    """Hold the lock ``name`` of ``project_id`` until this transaction ends."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return
    query = sa.select(project_lock.c.project_id).where(project_lock.c.project_id == project_id,
                                                       project_lock.c.name == name)
    if await conn.scalar(query) is None:  # the first turn ever: make the row
        if dialect in MYSQL_BACKENDS:
            # Makes the row or, when another transaction made it first, waits for it
            # and locks it exclusively: no shared lock to upgrade later (which would
            # deadlock two transactions that both found the row missing).
            await conn.execute(mysql.insert(project_lock).values(project_id=project_id,
                                                                 name=name)
                               .on_duplicate_key_update(name=name))
            return
        await conn.execute(postgresql.insert(project_lock).values(project_id=project_id,
                                                                  name=name)
                           .on_conflict_do_nothing())
    await conn.scalar(query.with_for_update())
