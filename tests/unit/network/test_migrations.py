"""Revision 0002 moves what a 0001 database kept in JSON into the new columns and
tables: floating IP associations into indexed columns, port security groups into
their bindings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext

from onestack.kernel.db import Database
from onestack.kernel.db.migrate import _script_directory, upgrade, version_table
from onestack.network.service import MIGRATIONS

STANDARD = {"project_id": "p", "name": "", "description": "", "created_at": 1.0,
            "updated_at": 1.0, "revision_number": 0, "tags": "[]"}


def _to_0001(connection: sa.Connection) -> None:
    config, script = _script_directory(MIGRATIONS)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("0001", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="0001") as env:
        env.configure(connection=connection, version_table=version_table("network"))
        with env.begin_transaction():
            env.run_migrations()


def _insert(conn: sa.Connection, table: str, **values: Any) -> None:
    row = {**STANDARD, **values}
    row["attrs"] = json.dumps(row.get("attrs", {}))
    names = ", ".join(row)
    conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES "
                         f"({', '.join(':' + k for k in row)})"), row)


async def test_0002_moves_json_attributes(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/network.db")
    try:
        async with db.writer() as conn:
            await conn.run_sync(_to_0001)

            def old_rows(sync: sa.Connection) -> None:
                _insert(sync, "network", id="n1")
                _insert(sync, "security_group", id="g1")
                _insert(sync, "port", id="pt1", network_id="n1", mac_address="fa:16:3e:00:00:01",
                        device_id="", device_owner="",
                        attrs={"security_groups": ["g1", "g1", "gone"], "status": "DOWN"})
                _insert(sync, "floatingip", id="f1", attrs={
                    "floating_network_id": "n1", "port_id": "pt1", "router_id": "r1",
                    "floating_ip_address": "172.24.4.9"})

            await conn.run_sync(old_rows)
        await upgrade(db, "network", MIGRATIONS)
        async with db.reader() as conn:
            fip = (await conn.execute(sa.text(
                "SELECT floating_network_id, port_id, router_id, attrs FROM floatingip"))).one()
            bindings = (await conn.execute(sa.text(
                "SELECT port_id, security_group_id FROM port_security_group"))).all()
    finally:
        await db.close()
    assert fip[:3] == ("n1", "pt1", "r1")
    assert json.loads(fip[3]) == {"floating_ip_address": "172.24.4.9"}
    assert bindings == [("pt1", "g1")]  # once, and not the group that no longer exists
