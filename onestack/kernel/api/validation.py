"""Request body validation with JSON schemas, compiled once per schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema

from onestack.kernel.api.faults import ValidationError

# Keyed by id(); the schema is kept alongside so its id cannot be reused by another.
_compiled: dict[int, tuple[dict[str, Any], Callable[[Any], Any]]] = {}


def validate(schema: dict[str, Any], body: Any) -> Any:
    """Check ``body`` against ``schema``; a 400 names the failing field."""
    entry = _compiled.get(id(schema))
    if entry is None:
        entry = (schema, fastjsonschema.compile(schema))
        _compiled[id(schema)] = entry
    try:
        return entry[1](body)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = (exc.name or "data").removeprefix("data").lstrip(".") or "request body"
        # fastjsonschema's message starts with the path ("data.name must be string")
        problem = exc.message.removeprefix(exc.name or "").strip()
        raise ValidationError(f"Invalid input for field '{field}': {field} {problem}.") from None
