"""The data layer on PostgreSQL and MariaDB, chosen by URL alone: transactions,
concurrent writers, duplicate detection, portable column types and migrations.

Each engine is a private server started once per session (``tests/engines.py``);
each test gets a database of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from onestack.identity import models as identity_models
from onestack.identity.service import MIGRATIONS as IDENTITY_MIGRATIONS
from onestack.kernel.db import Database, is_duplicate
from onestack.kernel.db.migrate import upgrade, version_table
from tests import engines

WRITERS = 30

metadata = sa.MetaData()
parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("name", sa.String(20), unique=True),
                  sa.Column("count", sa.Integer, nullable=False, default=0),
                  sa.Column("generation", sa.Integer, nullable=False, default=0))
child = sa.Table("child", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")))
# Reserved words as names, a boolean in a primary key, JSON and float timestamps: what
# the service models use.
user = sa.Table("user", metadata, sa.Column("id", sa.String(64), primary_key=True),
                sa.Column("inherited", sa.Boolean, primary_key=True),
                sa.Column("option", sa.String(255), nullable=False),
                sa.Column("extra", sa.JSON, nullable=False),
                sa.Column("created_at", sa.Float, nullable=False))
group = sa.Table("group", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("user_id", sa.String(64), nullable=False))
limit = sa.Table("limit", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("group_id", sa.Integer,
                           sa.ForeignKey("group.id", ondelete="CASCADE"), nullable=False))


@pytest.fixture(scope="session", params=engines.ENGINES)
def server(request: pytest.FixtureRequest) -> engines.DatabaseServer:
    return engines.server(request.param, request.config)


@pytest.fixture
async def url(server: engines.DatabaseServer) -> AsyncIterator[str]:
    async with server.scratch_database() as scratch:
        yield scratch


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = Database(url)
    async with database.writer() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.close()


async def count(db: Database, table: sa.Table) -> int:
    async with db.reader() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


async def test_writer_commits_and_readers_see_only_committed_rows(db: Database) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="a"))
        async with db.reader() as other:  # another connection: no dirty reads
            assert (await other.execute(sa.select(parent))).all() == []
    async with db.reader() as conn:
        assert (await conn.execute(sa.select(parent.c.name))).scalar_one() == "a"


async def test_failed_writes_roll_back(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError) as error:
        async with db.writer() as conn:
            await conn.execute(sa.insert(parent).values(id=1, name="a"))
            await conn.execute(sa.insert(child).values(id=1, parent_id=99))
    assert not is_duplicate(error.value)  # a foreign key, not a duplicate
    with pytest.raises(RuntimeError):
        async with db.writer() as conn:
            await conn.execute(sa.insert(parent).values(id=2, name="b"))
            raise RuntimeError("the domain refused")
    assert await count(db, parent) == 0


async def test_too_long_values_are_refused_not_truncated(db: Database) -> None:
    with pytest.raises(sa.exc.DBAPIError):
        async with db.writer() as conn:
            await conn.execute(sa.insert(parent).values(id=1, name="x" * 21))
    assert await count(db, parent) == 0


async def test_duplicate_detection(db: Database) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="a"))
    for values in ({"id": 2, "name": "a"}, {"id": 1, "name": "b"}):  # unique, primary key
        with pytest.raises(sa.exc.IntegrityError) as error:
            async with db.writer() as conn:
                await conn.execute(sa.insert(parent).values(**values))
        assert is_duplicate(error.value), error.value
    with pytest.raises(sa.exc.IntegrityError) as error:
        async with db.writer() as conn:
            await conn.execute(sa.insert(parent).values(id=3, name=None, count=None))
    assert not is_duplicate(error.value)  # NOT NULL


async def test_concurrent_atomic_updates_do_not_lose_updates(db: Database) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="p", count=0))

    async def bump() -> None:
        async with db.writer() as conn:
            await conn.execute(sa.update(parent).values(count=parent.c.count + 1))

    await asyncio.gather(*(bump() for _ in range(WRITERS)))
    async with db.reader() as conn:
        assert (await conn.execute(sa.select(parent.c.count))).scalar_one() == WRITERS


async def test_concurrent_locked_read_modify_write_does_not_lose_updates(db: Database
                                                                         ) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="0"))

    async def bump() -> None:
        async with db.writer() as conn:
            value = (await conn.execute(sa.select(parent.c.name).with_for_update())).scalar()
            await asyncio.sleep(0)
            await conn.execute(sa.update(parent).values(name=str(int(value) + 1)))

    await asyncio.gather(*(bump() for _ in range(WRITERS)))
    async with db.reader() as conn:
        assert (await conn.execute(sa.select(parent.c.name))).scalar_one() == str(WRITERS)


async def test_concurrent_generation_checked_writers_do_not_lose_updates(db: Database
                                                                         ) -> None:
    """Optimistic concurrency as Placement does it: UPDATE ... WHERE generation = seen,
    and a writer that lost the race reads again in a new transaction."""
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="p", count=0, generation=0))

    async def bump() -> None:
        while True:
            async with db.writer() as conn:
                seen = (await conn.execute(sa.select(parent.c.count, parent.c.generation))
                        ).one()
                await asyncio.sleep(0)
                done = await conn.execute(
                    sa.update(parent).where(parent.c.generation == seen.generation)
                    .values(count=seen.count + 1, generation=seen.generation + 1))
            if done.rowcount == 1:
                return

    await asyncio.gather(*(bump() for _ in range(WRITERS)))
    async with db.reader() as conn:
        row = (await conn.execute(sa.select(parent.c.count, parent.c.generation))).one()
    assert (row.count, row.generation) == (WRITERS, WRITERS)


async def test_rowcount_counts_matched_rows_even_when_unchanged(db: Database) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="a"))
        same = await conn.execute(sa.update(parent).where(parent.c.id == 1).values(name="a"))
    assert same.rowcount == 1  # MySQL counts changed rows unless told otherwise


async def test_reserved_names_boolean_keys_json_floats_and_unicode(db: Database) -> None:
    stamp = time.time()
    extra = {"nested": {"list": [1, 2.5, None, True]}, "text": "Zürich 東京 🚀"}
    async with db.writer() as conn:
        for inherited in (False, True):
            await conn.execute(sa.insert(user).values(
                id="u1", inherited=inherited, option="Ω 🚀", extra=extra,
                created_at=stamp))
        await conn.execute(sa.insert(group).values(id=1, user_id="u1"))
        await conn.execute(sa.insert(limit).values(id=1, group_id=1))
    async with db.reader() as conn:
        rows = (await conn.execute(sa.select(user).order_by(user.c.inherited))).all()
        joined = (await conn.execute(
            sa.select(limit.c.id).join(group).join(user, user.c.id == group.c.user_id)
            .where(user.c.inherited.is_(True), user.c.option == "Ω 🚀"))).all()
    assert [row.inherited for row in rows] == [False, True]
    assert all(row.inherited is False or row.inherited is True for row in rows)
    assert rows[0].extra == extra and rows[0].option == "Ω 🚀"
    # a timestamp keeps its microseconds (MySQL's FLOAT would keep about 7 digits)
    assert abs(rows[0].created_at - stamp) < 1e-5
    assert [row.id for row in joined] == [1]
    async with db.writer() as conn:
        await conn.execute(sa.delete(group))
    assert await count(db, limit) == 0  # ON DELETE CASCADE across reserved names


async def test_identity_migrations_apply_twice_and_concurrently(url: str) -> None:
    first, second = Database(url), Database(url)
    try:
        # Two processes starting at once: one migrates, the other waits, then finds head.
        await asyncio.gather(upgrade(first, "identity", IDENTITY_MIGRATIONS),
                             upgrade(second, "identity", IDENTITY_MIGRATIONS))
        await upgrade(first, "identity", IDENTITY_MIGRATIONS)  # at head: nothing to do
        async with first.reader() as conn:
            tables, created_at = await conn.run_sync(lambda sync: (
                set(sa.inspect(sync).get_table_names()),
                {c["name"]: c["type"] for c in sa.inspect(sync).get_columns("user")}
                ["created_at"]))
            versions = (await conn.execute(sa.text(
                f"SELECT version_num FROM {version_table('identity')}"))).scalars().all()
    finally:
        await first.close()
        await second.close()
    assert set(identity_models.metadata.tables) <= tables
    assert versions == [ScriptDirectory(str(IDENTITY_MIGRATIONS)).get_current_head()]
    assert type(created_at).__name__ in ("DOUBLE", "DOUBLE_PRECISION")  # not MySQL's FLOAT
