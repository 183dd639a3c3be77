"""The data layer: one async engine per service database, reader and writer
transactions, SQLite tuned for a single busy process (WAL, foreign keys,
busy timeout, writers serialised and starting with BEGIN IMMEDIATE).

The same tables run on PostgreSQL (``postgresql+asyncpg://``) and MariaDB/MySQL
(``mysql+asyncmy://``), chosen by the URL alone. On those, writers run concurrently:
code that reads a row and writes it back must lock it (``with_for_update()``),
update atomically (``SET n = n + 1``) or compare a generation column, as Placement
does; the engine-specific settings are here so that models stay portable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import StaticPool

MYSQL_BACKENDS = ("mysql", "mariadb")
# A unique or primary key violation: PostgreSQL's SQLSTATE, MySQL/MariaDB's error numbers
# (ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME).
PG_UNIQUE_VIOLATION = "23505"
MYSQL_DUPLICATE_ERRORS = (1062, 1586)


@compiles(sa.Float, *MYSQL_BACKENDS)
def _float_is_double_on_mysql(type_: sa.Float, compiler: Any, **kw: Any) -> str:
    """MySQL's FLOAT is single precision (7 digits: a Unix time to within minutes);
    a plain ``Float`` column is a double everywhere else, so make it one here too."""
    if type_.precision is None:
        return "DOUBLE"
    return compiler.visit_float(type_, **kw)


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 8) -> None:
        self.url = sa.engine.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_mysql = self.url.get_backend_name() in MYSQL_BACKENDS
        if self.is_mysql and "charset" not in self.url.query:
            self.url = self.url.update_query_dict({"charset": "utf8mb4"})  # all of Unicode
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database or ""
            if database in ("", ":memory:"):
                options["poolclass"] = StaticPool
            else:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                options["pool_size"] = pool_size
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            options.update(pool_size=pool_size, pool_pre_ping=True, pool_recycle=3600)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        # SQLite has one writer at a time; queueing writers here beats spinning on
        # "database is locked" inside the driver.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            self._tune_sqlite()
        elif self.is_mysql:
            self._tune_mysql()

    def _tune_sqlite(self) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def on_begin(connection: Any) -> None:
            immediate = connection.info.pop("begin_immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def _tune_mysql(self) -> None:
        @event.listens_for(self.engine.sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Strict whatever the server's configuration: a value that does not fit
            # is an error, never silently truncated (as oslo.db does for OpenStack).
            cursor = dbapi_connection.cursor()
            cursor.execute("SET SESSION sql_mode = 'TRADITIONAL'")
            cursor.close()

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def lazy_reader(self) -> AsyncIterator[LazyConnection]:
        """A reader that checks out a connection only when a query runs: for paths that
        are usually answered from memory."""
        lazy = LazyConnection(self)
        try:
            yield lazy
        finally:
            await lazy.release()

    @contextlib.asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends and rolls back on error."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            conn.info["begin_immediate"] = True
            async with conn.begin():
                yield conn

    async def close(self) -> None:
        await self.engine.dispose()


def is_duplicate(error: Exception) -> bool:
    """True when an insert or update broke a unique constraint (any engine)."""
    if not isinstance(error, sa.exc.IntegrityError):
        return False
    original = error.orig
    code = original.args[0] if original is not None and original.args else None
    if isinstance(code, int):  # MySQL and MariaDB: (errno, message)
        return code in MYSQL_DUPLICATE_ERRORS
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate:  # PostgreSQL
        return bool(sqlstate == PG_UNIQUE_VIOLATION)
    text = str(original).lower()  # SQLite: "UNIQUE constraint failed: ..."
    return "unique" in text or "duplicate" in text


class LazyConnection:
    """Stands in for an AsyncConnection; connects on the first statement."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: AsyncConnection | None = None

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._db.engine.connect()
        return self._conn

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._connection()).execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._connection()).scalar(*args, **kwargs)

    async def commit(self) -> None:
        if self._conn is not None:
            await self._conn.commit()

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._connection()).run_sync(*args, **kwargs)

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
