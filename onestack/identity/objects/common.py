"""Small helpers every identity object module uses."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from onestack.kernel.api.faults import BadRequest, NotFound


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> float:
    return time.time()


def isotime(timestamp: float | None, *, micro: bool = True) -> str | None:
    """Keystone's timestamp format: ``2015-11-05T22:00:11.000000Z``."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (moment.strftime(".%f") if micro else "") + "Z"


def parse_time(text: str | None, field: str = "expires_at") -> float | None:
    if text is None:
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"Invalid input for field '{field}': {text!r} is not an "
                         "ISO 8601 date and time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"Could not find {kind}: {ident}.")


def split_extra(body: dict[str, Any], columns: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keystone keeps unknown attributes of an entity and returns them: split the known
    columns from the rest."""
    known = {k: v for k, v in body.items() if k in columns}
    extra = {k: v for k, v in body.items() if k not in columns}
    return known, extra


def truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() not in ("0", "false", "no", "off", "")
