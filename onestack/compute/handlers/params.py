"""Parameters as Nova reads them: unknown query parameters refused from 2.75,
non-negative integers, Nova's paging of ``offset``/``limit``, and integer body fields
given as numbers or strings of digits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from onestack.compute.handlers.common import at_least, limit_of
from onestack.kernel.api.faults import BadRequest
from onestack.kernel.api.request import Request

T = TypeVar("T")
MAX_LIMIT = 1000


def strict_query(req: Request, allowed: Iterable[str], since: int = 75) -> None:
    """From microversion ``since`` (2.75 for most resources) a parameter the resource
    does not know is a 400."""
    if not at_least(req, since):
        return
    known = set(allowed)
    unknown = sorted({key for key, _ in req.query_items if key not in known})
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise BadRequest(f"Additional properties are not allowed ({listed} {verb} "
                         "unexpected)")


def non_negative(req: Request, name: str) -> int | None:
    raw = req.query(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(f"Invalid input for query parameters {name}. Value: {raw}. "
                         f"'{raw}' does not match '^[0-9]*$'")
    return int(raw)


def offset_page(req: Request, items: Sequence[T]) -> list[T]:
    """Nova's ``limited``: ``offset`` into the items, at most ``limit`` (0 or absent:
    the maximum) of them."""
    offset = non_negative(req, "offset") or 0
    limit = limit_of(req) or MAX_LIMIT
    limit = min(limit, MAX_LIMIT)
    return list(items[offset:offset + limit])


def to_int(value: Any, field: str, minimum: int, maximum: int = 0x7FFFFFFF) -> int:
    """An integer body field given as a number or a string of digits, in range."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. "
                         f"'{value}' is not of type 'integer'") from None
    if number < minimum:
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. "
                         f"{value} is less than the minimum of {minimum}")
    if number > maximum:
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. "
                         f"{value} is greater than the maximum of {maximum}")
    return number
