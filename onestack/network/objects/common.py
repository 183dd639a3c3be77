"""The storage every networking resource shares: standard attributes, a JSON column
of resource attributes, and Neutron's typed errors."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.kernel.api.faults import ApiError, BadRequest, Conflict, NotFound
from onestack.network.ipam import IpamError
from onestack.network.models import TABLES

log = logging.getLogger(__name__)
Row = dict[str, Any]
STANDARD = ("id", "project_id", "name", "description", "created_at", "updated_at",
            "revision_number", "tags")
# Upstream's names for "resource not found", per kind.
NOT_FOUND_TYPES = {
    "network": "NetworkNotFound", "subnet": "SubnetNotFound", "port": "PortNotFound",
    "router": "RouterNotFound", "floatingip": "FloatingIPNotFound",
    "security_group": "SecurityGroupNotFound",
    "security_group_rule": "SecurityGroupRuleNotFound", "subnetpool": "SubnetPoolNotFound",
}
LABELS = {"floatingip": "Floating IP", "security_group": "Security group",
          "security_group_rule": "Security group rule", "subnetpool": "Subnet pool"}


def new_id() -> str:
    return str(uuid.uuid4())


@functools.lru_cache(maxsize=4096)
def _isosecond(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def isotime(stamp: float) -> str:
    """Neutron's timestamps: whole seconds, UTC (many rows share one: cached)."""
    return _isosecond(int(stamp))


def not_found(kind: str, ident: str) -> NotFound:
    label = LABELS.get(kind, kind.capitalize())
    return NotFound(f"{label} {ident} could not be found.",
                    type=NOT_FOUND_TYPES.get(kind, "NotFound"), ident=ident)


def bad_request(message: str, kind: str = "InvalidInput") -> BadRequest:
    if kind == "InvalidInput" and not message.startswith("Invalid input"):
        message = f"Invalid input for operation: {message}"
    return BadRequest(message, type=kind)


def conflict(message: str, kind: str) -> Conflict:
    return Conflict(message, type=kind)


def from_ipam(error: IpamError) -> ApiError:
    """IPAM's refusals are API errors already (400, or 409 for conflicts)."""
    return error


def to_row(record: Any) -> Row:
    data = dict(record._mapping)
    attrs = data.pop("attrs") or {}
    data.update(attrs)
    return data


def split(kind: str, values: Row) -> tuple[Row, Row]:
    """Table columns and the JSON attributes of a resource."""
    columns = set(TABLES[kind].c.keys()) - {"attrs"}
    known = {k: v for k, v in values.items() if k in columns}
    attrs = {k: v for k, v in values.items() if k not in columns}
    return known, attrs


async def get(conn: AsyncConnection, kind: str, ident: str) -> Row:
    table = TABLES[kind]
    found = (await conn.execute(sa.select(table).where(table.c.id == ident))).first()
    if found is None:
        raise not_found(kind, ident)
    return to_row(found)


async def find(conn: AsyncConnection, kind: str, **where: Any) -> list[Row]:
    table = TABLES[kind]
    query = sa.select(table)
    for key, value in where.items():
        column = table.c[key]
        query = query.where(column.in_(value) if isinstance(value, (list, set, tuple))
                            else column == value)
    return [to_row(r) for r in await conn.execute(query)]


async def count(conn: AsyncConnection, kind: str, project_id: str) -> int:
    table = TABLES[kind]
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)
                                 .where(table.c.project_id == project_id)) or 0)


async def insert(conn: AsyncConnection, kind: str, values: Row) -> Row:
    moment = time.time()
    full = {"id": values.get("id") or new_id(), "name": "", "description": "",
            "tags": [], "revision_number": 0, "created_at": moment, "updated_at": moment,
            **values}
    known, attrs = split(kind, full)
    await conn.execute(sa.insert(TABLES[kind]).values(**known, attrs=attrs))
    return {**known, **attrs}


async def update(conn: AsyncConnection, kind: str, current: Row, changes: Row) -> Row:
    """Apply ``changes``; bumps revision_number and updated_at as upstream does."""
    merged = {**current, **changes}
    merged["revision_number"] = current["revision_number"] + 1
    merged["updated_at"] = max(time.time(), current["updated_at"])
    known, attrs = split(kind, merged)
    table = TABLES[kind]
    result = await conn.execute(
        sa.update(table).where(table.c.id == current["id"],
                               table.c.revision_number == current["revision_number"])
        .values(**{k: v for k, v in known.items() if k != "id"}, attrs=attrs))
    if result.rowcount != 1:
        raise conflict(f"{kind} {current['id']} was changed by another request.",
                       "RevisionNumberConstraintFailed")
    return {**known, **attrs}


async def delete(conn: AsyncConnection, kind: str, ident: str) -> None:
    table = TABLES[kind]
    await conn.execute(sa.delete(table).where(table.c.id == ident))
