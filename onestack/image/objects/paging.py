"""Paging of the small collections the image service lists in memory (metadefs,
tasks): sort by one key, skip past a marker, cut to a limit."""

from __future__ import annotations

from typing import Any

from onestack.kernel.api.faults import BadRequest

MAX_LIMIT = 1000


def page(rows: list[dict[str, Any]], *, key: str, sort_key: str | None,
         sort_dir: str | None, keys: tuple[str, ...], marker: str | None,
         limit: str | None, default_dir: str = "desc") -> tuple[list[dict[str, Any]], bool]:
    """Sort, skip past ``marker`` (a value of ``key``) and cut to ``limit``; and
    whether more follow. Bad parameters are the client's error (400)."""
    sort_key = sort_key or "created_at"
    sort_dir = sort_dir or default_dir
    if sort_key not in keys:
        raise BadRequest(f"Invalid sort key: {sort_key}. It is one of {', '.join(keys)}.")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort direction: {sort_dir}. It is asc or desc.")
    count = MAX_LIMIT
    if limit is not None:
        try:
            count = int(limit)
        except ValueError:
            raise BadRequest("limit param must be an integer") from None
        if count < 1:
            raise BadRequest("limit param must be positive")
    rows = sorted(rows, key=lambda r: (r[sort_key] is not None, r[sort_key] or "", r[key]),
                  reverse=sort_dir == "desc")
    if marker is not None:
        names = [r[key] for r in rows]
        if marker not in names:
            raise BadRequest(f"Invalid marker: {marker} could not be found.")
        rows = rows[names.index(marker) + 1:]
    count = min(count, MAX_LIMIT)
    return rows[:count], len(rows) > count
