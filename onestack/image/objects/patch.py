"""Glance's JSON patch (``application/openstack-images-v2.1-json-patch``, and the
older v2.0 ``{"add": "/path"}`` form): add, replace and remove of one attribute."""

from __future__ import annotations

from typing import Any

from onestack.image.schemas.images import CORE, EXTRA, READ_ONLY, RESERVED, WRITABLE
from onestack.kernel.api.faults import BadRequest, Conflict, Forbidden
from onestack.kernel.api.validation import validate

OPS = ("add", "replace", "remove")


def check_name(key: str, *, creating: bool = False) -> None:
    """Refuse an attribute a client may not set (403, as Glance)."""
    if key in READ_ONLY or (key == "id" and not creating):
        raise Forbidden(f"Attribute '{key}' is read-only.")
    if key in RESERVED:
        raise Forbidden(f"Attribute '{key}' is reserved.")
    if key.startswith("os_glance"):
        raise Forbidden(f"Attribute '{key}' is reserved: the os_glance namespace is the "
                        f"service's own.")


# One compiled schema per known attribute, one for every extra property (validate()
# compiles each schema object once, so these are built once too).
_KNOWN = {key: {"type": "object", "properties": {key: spec}} for key, spec in WRITABLE.items()}
_EXTRA = {"type": "object", "additionalProperties": EXTRA}


def check_value(key: str, value: Any) -> None:
    validate(_KNOWN.get(key, _EXTRA), {key: value})
    if key == "tags" and len(set(value)) != len(value):
        raise BadRequest("Tags must be unique.")


def _operation(item: Any) -> tuple[str, str, Any]:
    if not isinstance(item, dict):
        raise BadRequest("Each change must be a JSON object.")
    if "op" in item:
        op, path = item.get("op"), item.get("path")
    else:
        found = [name for name in OPS if name in item]
        if len(found) != 1:
            raise BadRequest("Unable to find the operation of a change: one of "
                             "add, replace or remove is required.")
        op, path = found[0], item[found[0]]
    if op not in OPS:
        raise BadRequest(f"Invalid operation: {op!r}. Supported: add, replace, remove.")
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadRequest(f"Invalid JSON pointer for this resource: {path!r}.")
    if op != "remove" and "value" not in item:
        raise BadRequest(f"Operation {op} needs a value.")
    parts = path[1:].split("/")
    key = parts[0].replace("~1", "/").replace("~0", "~")
    if len(parts) > 1:
        if key == "locations":
            raise Forbidden("Image locations are not exposed by this cloud.")
        raise BadRequest(f"Invalid JSON pointer for this resource: {path!r}.")
    if not key:
        raise BadRequest("A change needs a path naming an attribute.")
    return op, key, item.get("value")


def apply(row: dict[str, Any], changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new core column values and the new extra properties after ``changes``."""
    if not isinstance(changes, list):
        raise BadRequest("A JSON patch is a list of changes.")
    core: dict[str, Any] = {}
    properties = dict(row["properties"])
    for item in changes:
        op, key, value = _operation(item)
        check_name(key)
        if key in CORE:
            if op == "remove":
                raise Forbidden(f"Attribute '{key}' is a base attribute and can't be "
                                f"removed.")
            check_value(key, value)
            core[key] = value
            continue
        if op == "remove":
            if key not in properties:
                raise Conflict(f"Property {key} does not exist.")
            del properties[key]
            continue
        if op == "replace" and key not in properties:
            raise Conflict(f"Property {key} does not exist.")
        check_value(key, value)
        properties[key] = value
    return core, properties
