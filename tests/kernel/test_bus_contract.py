"""One contract, two backends: what passes on local:// must pass on RabbitMQ, and back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from onestack.kernel.bus import (
    Bus,
    BusError,
    BusTimeout,
    NoSuchMethod,
    RemoteError,
    Target,
    connect,
    register_exception,
)

SERVER_NAMES = ("a", "b", "c")
CTX = {"user_id": "u-1", "project_id": "p-1", "roles": ["member"], "request_id": "req-1"}
DELIVERY_WAIT = 5.0


@register_exception
class QuotaExceeded(Exception):
    def __init__(self, resource: str, limit: int) -> None:
        super().__init__(resource, limit)


@dataclass
class Flavor:
    name: str
    vcpus: int
    extra_specs: dict[str, str]


class Endpoints:
    """Endpoints that echo, fail, sleep, and record what they receive."""

    def __init__(self, name: str = "anonymous") -> None:
        self.name = name
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sleeping = asyncio.Event()

    async def echo(self, ctx: dict[str, Any], value: Any) -> Any:
        return value

    async def describe(self, ctx: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"ctx": ctx, "kwargs": kwargs}

    async def whoami(self, ctx: dict[str, Any]) -> str:
        return self.name

    async def record(self, ctx: dict[str, Any], **kwargs: Any) -> None:
        await self.received.put(kwargs)

    async def exceed_quota(self, ctx: dict[str, Any]) -> None:
        raise QuotaExceeded("cores", 4)

    async def fail(self, ctx: dict[str, Any]) -> None:
        raise ValueError("no such flavor")

    async def sleep(self, ctx: dict[str, Any], seconds: float) -> float:
        self.sleeping.set()
        await asyncio.sleep(seconds)
        return seconds

    async def unserialisable(self, ctx: dict[str, Any]) -> object:
        return object()

    def sync_helper(self, ctx: dict[str, Any]) -> None:
        """Not an endpoint: only async methods are served."""

    async def _private(self, ctx: dict[str, Any]) -> None:
        """Not an endpoint: only public methods are served."""


@pytest.fixture
def topic() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["local", pytest.param("amqp", marks=pytest.mark.amqp)])
async def new_bus(request: pytest.FixtureRequest, topic: str) -> AsyncIterator[Callable[[], Bus]]:
    """Opens connections to one broker; all are closed (and test queues deleted) afterwards."""
    if request.param == "local":
        url = f"local://{uuid.uuid4().hex}"
    else:
        url = request.getfixturevalue("amqp_url")
    buses: list[Bus] = []

    def open_connection() -> Bus:
        buses.append(connect(url))
        return buses[-1]

    yield open_connection
    for bus in buses:
        await bus.close()
    if request.param == "amqp":
        await _delete_topology(url, topic)


async def _delete_topology(url: str, topic: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in (topic, *(f"{topic}.{server}" for server in SERVER_NAMES)):
            await channel.queue_delete(queue)
        await channel.exchange_delete(f"onestack.{topic}.fanout")


@pytest.fixture
def bus(new_bus: Callable[[], Bus]) -> Bus:
    """The calling side."""
    return new_bus()


@pytest.fixture
def peer(new_bus: Callable[[], Bus]) -> Bus:
    """Another connection to the same broker, where the servers run."""
    return new_bus()


async def test_call_returns_every_codec_type(bus: Bus, peer: Bus, topic: str) -> None:
    await peer.serve(Target(topic), Endpoints())
    moment = datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
    instance_id = uuid.uuid4()
    value = {
        "none": None,
        "flag": True,
        "count": 7,
        "ratio": 1.5,
        "text": "naïve ☁",
        "list": [1, "two", [3]],
        "created_at": moment,
        "id": instance_id,
        "user_data": b"\x00\xffcloud-init",
        "tags": {"blue"},
        "pair": (1, "x"),
        "flavor": Flavor("m1.small", 1, {"hw:cpu_policy": "dedicated"}),
        "looks_like_a_tag": {"$uuid": "just a string"},
    }
    result = await peer_call(bus, Target(topic), "echo", value=value)
    assert result == {
        **value,
        "tags": ["blue"],
        "pair": [1, "x"],
        "flavor": {"name": "m1.small", "vcpus": 1, "extra_specs": {"hw:cpu_policy": "dedicated"}},
    }
    assert isinstance(result["id"], uuid.UUID)
    assert result["created_at"].tzinfo is not None
    assert isinstance(result["user_data"], bytes)


async def peer_call(bus: Bus, target: Target, method: str, **kwargs: Any) -> Any:
    return await bus.call(target, method, CTX, timeout=DELIVERY_WAIT, **kwargs)


async def test_ctx_and_kwargs_round_trip(bus: Bus, peer: Bus, topic: str) -> None:
    await peer.serve(Target(topic), Endpoints())
    result = await peer_call(bus, Target(topic), "describe", image="cirros", count=2, meta={})
    assert result == {"ctx": CTX, "kwargs": {"image": "cirros", "count": 2, "meta": {}}}


async def test_cast_is_delivered(bus: Bus, peer: Bus, topic: str) -> None:
    endpoints = Endpoints()
    await peer.serve(Target(topic), endpoints)
    await bus.cast(Target(topic), "record", CTX, instance="i-1")
    received = await asyncio.wait_for(endpoints.received.get(), DELIVERY_WAIT)
    assert received == {"instance": "i-1"}


async def test_cast_waits_for_a_server_to_start(bus: Bus, peer: Bus, topic: str) -> None:
    await bus.cast(Target(topic, "a"), "record", CTX, instance="i-early")
    endpoints = Endpoints("a")
    await peer.serve(Target(topic, "a"), endpoints)
    received = await asyncio.wait_for(endpoints.received.get(), DELIVERY_WAIT)
    assert received == {"instance": "i-early"}


async def test_fanout_reaches_every_server(bus: Bus, peer: Bus, topic: str) -> None:
    named = [Endpoints(name) for name in ("a", "b")]
    anonymous = Endpoints()
    for endpoints in named:
        await peer.serve(Target(topic, endpoints.name), endpoints)
    await peer.serve(Target(topic), anonymous)
    await bus.fanout(topic, "record", CTX, event="refresh")
    for endpoints in [*named, anonymous]:
        received = await asyncio.wait_for(endpoints.received.get(), DELIVERY_WAIT)
        assert received == {"event": "refresh"}


async def test_server_target_reaches_only_that_server(bus: Bus, peer: Bus, topic: str) -> None:
    for name in ("a", "b"):
        await peer.serve(Target(topic, name), Endpoints(name))
    answers = [await peer_call(bus, Target(topic, "b"), "whoami") for _ in range(6)]
    assert answers == ["b"] * 6


async def test_topic_calls_take_turns_among_servers(bus: Bus, peer: Bus, topic: str) -> None:
    for name in ("a", "b"):
        await peer.serve(Target(topic, name), Endpoints(name))
    answers = [await peer_call(bus, Target(topic), "whoami") for _ in range(10)]
    assert Counter(answers) == {"a": 5, "b": 5}


async def test_registered_exception_is_raised_as_itself(bus: Bus, peer: Bus, topic: str) -> None:
    await peer.serve(Target(topic), Endpoints())
    with pytest.raises(QuotaExceeded) as raised:
        await peer_call(bus, Target(topic), "exceed_quota")
    assert raised.value.args == ("cores", 4)


async def test_unregistered_exception_is_a_remote_error(bus: Bus, peer: Bus, topic: str) -> None:
    await peer.serve(Target(topic), Endpoints())
    with pytest.raises(RemoteError) as raised:
        await peer_call(bus, Target(topic), "fail")
    assert (raised.value.exc_type, raised.value.message) == ("ValueError", "no such flavor")
    assert "in fail" in raised.value.remote_traceback


@pytest.mark.parametrize("method", ["missing", "_private", "sync_helper"])
async def test_only_public_async_methods_are_served(
    bus: Bus, peer: Bus, topic: str, method: str
) -> None:
    await peer.serve(Target(topic), Endpoints())
    with pytest.raises(NoSuchMethod, match=method):
        await peer_call(bus, Target(topic), method)


async def test_call_without_server_times_out(bus: Bus, topic: str) -> None:
    started = time.monotonic()
    with pytest.raises(BusTimeout):
        await bus.call(Target(topic), "whoami", CTX, timeout=0.3)
    assert time.monotonic() - started < 2


async def test_codec_refuses_what_cannot_cross_a_network(bus: Bus, peer: Bus, topic: str) -> None:
    await peer.serve(Target(topic), Endpoints())
    with pytest.raises(TypeError, match=r"builtins\.object at \$\.kwargs\.thing"):
        await bus.cast(Target(topic), "record", CTX, thing=object())
    with pytest.raises(TypeError, match=r"builtins\.object at \$\.kwargs\.value\[0\]"):
        await peer_call(bus, Target(topic), "echo", value=[object()])
    with pytest.raises(RemoteError, match=r"TypeError: cannot serialise builtins\.object"):
        await peer_call(bus, Target(topic), "unserialisable")


async def test_stopped_server_gets_no_more_messages(bus: Bus, peer: Bus, topic: str) -> None:
    server_a = await peer.serve(Target(topic, "a"), Endpoints("a"))
    server_b = await peer.serve(Target(topic, "b"), Endpoints("b"))
    await server_a.stop()
    answers = [await peer_call(bus, Target(topic), "whoami") for _ in range(4)]
    assert answers == ["b"] * 4
    await server_b.stop()
    with pytest.raises(BusTimeout):
        await bus.call(Target(topic), "whoami", CTX, timeout=0.3)


async def test_concurrent_calls_are_handled_concurrently(bus: Bus, peer: Bus, topic: str) -> None:
    await peer.serve(Target(topic), Endpoints())
    started = time.monotonic()
    results = await asyncio.gather(
        *(peer_call(bus, Target(topic), "sleep", seconds=0.2 + n / 1000) for n in range(50))
    )
    assert results == [0.2 + n / 1000 for n in range(50)]
    assert time.monotonic() - started < 3, "50 calls of 0.2 s each ran one after another"


async def test_close_fails_pending_calls(bus: Bus, peer: Bus, topic: str) -> None:
    endpoints = Endpoints()
    await peer.serve(Target(topic), endpoints)
    pending = asyncio.create_task(peer_call(bus, Target(topic), "sleep", seconds=2))
    # close only once the call is surely in flight (a fixed sleep races on a busy host)
    await asyncio.wait_for(endpoints.sleeping.wait(), DELIVERY_WAIT)
    await bus.close()
    with pytest.raises(BusError):
        await pending
    with pytest.raises(BusError):
        await bus.cast(Target(topic), "record", CTX)
