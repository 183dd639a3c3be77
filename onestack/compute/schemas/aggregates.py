"""Request bodies of host aggregates (Nova's os-aggregates)."""

from __future__ import annotations

from typing import Any

# printable, no leading or trailing whitespace (Nova's "name" format)
NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?![\s])[^\x00-\x1f\x7f]*(?<![\s])$"}
# printable with at least one non-space character; stripped before use
LOOSE_NAME = {"type": "string", "minLength": 1, "maxLength": 255,
              "pattern": r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"}
# as NAME, without ':' (Nova's "az_name" format)
ZONE = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 255,
                   "pattern": r"^(?![\s])[^\x00-\x1f\x7f:]*(?<![\s])$"},
                  {"type": "null"}]}
HOST = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-._]*$"}
METADATA_WITH_NULL = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "null"],
                                                          "maxLength": 255}},
    "additionalProperties": False,
}
UUID = {"type": "string",
        "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   "[0-9a-fA-F]{12}$"}


def _wrapped(key: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {key: inner}, "required": [key],
            "additionalProperties": False}


CREATE = _wrapped("aggregate", {
    "type": "object",
    "properties": {"name": NAME, "availability_zone": ZONE},
    "required": ["name"],
    "additionalProperties": False,
})
UPDATE = _wrapped("aggregate", {
    "type": "object",
    "properties": {"name": LOOSE_NAME, "availability_zone": ZONE},
    "additionalProperties": False,
    "anyOf": [{"required": ["name"]}, {"required": ["availability_zone"]}],
})
ADD_HOST = _wrapped("add_host", {
    "type": "object", "properties": {"host": HOST}, "required": ["host"],
    "additionalProperties": False,
})
REMOVE_HOST = _wrapped("remove_host", {
    "type": "object", "properties": {"host": HOST}, "required": ["host"],
    "additionalProperties": False,
})
SET_METADATA = _wrapped("set_metadata", {
    "type": "object", "properties": {"metadata": METADATA_WITH_NULL},
    "required": ["metadata"], "additionalProperties": False,
})
# 2.81: images to cache on the aggregate's hosts
IMAGES: dict[str, Any] = {
    "type": "object",
    "properties": {"cache": {
        "type": "array", "minItems": 1,
        "items": {"type": "object", "properties": {"id": UUID}, "required": ["id"],
                  "additionalProperties": False}}},
    "required": ["cache"],
    "additionalProperties": False,
}
