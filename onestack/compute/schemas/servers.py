"""Request schemas of servers (create, update). Schemas that vary by microversion are
built once per version (the validator caches compiled schemas by identity)."""

from __future__ import annotations

import functools
from typing import Any

NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?![\s])[^\x00-\x1f]*(?<![\s])$"}
# the number of items is a quota (metadata_items: 403), not a schema limit
METADATA = {"type": "object",
            "patternProperties": {"^[^\x00-\x1f]{1,255}$": {"type": "string", "maxLength": 255}},
            "additionalProperties": False}
IPV4 = {"type": "string", "format": "ipv4"}
IPV6 = {"type": "string", "format": "ipv6"}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 255,
               "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"}
HOSTNAME = {"type": "string", "minLength": 2, "maxLength": 63,
            "pattern": r"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$"}

NETWORK = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "port": {"type": ["string", "null"]},
        "fixed_ip": {"type": "string"},
        "tag": TAG,
    },
    "additionalProperties": False,
}


@functools.cache
def create(minor: int) -> dict[str, Any]:
    server: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": NAME,
            "imageRef": {"type": "string"},
            "flavorRef": {"type": ["string", "integer"], "minLength": 1},
            "adminPass": {"type": "string"},
            "metadata": METADATA,
            "networks": {"type": "array", "items": NETWORK},
            "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
            "accessIPv4": IPV4,
            "accessIPv6": IPV6,
            "personality": {"type": "array", "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "contents": {"type": "string"}},
                "additionalProperties": False}},
            "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
            "block_device_mapping": {"type": "array"},
            "block_device_mapping_v2": {"type": "array"},
            "config_drive": {"type": ["boolean", "string", "null"]},
            "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
            "min_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
            "max_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
            "return_reservation_id": {"type": ["boolean", "string"]},
            "security_groups": {"type": "array", "items": {
                "type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
                "additionalProperties": False}},
            "user_data": {"type": "string", "maxLength": 65535},
        },
        "required": ["name", "flavorRef"],
        "additionalProperties": False,
    }
    if minor >= 19:
        server["properties"]["description"] = DESCRIPTION
    if minor >= 37:
        server["required"].append("networks")
        server["properties"]["networks"] = {"oneOf": [
            {"type": "array", "items": NETWORK},
            {"type": "string", "enum": ["none", "auto"]}]}
    if minor >= 52:
        server["properties"]["tags"] = {"type": "array", "items": TAG, "maxItems": 50}
    if minor >= 57:
        del server["properties"]["personality"]
    if minor >= 63:
        server["properties"]["trusted_image_certificates"] = {
            "type": ["array", "null"], "items": {"type": "string"}}
    if minor >= 74:
        server["properties"]["host"] = {"type": "string", "minLength": 1, "maxLength": 255}
        server["properties"]["hypervisor_hostname"] = {"type": "string", "minLength": 1,
                                                       "maxLength": 255}
    if minor >= 90:
        server["properties"]["hostname"] = HOSTNAME
    if minor >= 94:
        server["properties"]["hostname"] = {**HOSTNAME, "maxLength": 255}
    return {
        "type": "object",
        "properties": {
            "server": server,
            "os:scheduler_hints": {"type": "object"},
            "OS-SCH-HNT:scheduler_hints": {"type": "object"},
        },
        "required": ["server"],
        "additionalProperties": False,
    }


@functools.cache
def update(minor: int) -> dict[str, Any]:
    server: dict[str, Any] = {
        "type": "object",
        "properties": {"name": NAME, "accessIPv4": IPV4, "accessIPv6": IPV6,
                       "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}},
        "additionalProperties": False,
    }
    if minor >= 19:
        server["properties"]["description"] = DESCRIPTION
    if minor >= 90:
        server["properties"]["hostname"] = HOSTNAME
    return {"type": "object", "properties": {"server": server}, "required": ["server"],
            "additionalProperties": False}
