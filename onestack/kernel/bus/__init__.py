"""The message bus: call, cast and fanout between services, in process or over RabbitMQ.

    bus = connect("local://")                        # all-in-one and tests
    bus = connect("amqp://user:pw@host:5672/vhost")  # distributed

Connections open on first use, so connect() itself never blocks or fails on the network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from onestack.kernel.bus.amqp import AmqpBus
from onestack.kernel.bus.base import (
    Bus,
    BusError,
    BusTimeout,
    NoSuchMethod,
    RemoteError,
    Server,
    Target,
)
from onestack.kernel.bus.codec import register_exception
from onestack.kernel.bus.local import LocalBus

__all__ = [
    "AmqpBus",
    "Bus",
    "BusError",
    "BusTimeout",
    "LocalBus",
    "NoSuchMethod",
    "RemoteError",
    "Server",
    "Target",
    "connect",
    "register_exception",
]


def connect(url: str, *, exchange: str = "onestack") -> Bus:
    """A bus for url: local://[name] (buses with the same name share one broker) or amqp(s)://.

    exchange separates independent buses on one broker (or one local name).
    """
    parts = urlsplit(url)
    if parts.scheme == "local":
        return LocalBus(parts.netloc or "default", exchange=exchange)
    if parts.scheme in ("amqp", "amqps"):
        return AmqpBus(url, exchange=exchange)
    raise ValueError(f"unsupported bus URL scheme {parts.scheme!r}: use local:// or amqp://")
