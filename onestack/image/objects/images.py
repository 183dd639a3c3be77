"""Images: persistence, who sees what, listing with filters, sorting and paging,
and the quotas per project. Knows nothing of HTTP beyond the kernel's errors."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from onestack.image.models import image, member
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound, PayloadTooLarge

SORT_KEYS = {"name", "status", "container_format", "disk_format", "size", "id",
             "created_at", "updated_at", "visibility", "owner", "min_ram", "min_disk",
             "virtual_size", "protected", "os_hidden"}
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Viewer:
    project_id: str | None
    is_admin: bool
    user_id: str = ""


def now() -> float:
    return time.time()


def new_id() -> str:
    return str(uuid.uuid4())


def parse_time(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid time value {text!r}: ISO 8601 expected.") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.now().astimezone().tzinfo).timestamp()
    return moment.timestamp()


async def get(conn: AsyncConnection, image_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(image).where(image.c.id == image_id))).first()
    return dict(row._mapping) if row is not None else None


async def membership(conn: AsyncConnection, image_id: str, project_id: str | None
                     ) -> dict[str, Any] | None:
    if not project_id:
        return None
    row = (await conn.execute(sa.select(member).where(
        member.c.image_id == image_id, member.c.member_id == project_id))).first()
    return dict(row._mapping) if row is not None else None


def is_owner(viewer: Viewer, row: dict[str, Any]) -> bool:
    return viewer.project_id is not None and row["owner"] == viewer.project_id


async def is_visible(conn: AsyncConnection, viewer: Viewer, row: dict[str, Any]) -> bool:
    if viewer.is_admin or is_owner(viewer, row) or row["visibility"] in ("public",
                                                                          "community"):
        return True
    if row["visibility"] == "shared":
        return await membership(conn, row["id"], viewer.project_id) is not None
    return False


async def load(conn: AsyncConnection, viewer: Viewer, image_id: str) -> dict[str, Any]:
    """The image if the viewer may see it, else 404 (never tell it exists)."""
    row = await get(conn, image_id)
    if row is None or not await is_visible(conn, viewer, row):
        raise NotFound(f"No image found with ID {image_id}")
    return row


async def create(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any]:
    moment = now()
    row = {"status": "queued", "visibility": "shared", "protected": False,
           "os_hidden": False, "min_ram": 0, "min_disk": 0, "properties": {}, "tags": [],
           "name": None, "disk_format": None, "container_format": None,
           "size": None, "virtual_size": None, "checksum": None, "os_hash_algo": None,
           "os_hash_value": None, "location": None,
           **values, "created_at": moment, "updated_at": moment}
    row.setdefault("id", new_id())
    if await get(conn, row["id"]) is not None:
        raise Conflict(f"An image with identifier {row['id']} already exists")
    await conn.execute(sa.insert(image).values(**row))
    return row


async def update(conn: AsyncConnection, image_id: str, values: dict[str, Any],
                 *, expect_status: str | tuple[str, ...] | None = None) -> bool:
    """Write ``values``; with ``expect_status``, only if the status is still one of
    those (a compare-and-set: two uploads never both claim one image)."""
    query = sa.update(image).where(image.c.id == image_id)
    if expect_status is not None:
        wanted = (expect_status,) if isinstance(expect_status, str) else expect_status
        query = query.where(image.c.status.in_(wanted))
    result = await conn.execute(query.values(**values, updated_at=now()))
    return bool(result.rowcount)


async def delete(conn: AsyncConnection, image_id: str) -> None:
    await conn.execute(sa.delete(member).where(member.c.image_id == image_id))
    await conn.execute(sa.delete(image).where(image.c.id == image_id))


# -- quotas ---------------------------------------------------------------------------
async def check_count_quota(conn: AsyncConnection, owner: str | None, limit: int) -> None:
    if limit < 0 or owner is None:
        return
    if await count_owned(conn, owner) >= limit:
        raise PayloadTooLarge(f"Quota exceeded: project {owner} may have at most {limit} "
                              f"images.")


async def count_owned(conn: AsyncConnection, owner: str | None) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(image)
                                 .where(image.c.owner == owner)) or 0)


async def bytes_used(conn: AsyncConnection, owner: str | None) -> int:
    if owner is None:
        return 0
    used = await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(image.c.size), 0))
                             .where(image.c.owner == owner))
    return int(used or 0)


# -- listing --------------------------------------------------------------------------
def _visibility_clause(viewer: Viewer, visibility: str | None, member_status: str,
                       mine: sa.Select[Any]) -> Any:
    owned = image.c.owner == viewer.project_id
    shared_with_me = sa.and_(image.c.visibility == "shared", image.c.id.in_(mine))
    if visibility in (None, "all"):
        if viewer.is_admin:
            return sa.true()
        clause = [image.c.visibility == "public", owned, shared_with_me]
        if visibility == "all":
            clause.append(image.c.visibility == "community")
        return sa.or_(*clause)
    if visibility == "shared":
        if viewer.is_admin and member_status == "all":
            return image.c.visibility == "shared"
        return sa.and_(image.c.visibility == "shared", sa.or_(owned, image.c.id.in_(mine)))
    if visibility == "private" and not viewer.is_admin:
        return sa.and_(image.c.visibility == "private", owned)
    return image.c.visibility == visibility


def _operator(value: str) -> tuple[str, str]:
    op, sep, rest = value.partition(":")
    if sep and op in ("gt", "gte", "lt", "lte", "eq", "neq", "in"):
        return op, rest
    return "eq", value


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    return {"eq": actual == expected, "neq": actual != expected, "gt": actual > expected,
            "gte": actual >= expected, "lt": actual < expected,
            "lte": actual <= expected}[op]


def _matches(row: dict[str, Any], key: str, value: str) -> bool:
    op, operand = _operator(value)
    if key in ("created_at", "updated_at"):
        return _compare(row[key], op, parse_time(operand))
    actual = row.get(key) if key in row else row["properties"].get(key)
    if op == "in":
        return str(actual) in [v.strip() for v in operand.split(",")]
    if key in ("protected", "os_hidden"):
        return bool(actual) == (operand.lower() == "true")
    if isinstance(actual, int):
        try:
            return _compare(actual, op, int(operand))
        except ValueError:
            raise BadRequest(f"Invalid value {operand!r} for filter {key}.") from None
    return _compare(actual, op, operand)


def sort_spec(sort: str | None, keys: list[str], dirs: list[str]) -> list[tuple[str, str]]:
    if sort:
        spec = []
        for part in sort.split(","):
            key, _, direction = part.strip().partition(":")
            spec.append((key, direction or "desc"))
    else:
        keys = keys or ["created_at"]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise BadRequest("The number of sort_dir values must match sort_key.")
        spec = [(k, dirs[i] if len(dirs) > 1 else (dirs[0] if dirs else "desc"))
                for i, k in enumerate(keys)]
    for key, direction in spec:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key: {key}. It is not in {sorted(SORT_KEYS)}.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}.")
    return spec


def _sorted(rows: list[dict[str, Any]], spec: list[tuple[str, str]]) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: r["id"], reverse=True)
    for key, direction in reversed(spec):
        present = [r for r in rows if r[key] is not None]
        missing = [r for r in rows if r[key] is None]
        present.sort(key=lambda r, k=key: r[k], reverse=direction == "desc")
        rows = present + missing if direction == "asc" else missing + present
    return rows


async def list_visible(conn: AsyncConnection, viewer: Viewer, *, filters: list[tuple[str, str]],
                       tags: list[str], visibility: str | None, member_status: str,
                       hidden: bool | None, changes_since: float | None,
                       sort: list[tuple[str, str]], marker: str | None, limit: int
                       ) -> tuple[list[dict[str, Any]], bool]:
    """The page of images after ``marker``, and whether more follow."""
    mine = sa.select(member.c.image_id).where(member.c.member_id == viewer.project_id)
    if member_status != "all":
        mine = mine.where(member.c.status == member_status)
    query = sa.select(image).where(_visibility_clause(viewer, visibility, member_status,
                                                      mine))
    if hidden is not None:
        query = query.where(image.c.os_hidden == hidden)
    if changes_since is not None:
        query = query.where(image.c.updated_at >= changes_since)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    rows = [r for r in rows if all(_matches(r, k, v) for k, v in filters)
            and all(t in r["tags"] for t in tags)]
    rows = _sorted(rows, sort)
    if marker is not None:
        ids = [r["id"] for r in rows]
        if marker not in ids:
            raise BadRequest(f"Invalid marker. Image {marker} could not be found.")
        rows = rows[ids.index(marker) + 1:]
    return rows[:limit], len(rows) > limit
