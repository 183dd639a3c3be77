"""Request bodies of flavors, their extra specs and their access lists. Integers may
come as numbers or strings of digits (as Nova accepts); the handler converts them and
checks their range."""

from __future__ import annotations

import functools
from typing import Any

NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?![\s])[^\x00-\x1f\x7f]*(?<![\s])$"}
DIGITS = {"type": ["integer", "string"], "pattern": "^[0-9]+$"}
BOOLEAN = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No",
                    "no"]}
DESCRIPTION = {"type": ["string", "null"], "minLength": 0, "maxLength": 65535,
               "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"}
SPEC_KEY = "^[a-zA-Z0-9-_:. ]{1,255}$"
SPEC_VALUE = {"type": ["string", "number"], "maxLength": 255}


@functools.cache
def create(minor: int) -> dict[str, Any]:
    flavor: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": NAME,
            "id": {"type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
                   "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
            "ram": DIGITS,
            "vcpus": DIGITS,
            "disk": DIGITS,
            "OS-FLV-EXT-DATA:ephemeral": DIGITS,
            "swap": DIGITS,
            "rxtx_factor": {"type": ["number", "string"],
                            "pattern": r"^[0-9]+(\.[0-9]+)?$"},
            "os-flavor-access:is_public": BOOLEAN,
        },
        "required": ["name", "ram", "vcpus", "disk"],
        "additionalProperties": False,
    }
    if minor >= 55:
        flavor["properties"]["description"] = DESCRIPTION
    return {"type": "object", "properties": {"flavor": flavor}, "required": ["flavor"],
            "additionalProperties": False}


UPDATE: dict[str, Any] = {
    "type": "object",
    "properties": {"flavor": {
        "type": "object", "properties": {"description": DESCRIPTION},
        "required": ["description"], "additionalProperties": False}},
    "required": ["flavor"],
    "additionalProperties": False,
}

EXTRA_SPECS: dict[str, Any] = {
    "type": "object",
    "properties": {"extra_specs": {"type": "object",
                                   "patternProperties": {SPEC_KEY: SPEC_VALUE},
                                   "additionalProperties": False}},
    "required": ["extra_specs"],
    "additionalProperties": False,
}

ONE_EXTRA_SPEC: dict[str, Any] = {
    "type": "object", "patternProperties": {SPEC_KEY: SPEC_VALUE},
    "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
}


def _tenant_action(action: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {action: {
            "type": "object",
            "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255}},
            "required": ["tenant"], "additionalProperties": False}},
        "required": [action],
        "additionalProperties": False,
    }


ADD_TENANT_ACCESS = _tenant_action("addTenantAccess")
REMOVE_TENANT_ACCESS = _tenant_action("removeTenantAccess")
