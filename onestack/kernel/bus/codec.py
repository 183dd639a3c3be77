"""Wire codec of the bus: every message is JSON, also in process.

Besides JSON's own types the codec carries datetime (ISO 8601, UTC), uuid.UUID and
bytes as tagged single-key objects, so they come back as the same type. Sets and
tuples become lists and dataclasses become dicts; these do not come back as
themselves. Anything else is refused with a TypeError naming the type and the path
inside the message, so all-in-one fails where a distributed deployment would.

Domain exceptions registered here cross the bus as themselves (see base.py).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

_DATETIME = "$datetime"
_UUID = "$uuid"
_BYTES = "$bytes"
# A plain dict that looks like a tag is sent as a list of pairs under this tag.
_ESCAPED_DICT = "$dict"
_TAGS = frozenset({_DATETIME, _UUID, _BYTES, _ESCAPED_DICT})

ExceptionT = TypeVar("ExceptionT", bound=type[Exception])

_registered_exceptions: dict[str, type[Exception]] = {}


def encode(obj: Any) -> bytes:
    """Serialise obj to JSON bytes; TypeError/ValueError name what cannot go on the wire."""
    try:
        wire = _plain_to_wire(obj)
    except _NotPlain:
        wire = _to_wire(obj, "$")
    return json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode()


class _NotPlain(Exception):
    """Something the fast path leaves to _to_wire (tagged types, errors to locate)."""


_PLAIN = frozenset({str, int, bool, type(None)})


def _plain_to_wire(obj: Any) -> Any:
    """The common case fast: dicts with str keys, lists, tuples, str, int, bool, None,
    finite floats; anything else raises _NotPlain and the whole message takes the
    careful path (which also names the place of an error)."""
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is float:
        if math.isfinite(obj):
            return obj
        raise _NotPlain
    if kind is dict:
        wire = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise _NotPlain
            wire[key] = value if type(value) in _PLAIN else _plain_to_wire(value)
        if len(wire) == 1 and next(iter(wire)) in _TAGS:
            return {_ESCAPED_DICT: list(wire.items())}
        return wire
    if kind is list or kind is tuple:
        return [item if type(item) in _PLAIN else _plain_to_wire(item) for item in obj]
    raise _NotPlain


def decode(data: bytes | str) -> Any:
    return json.loads(data, object_hook=_from_wire_object)


def _to_wire(obj: Any, path: str) -> Any:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"cannot serialise non-finite float {obj!r} at {path}")
        return obj
    if isinstance(obj, datetime):
        return {_DATETIME: _as_utc(obj).isoformat()}
    if isinstance(obj, uuid.UUID):
        return {_UUID: str(obj)}
    if isinstance(obj, bytes | bytearray):
        return {_BYTES: base64.b64encode(obj).decode("ascii")}
    if isinstance(obj, dict):
        return _dict_to_wire(obj, path)
    if isinstance(obj, list | tuple | set | frozenset):
        return [_to_wire(item, f"{path}[{index}]") for index, item in enumerate(obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            field.name: _to_wire(getattr(obj, field.name), f"{path}.{field.name}")
            for field in dataclasses.fields(obj)
        }
    kind = type(obj)
    raise TypeError(f"cannot serialise {kind.__module__}.{kind.__qualname__} at {path}")


def _dict_to_wire(obj: dict[Any, Any], path: str) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(
                f"cannot serialise dict key {key!r} of type {type(key).__qualname__} "
                f"at {path}: keys must be str"
            )
        wire[key] = _to_wire(value, f"{path}.{key}")
    if len(wire) == 1 and next(iter(wire)) in _TAGS:
        return {_ESCAPED_DICT: list(wire.items())}
    return wire


def _as_utc(moment: datetime) -> datetime:
    # Naive datetimes come from database columns, which hold UTC by convention.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _from_wire_object(obj: dict[str, Any]) -> Any:
    if len(obj) != 1:
        return obj
    tag, value = next(iter(obj.items()))
    decoder = _TAG_DECODERS.get(tag)
    return obj if decoder is None else decoder(value)


_TAG_DECODERS: dict[str, Callable[[Any], Any]] = {
    _DATETIME: datetime.fromisoformat,
    _UUID: uuid.UUID,
    _BYTES: base64.b64decode,
    _ESCAPED_DICT: dict,
}


def register_exception(cls: ExceptionT) -> ExceptionT:
    """Let cls cross the bus as itself (re-created from its args); usable as a decorator."""
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        raise TypeError(f"register_exception needs an Exception subclass, got {cls!r}")
    _registered_exceptions[exception_name(cls)] = cls
    return cls


def exception_name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def registered_exception(name: str) -> type[Exception] | None:
    return _registered_exceptions.get(name)
