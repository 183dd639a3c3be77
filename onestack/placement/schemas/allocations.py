"""Request bodies of allocations: the list shape (before 1.12) and the dict shape."""

from __future__ import annotations

import functools
from typing import Any

from onestack.placement.schemas.providers import UUID

RESOURCES = {"type": "object", "minProperties": 1,
             "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 1}},
             "additionalProperties": False}
ID = {"type": "string", "minLength": 1, "maxLength": 255}
CONSUMER_TYPE = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}

LIST_SHAPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "allocations": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"resource_provider": {"type": "object", "properties": {
                "uuid": UUID}, "required": ["uuid"]}, "resources": RESOURCES},
            "required": ["resource_provider", "resources"]}},
        "project_id": ID, "user_id": ID},
    "required": ["allocations"],
    "additionalProperties": False,
}


@functools.cache  # one object per version: validation compiles each schema once
def dict_shape(minor: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "allocations": {"type": "object", "patternProperties": {".*": {
            "type": "object", "properties": {"resources": RESOURCES,
                                             "generation": {}},
            "required": ["resources"], "additionalProperties": False}}},
        "project_id": ID, "user_id": ID}
    required = ["allocations", "project_id", "user_id"]
    if minor >= 28:
        properties["consumer_generation"] = {"type": ["integer", "null"]}
        if minor < 37:
            required.append("consumer_generation")
    if minor >= 38:
        properties["consumer_type"] = CONSUMER_TYPE
        required.append("consumer_type")
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


@functools.cache
def bulk_shape(minor: int) -> dict[str, Any]:
    one = dict_shape(minor)
    if minor >= 37 and "consumer_generation" not in one["required"]:
        one["required"] = [*one["required"], "consumer_generation"]
    return {"type": "object", "minProperties": 1,
            "patternProperties": {".*": one}, "additionalProperties": False}
