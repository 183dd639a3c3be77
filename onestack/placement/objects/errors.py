"""Placement's error codes (errors[].code from 1.23) on the kernel's faults."""

from __future__ import annotations

from onestack.kernel.api.faults import BadRequest, Conflict, NotFound

UNDEFINED = "placement.undefined_code"
CONCURRENT_UPDATE = "placement.concurrent_update"
DUPLICATE_NAME = "placement.duplicate_name"
INVENTORY_INUSE = "placement.inventory.inuse"
PROVIDER_INUSE = "placement.resource_provider.inuse"
CANNOT_DELETE_PARENT = "placement.resource_provider.cannot_delete_parent"
PROVIDER_NOT_FOUND = "placement.resource_provider.not_found"
ROOT_CONFLICT = "placement.resource_provider.root_provider_conflict"
DUPLICATE_KEY = "placement.query.duplicate_key"
BAD_VALUE = "placement.query.bad_value"
MISSING_VALUE = "placement.query.missing_value"


def conflict(message: str, code: str = UNDEFINED) -> Conflict:
    return Conflict(message, code=code)


def not_found(message: str, code: str = UNDEFINED) -> NotFound:
    return NotFound(message, code=code)


def bad_request(message: str, code: str = UNDEFINED) -> BadRequest:
    return BadRequest(message, code=code)


def generation_conflict(kind: str = "resource provider") -> Conflict:
    return conflict(f"{kind} generation conflict: another process changed it; "
                    "read it again and retry.", CONCURRENT_UPDATE)
