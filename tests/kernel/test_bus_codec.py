from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from onestack.kernel.bus import codec


@dataclass
class Port:
    id: uuid.UUID
    fixed_ips: list[str] = field(default_factory=list)


@dataclass
class Server:
    name: str
    ports: list[Port]


def round_trip(obj: object) -> Any:
    return codec.decode(codec.encode(obj))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -3,
        2**70,
        1.25,
        "",
        "ünïcødé ☁",
        [],
        {},
        [1, [2, [3]]],
        {"a": {"b": 1}},
    ],
)
def test_json_values_round_trip(value: object) -> None:
    assert round_trip(value) == value


def test_output_is_plain_json() -> None:
    encoded = codec.encode({"id": uuid.UUID(int=1), "at": datetime(2024, 1, 1, tzinfo=UTC)})
    assert isinstance(encoded, bytes)
    assert json.loads(encoded) == {
        "id": {"$uuid": "00000000-0000-0000-0000-000000000001"},
        "at": {"$datetime": "2024-01-01T00:00:00+00:00"},
    }


def test_aware_datetime_comes_back_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    decoded = round_trip(datetime(2024, 5, 17, 14, 0, tzinfo=paris))
    assert decoded == datetime(2024, 5, 17, 12, 0, tzinfo=UTC)
    assert decoded.utcoffset() == timedelta(0)


def test_naive_datetime_is_taken_as_utc() -> None:
    assert round_trip(datetime(2024, 5, 17, 12, 0, 0, 5)) == datetime(
        2024, 5, 17, 12, 0, 0, 5, tzinfo=UTC
    )


def test_uuid_and_bytes_come_back_as_themselves() -> None:
    value = {"id": uuid.uuid4(), "blob": bytes(range(256)), "buffer": bytearray(b"xy")}
    decoded = round_trip(value)
    assert decoded == {"id": value["id"], "blob": value["blob"], "buffer": b"xy"}
    assert type(decoded["id"]) is uuid.UUID
    assert type(decoded["buffer"]) is bytes


def test_sets_and_tuples_become_lists() -> None:
    decoded = round_trip({"set": {3, 1, 2}, "frozen": frozenset({"x"}), "tuple": (1, (2, 3))})
    assert sorted(decoded["set"]) == [1, 2, 3]
    assert decoded["frozen"] == ["x"]
    assert decoded["tuple"] == [1, [2, 3]]


def test_dataclasses_become_dicts_recursively() -> None:
    port_id = uuid.uuid4()
    decoded = round_trip(Server("vm-1", [Port(port_id, ["10.0.0.5"])]))
    assert decoded == {"name": "vm-1", "ports": [{"id": port_id, "fixed_ips": ["10.0.0.5"]}]}


@pytest.mark.parametrize(
    "value",
    [{"$uuid": "not-a-uuid"}, {"$datetime": 1}, {"$bytes": "!"}, {"$dict": [1]}, {"$other": 1}],
)
def test_dicts_that_look_like_tags_survive(value: dict[str, object]) -> None:
    assert round_trip(value) == value
    assert round_trip([{"inner": value}]) == [{"inner": value}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (object(), r"builtins\.object at \$$"),
        ({"a": [1, {"b": Decimal(1)}]}, r"decimal\.Decimal at \$\.a\[1\]\.b"),
        ([date(2024, 1, 1)], r"datetime\.date at \$\[0\]"),
        (
            Server("vm", [Port(uuid.uuid4(), [object()])]),  # type: ignore[list-item]
            r"at \$\.ports\[0\]\.fixed_ips\[0\]",
        ),
        ({1: "one"}, r"dict key 1 of type int at \$: keys must be str"),
        (Port, r"builtins\.type at \$"),
    ],
)
def test_unserialisable_values_are_refused_with_type_and_path(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        codec.encode(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match=r"non-finite float .* at \$\.x"):
        codec.encode({"x": value})


def test_register_exception_is_a_decorator_keyed_by_qualified_name() -> None:
    @codec.register_exception
    class ImageNotFound(Exception):
        pass

    name = codec.exception_name(ImageNotFound)
    assert name.endswith(
        "test_register_exception_is_a_decorator_keyed_by_qualified_name.<locals>.ImageNotFound"
    )
    assert codec.registered_exception(name) is ImageNotFound
    assert codec.registered_exception("nowhere.Unknown") is None


def test_register_exception_refuses_non_exceptions() -> None:
    with pytest.raises(TypeError, match="Exception subclass"):
        codec.register_exception(int)  # type: ignore[type-var]
