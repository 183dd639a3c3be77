"""Request body of a key pair's creation or import, by microversion: ``type`` from
2.2, ``user_id`` from 2.10, and from 2.92 an imported public key is required and names
may also hold ``@`` and ``.``."""

from __future__ import annotations

import functools
from typing import Any

# The characters of a name, before 2.92 and from it.
NAME_CHARS = "_- " + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
NAME_CHARS_292 = "@._- " + NAME_CHARS[3:]


@functools.cache
def create(minor: int) -> dict[str, Any]:
    keypair: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "public_key": {"type": "string"},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    if minor >= 2:
        keypair["properties"]["type"] = {"type": "string", "enum": ["ssh", "x509"]}
    if minor >= 10:
        keypair["properties"]["user_id"] = {"type": "string"}
    if minor >= 92:
        keypair["required"] = ["name", "public_key"]
    return {"type": "object", "properties": {"keypair": keypair}, "required": ["keypair"],
            "additionalProperties": False}
