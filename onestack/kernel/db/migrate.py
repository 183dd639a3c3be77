"""Apply a service's Alembic migrations at start, without an env.py per service.

Each service keeps its revisions in ``<service>/migrations/versions`` and its own
version table, so services can share one database or use one each.

Several processes may start at once on one PostgreSQL or MariaDB database (the
distributed mode); a database lock per service lets one of them migrate while the
others wait, then find the schema at head.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from onestack.kernel.db import MYSQL_BACKENDS, Database

LOCK_TIMEOUT_SECONDS = 300


class MigrationLockTimeout(RuntimeError):
    pass


def _script_directory(migrations: Path) -> tuple[Config, ScriptDirectory]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config, ScriptDirectory.from_config(config)


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


@contextlib.contextmanager
def _migration_lock(connection: Connection, service: str) -> Iterator[None]:
    """Serialise the migrations of one service across processes (a no-op on SQLite,
    whose writers are serialised already)."""
    name = f"onestack-migrate-{service}"
    backend = connection.dialect.name
    if backend == "postgresql":
        # A transaction lock: released by the commit or rollback of this upgrade.
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield
    elif backend in MYSQL_BACKENDS:
        # A session lock (DDL commits implicitly on MySQL): released explicitly.
        got = connection.execute(sa.text("SELECT GET_LOCK(:name, :timeout)"),
                                 {"name": name, "timeout": LOCK_TIMEOUT_SECONDS}).scalar()
        if got != 1:
            raise MigrationLockTimeout(f"another process has been migrating {service} for "
                                       f"more than {LOCK_TIMEOUT_SECONDS} s")
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
    else:
        yield


def _upgrade(connection: Connection, service: str, migrations: Path) -> None:
    with _migration_lock(connection, service):
        _run_migrations(connection, service, migrations)


def _run_migrations(connection: Connection, service: str, migrations: Path) -> None:

    config, script = _script_directory(migrations)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("head", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="head") as env:
        env.configure(connection=connection, version_table=version_table(service),
                      transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()


def newest_revision(migrations: Path) -> str | None:
    """Revision ids are the sequential prefixes of the files (scripts/new_migration.py
    names them so), which tells the head without loading Alembic."""
    prefixes = sorted(p.name.split("_", 1)[0]
                      for p in (migrations / "versions").glob("[0-9]*_*.py"))
    return prefixes[-1] if prefixes else None


async def is_current(db: Database, service: str, migrations: Path) -> bool:
    try:
        async with db.reader() as conn:
            found = await conn.execute(sa.text(
                f"SELECT version_num FROM {version_table(service)}"))
            versions = list(found.scalars())
    except sa.exc.DBAPIError:  # no version table yet
        return False
    return versions == [newest_revision(migrations)]


async def upgrade(db: Database, service: str, migrations: Path) -> None:
    # Most starts find the schema current: skip importing Alembic (time and memory).
    if await is_current(db, service, migrations):
        return
    async with db.writer() as conn:
        await conn.run_sync(_upgrade, service, migrations)
