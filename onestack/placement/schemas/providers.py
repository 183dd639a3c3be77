"""Request bodies of providers, inventories, traits and aggregates."""

from __future__ import annotations

from typing import Any

UUID = {"type": "string", "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                                     "[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"}
NAME = {"type": "string", "minLength": 1, "maxLength": 200}
GENERATION = {"type": "integer"}

PROVIDER_CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {"name": NAME, "uuid": UUID,
                   "parent_provider_uuid": {"anyOf": [UUID, {"type": "null"}]}},
    "required": ["name"],
    "additionalProperties": False,
}
PROVIDER_UPDATE: dict[str, Any] = {
    "type": "object",
    "properties": {"name": NAME,
                   "parent_provider_uuid": {"anyOf": [UUID, {"type": "null"}]}},
    "required": ["name"],
    "additionalProperties": False,
}

MAX_INT = 2147483647
INVENTORY_FIELDS: dict[str, Any] = {
    "total": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "reserved": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
    "min_unit": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "max_unit": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "step_size": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "allocation_ratio": {"type": "number", "minimum": 0, "maximum": 3.40282e38,
                         "exclusiveMinimum": 0},
}
INVENTORY: dict[str, Any] = {
    "type": "object", "properties": INVENTORY_FIELDS, "required": ["total"],
    "additionalProperties": False,
}
INVENTORIES: dict[str, Any] = {
    "type": "object",
    "properties": {"resource_provider_generation": GENERATION,
                   "inventories": {"type": "object", "patternProperties": {
                       "^[A-Z0-9_]+$": INVENTORY}, "additionalProperties": False}},
    "required": ["resource_provider_generation", "inventories"],
    "additionalProperties": False,
}
ONE_INVENTORY: dict[str, Any] = {
    "type": "object",
    "properties": {"resource_provider_generation": GENERATION, **INVENTORY_FIELDS},
    "required": ["resource_provider_generation", "total"],
    "additionalProperties": False,
}
NEW_INVENTORY: dict[str, Any] = {
    "type": "object",
    "properties": {"resource_class": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
                   **ONE_INVENTORY["properties"]},
    "required": ["resource_class", "resource_provider_generation", "total"],
    "additionalProperties": False,
}
TRAITS: dict[str, Any] = {
    "type": "object",
    "properties": {"resource_provider_generation": GENERATION,
                   "traits": {"type": "array", "uniqueItems": True,
                              "items": {"type": "string", "pattern": "^[A-Z0-9_]+$"}}},
    "required": ["resource_provider_generation", "traits"],
    "additionalProperties": False,
}
AGGREGATE_LIST: dict[str, Any] = {"type": "array", "uniqueItems": True, "items": UUID}
AGGREGATES: dict[str, Any] = {
    "type": "object",
    "properties": {"resource_provider_generation": GENERATION, "aggregates": AGGREGATE_LIST},
    "required": ["resource_provider_generation", "aggregates"],
    "additionalProperties": False,
}
RESOURCE_CLASS: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$",
                            "maxLength": 255}},
    "required": ["name"],
    "additionalProperties": False,
}
