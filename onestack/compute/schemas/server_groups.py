"""Request body of a server group's creation: a one-item ``policies`` list before
2.64 (the soft policies from 2.15), then one ``policy`` and its ``rules``."""

from __future__ import annotations

import functools
from typing import Any

NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?![\s])[^\x00-\x1f\x7f]*(?<![\s])$"}
POSITIVE = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minLength": 1}


@functools.cache
def create(minor: int) -> dict[str, Any]:
    policies = ["anti-affinity", "affinity"]
    if minor >= 15:
        policies += ["soft-anti-affinity", "soft-affinity"]
    group: dict[str, Any] = {"type": "object", "properties": {"name": NAME},
                             "additionalProperties": False}
    if minor >= 64:
        group["properties"]["policy"] = {"type": "string", "enum": policies}
        group["properties"]["rules"] = {
            "type": "object", "properties": {"max_server_per_host": POSITIVE},
            "additionalProperties": False}
        group["required"] = ["name", "policy"]
    else:
        group["properties"]["policies"] = {
            "type": "array", "items": {"type": "string", "enum": policies},
            "uniqueItems": True, "minItems": 1, "maxItems": 1}
        group["required"] = ["name", "policies"]
    return {"type": "object", "properties": {"server_group": group},
            "required": ["server_group"], "additionalProperties": False}
