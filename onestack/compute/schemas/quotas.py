"""Request bodies of quota sets and quota classes: the resources a microversion still
shows (networks' gone from 2.36, or from 2.50 for classes; injected files' from 2.57),
each a limit from -1 (unlimited) up, as a number or a string of digits."""

from __future__ import annotations

import functools
from typing import Any

from onestack.compute.objects.quotas import INJECTED, NETWORK, RESOURCES

LIMIT = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$"}
BOOLEAN = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No",
                    "no"]}


def hidden(minor: int, network_until: int = 36) -> tuple[str, ...]:
    """Resources a microversion no longer shows nor accepts."""
    gone: tuple[str, ...] = NETWORK if minor >= network_until else ()
    return gone + INJECTED if minor >= 57 else gone


@functools.cache
def quota_set(minor: int) -> dict[str, Any]:
    properties: dict[str, Any] = {r: LIMIT for r in RESOURCES if r not in hidden(minor)}
    properties["force"] = BOOLEAN
    return {"type": "object",
            "properties": {"quota_set": {"type": "object", "properties": properties,
                                         "additionalProperties": False}},
            "required": ["quota_set"], "additionalProperties": False}


@functools.cache
def quota_class_set(minor: int) -> dict[str, Any]:
    properties = {r: LIMIT for r in RESOURCES if r not in hidden(minor, network_until=50)}
    return {"type": "object",
            "properties": {"quota_class_set": {"type": "object", "properties": properties,
                                               "additionalProperties": False}},
            "required": ["quota_class_set"], "additionalProperties": False}
