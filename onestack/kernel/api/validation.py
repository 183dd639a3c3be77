"""Request body validation with JSON schemas, compiled once per schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema

from onestack.kernel.api.faults import ValidationError

_compiled: dict[int, Callable[[Any], Any]] = {}


def validate(schema: dict[str, Any], body: Any) -> Any:
    """Check ``body`` against ``schema``; a 400 names the failing field."""
    check = _compiled.get(id(schema))
    if check is None:
        check = fastjsonschema.compile(schema)
        _compiled[id(schema)] = check
    try:
        return check(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = exc.name.removeprefix("data").lstrip(".") or "request body"
        raise ValidationError(f"Invalid input for field '{field}': {exc.message}") from None
