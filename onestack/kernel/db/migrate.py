"""Apply a service's Alembic migrations at start, without an env.py per service.

Each service keeps its revisions in ``<service>/migrations/versions`` and its own
version table, so services can share one database or use one each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from onestack.kernel.db import Database


def _script_directory(migrations: Path) -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config, ScriptDirectory.from_config(config)


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def _upgrade(connection: Connection, service: str, migrations: Path) -> None:
    config, script = _script_directory(migrations)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("head", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="head") as env:
        env.configure(connection=connection, version_table=version_table(service),
                      transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()


async def upgrade(db: Database, service: str, migrations: Path) -> None:
    async with db.writer() as conn:
        await conn.run_sync(_upgrade, service, migrations)
