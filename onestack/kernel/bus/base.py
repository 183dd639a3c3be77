"""The bus contract shared by every backend: targets, errors, and the message envelope.

A request is {"method", "ctx", "kwargs"}; a reply is {"result": value} or
{"error": {...}}. Both backends build and read them here, so they behave alike.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from onestack.kernel.bus import codec

log = logging.getLogger(__name__)

Endpoint = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Target:
    """Where a message goes: any one server of topic, or exactly the one named server."""

    topic: str
    server: str | None = None

    def __post_init__(self) -> None:
        # The per-server route is "topic.server", so a dotted topic could collide with it.
        if not self.topic or "." in self.topic:
            raise ValueError(f"topic must be a non-empty name without dots, got {self.topic!r}")
        if self.server == "":
            raise ValueError("server must be None or a non-empty name")

    @property
    def routing_key(self) -> str:
        return self.topic if self.server is None else f"{self.topic}.{self.server}"

    def __str__(self) -> str:
        return self.routing_key


class BusError(Exception):
    """Base of everything the bus itself raises."""


class BusTimeout(BusError):
    """No reply arrived within the call's timeout (no server, or a slow one)."""


class NoSuchMethod(BusError):
    """The server has no public async method of that name."""


class RemoteError(BusError):
    """An endpoint raised an exception whose class is not registered with the codec."""

    def __init__(self, exc_type: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(exc_type, message)
        self.exc_type = exc_type
        self.message = message
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        return f"{self.exc_type}: {self.message}"


codec.register_exception(BusTimeout)
codec.register_exception(NoSuchMethod)


class Server(Protocol):
    target: Target

    async def stop(self) -> None:
        """Stop taking messages, let the ones in hand finish, then detach."""


class Bus(Protocol):
    async def call(
        self, target: Target, method: str, ctx: dict[str, Any], timeout: float = 60, **kwargs: Any
    ) -> Any:
        """Run method on one server of target and return its result or raise its exception."""

    async def cast(self, target: Target, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        """Send method to one server of target without waiting for it."""

    async def fanout(self, topic: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        """Send method to every server of topic without waiting for them."""

    async def serve(self, target: Target, endpoints: object) -> Server:
        """Serve the public async methods of endpoints at target until the server stops."""

    async def close(self) -> None:
        """Stop this connection's servers and fail its pending calls."""


def endpoint_methods(endpoints: object) -> dict[str, Endpoint]:
    """The public async methods of endpoints, by name."""
    methods: dict[str, Endpoint] = {}
    for name in dir(endpoints):
        if name.startswith("_"):
            continue
        # Look before getattr so that serving an object never evaluates its properties.
        if isinstance(inspect.getattr_static(endpoints, name), property):
            continue
        value = getattr(endpoints, name)
        if inspect.iscoroutinefunction(value):
            methods[name] = value
    return methods


def encode_request(method: str, ctx: dict[str, Any], kwargs: dict[str, Any]) -> bytes:
    return codec.encode({"method": method, "ctx": ctx, "kwargs": kwargs})


def decode_reply(body: bytes) -> Any:
    """The result carried by a reply, or raise the exception it carries."""
    reply = codec.decode(body)
    if "error" in reply:
        raise _exception_from_wire(reply["error"])
    return reply["result"]


class Dispatcher:
    """Turns request messages into calls on an endpoints object and results into replies."""

    def __init__(self, target: Target, endpoints: object) -> None:
        self.target = target
        self._methods = endpoint_methods(endpoints)
        if not self._methods:
            raise ValueError(f"{type(endpoints).__qualname__} has no public async methods to serve")

    async def handle(self, body: bytes) -> bytes:
        """Run the request and return the reply (dropped by the backend for casts)."""
        method_name = "<undecodable request>"
        try:
            request = codec.decode(body)
            method_name = request["method"]
            method = self._methods.get(method_name)
            if method is None:
                raise NoSuchMethod(f"{method_name!r} is not a method served at {self.target}")
            result = await method(request["ctx"], **request["kwargs"])
            return codec.encode({"result": result})
        except Exception as exc:
            if codec.registered_exception(codec.exception_name(type(exc))) is None:
                log.exception("bus endpoint %s %s failed", self.target, method_name)
            return _failure_reply(exc)


def _failure_reply(exc: Exception) -> bytes:
    name = codec.exception_name(type(exc))
    error: dict[str, Any] = {"name": name, "type": type(exc).__qualname__, "message": str(exc)}
    if isinstance(exc, RemoteError):
        # Relaying a failure from a nested call: keep the original type and traceback.
        error.update(type=exc.exc_type, message=exc.message, traceback=exc.remote_traceback)
    elif codec.registered_exception(name) is type(exc):
        error["args"] = list(exc.args)
    else:
        error["traceback"] = "".join(traceback.format_exception(exc))
    try:
        return codec.encode({"error": error})
    except (TypeError, ValueError):
        error.pop("args")
        return codec.encode({"error": error})


def _exception_from_wire(error: dict[str, Any]) -> Exception:
    cls = codec.registered_exception(error["name"])
    if cls is not None and "args" in error:
        try:
            return cls(*error["args"])
        except Exception:
            log.warning("cannot re-create %s from %r", error["name"], error["args"])
    return RemoteError(error["type"], error["message"], error.get("traceback", ""))
