"""Request bodies of compute services: before 2.53 the body names the service (host
and binary) and the path the action; from 2.53 the path names it by uuid."""

from __future__ import annotations

import functools
from typing import Any

HOST = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-._]*$"}
BINARY = {"type": "string", "minLength": 1, "maxLength": 255}
REASON = {"type": "string", "minLength": 1, "maxLength": 255}
TRUTHY = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
FALSY = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")
BOOLEAN: dict[str, Any] = {"type": ["boolean", "string"], "enum": [True, *TRUTHY, False, *FALSY]}

UPDATE_V253: dict[str, Any] = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["enabled", "disabled"]},
                   "disabled_reason": REASON, "forced_down": BOOLEAN},
    "additionalProperties": False,
}


@functools.cache
def update_by_host(minor: int) -> dict[str, Any]:
    """2.1-2.52: ``{"host", "binary", "disabled_reason"}``, and from 2.11
    ``forced_down``."""
    properties: dict[str, Any] = {"host": HOST, "binary": BINARY, "disabled_reason": REASON}
    if minor >= 11:
        properties["forced_down"] = BOOLEAN
    return {"type": "object", "properties": properties, "required": ["host", "binary"],
            "additionalProperties": False}


def as_bool(value: bool | str) -> bool:
    """One of BOOLEAN's values as a bool."""
    if isinstance(value, bool):
        return value
    return value in TRUTHY
