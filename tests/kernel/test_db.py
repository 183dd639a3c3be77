"""The data layer on SQLite: WAL, foreign keys, serialised writers, rollback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from onestack.kernel.db import Database, is_duplicate

metadata = sa.MetaData()
parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("name", sa.String(20), unique=True))
child = sa.Table("child", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")))


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    async with database.writer() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.close()


async def test_pragmas(db: Database) -> None:
    async with db.reader() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


async def test_foreign_keys_enforced_and_failed_writes_roll_back(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with db.writer() as conn:
            await conn.execute(sa.insert(parent).values(id=1, name="a"))
            await conn.execute(sa.insert(child).values(id=1, parent_id=99))
    async with db.reader() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(parent))).scalar() \
            == 0


async def test_concurrent_writers_do_not_lose_updates(db: Database) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="0"))

    async def bump() -> None:
        async with db.writer() as conn:
            value = (await conn.execute(sa.select(parent.c.name))).scalar()
            await asyncio.sleep(0)
            await conn.execute(sa.update(parent).values(name=str(int(value) + 1)))

    await asyncio.gather(*(bump() for _ in range(50)))
    async with db.reader() as conn:
        assert (await conn.execute(sa.select(parent.c.name))).scalar() == "50"


async def test_duplicate_detection(db: Database) -> None:
    async with db.writer() as conn:
        await conn.execute(sa.insert(parent).values(id=1, name="a"))
    with pytest.raises(sa.exc.IntegrityError) as error:
        async with db.writer() as conn:
            await conn.execute(sa.insert(parent).values(id=2, name="a"))
    assert is_duplicate(error.value)


async def test_identity_migrations_skip_alembic_when_current(tmp_path: Path) -> None:
    import importlib

    from onestack.identity.service import MIGRATIONS
    from onestack.kernel.db.migrate import is_current, newest_revision, upgrade

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/identity.db")
    try:
        assert not await is_current(database, "identity", MIGRATIONS)
        await upgrade(database, "identity", MIGRATIONS)
        assert await is_current(database, "identity", MIGRATIONS)
        head = importlib.import_module(
            "onestack.identity.migrations.versions."
            + next(p.stem for p in (MIGRATIONS / "versions").glob(
                f"{newest_revision(MIGRATIONS)}_*.py")))
        assert head.revision == newest_revision(MIGRATIONS)
        await upgrade(database, "identity", MIGRATIONS)  # nothing to do, no error
    finally:
        await database.close()
