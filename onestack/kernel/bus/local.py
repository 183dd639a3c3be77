"""In-process bus over asyncio queues, for all-in-one and tests.

It keeps the AMQP backend's semantics so code behaves the same in both: every
message is encoded and decoded; a topic's servers take turns; messages wait for a
server to appear (calls until their timeout); a stopping server hands back the
messages it has not started. Connections to the same local:// URL share a broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from onestack.kernel.bus.base import (
    BusError,
    BusTimeout,
    Dispatcher,
    Target,
    decode_reply,
    encode_request,
)

# How long stop() lets in-flight handlers finish before cancelling them.
STOP_GRACE_SECONDS = 10.0


@dataclass
class _Delivery:
    body: bytes
    routing_key: str | None  # None for fanout copies, which are never handed back
    reply: asyncio.Future[bytes] | None = None
    expires_at: float | None = None

    def expired(self) -> bool:
        return self.expires_at is not None and asyncio.get_running_loop().time() > self.expires_at


@dataclass(eq=False)
class _Route:
    """The servers consuming one routing key, in turn; messages wait here when there are none."""

    servers: list[LocalServer] = field(default_factory=list)
    turn: int = 0
    backlog: deque[_Delivery] = field(default_factory=deque)

    def deliver(self, delivery: _Delivery) -> None:
        if not self.servers:
            # Like a RabbitMQ queue, expire from the head only: cheap and bounded by traffic.
            while self.backlog and self.backlog[0].expired():
                self.backlog.popleft()
            self.backlog.append(delivery)
            return
        server = self.servers[self.turn % len(self.servers)]
        self.turn += 1
        server.enqueue(delivery)

    def add(self, server: LocalServer) -> None:
        self.servers.append(server)
        waiting, self.backlog = self.backlog, deque()
        for delivery in waiting:
            if not delivery.expired():
                self.deliver(delivery)


class _Broker:
    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        self.fanout_servers: dict[str, list[LocalServer]] = {}

    def route(self, routing_key: str) -> _Route:
        return self.routes.setdefault(routing_key, _Route())

    def routing_keys(self, target: Target) -> list[str]:
        keys = [target.topic]
        if target.server is not None:
            keys.append(target.routing_key)
        return keys

    def attach(self, server: LocalServer) -> None:
        for key in self.routing_keys(server.target):
            self.route(key).add(server)
        self.fanout_servers.setdefault(server.target.topic, []).append(server)

    def detach(self, server: LocalServer) -> None:
        for key in self.routing_keys(server.target):
            self.routes[key].servers.remove(server)
        self.fanout_servers[server.target.topic].remove(server)


_brokers: weakref.WeakValueDictionary[str, _Broker] = weakref.WeakValueDictionary()


class LocalServer:
    def __init__(self, broker: _Broker, dispatcher: Dispatcher, running: set[LocalServer]) -> None:
        self.target = dispatcher.target
        self._broker = broker
        self._running = running
        self._dispatcher = dispatcher
        self._inbox: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._handlers: set[asyncio.Task[None]] = set()
        self._pump = asyncio.create_task(self._take_deliveries())
        self._stopped = False
        broker.attach(self)
        running.add(self)

    def enqueue(self, delivery: _Delivery) -> None:
        self._inbox.put_nowait(delivery)

    async def _take_deliveries(self) -> None:
        while True:
            delivery = await self._inbox.get()
            if delivery.expired():
                continue
            handler = asyncio.create_task(self._handle(delivery))
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    async def _handle(self, delivery: _Delivery) -> None:
        reply = await self._dispatcher.handle(delivery.body)
        if delivery.reply is not None and not delivery.reply.done():
            delivery.reply.set_result(reply)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._running.discard(self)
        self._broker.detach(self)
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        while not self._inbox.empty():
            delivery = self._inbox.get_nowait()
            if delivery.routing_key is not None:
                self._broker.route(delivery.routing_key).deliver(delivery)
        # An endpoint may stop its own server; it must not wait for itself.
        in_flight = self._handlers - {asyncio.current_task()}
        if in_flight:
            _, late = await asyncio.wait(in_flight, timeout=STOP_GRACE_SECONDS)
            for handler in late:
                handler.cancel()


class LocalBus:
    """One connection to the in-process broker of a name; buses of one name reach each other.

    exchange separates independent buses under one name, as it does on RabbitMQ.
    """

    def __init__(self, name: str = "default", exchange: str = "onestack") -> None:
        broker_name = f"{name}/{exchange}"
        broker = _brokers.get(broker_name)
        if broker is None:
            broker = _brokers[broker_name] = _Broker()
        self._broker = broker
        self._servers: set[LocalServer] = set()
        self._pending_calls: set[asyncio.Future[bytes]] = set()
        self._closed = False

    async def call(
        self, target: Target, method: str, ctx: dict[str, Any], timeout: float = 60, **kwargs: Any
    ) -> Any:
        self._check_open()
        body = encode_request(method, ctx, kwargs)
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[bytes] = loop.create_future()
        delivery = _Delivery(body, target.routing_key, reply, loop.time() + timeout)
        self._broker.route(target.routing_key).deliver(delivery)
        self._pending_calls.add(reply)
        try:
            # not wait_for: on 3.11 it swallows a cancellation that lands as the reply
            # arrives, and a cancelled caller (a service stopping) then never stops
            async with asyncio.timeout(timeout):
                reply_body = await reply
        except TimeoutError:
            raise BusTimeout(f"no reply to {method} at {target} within {timeout} s") from None
        finally:
            self._pending_calls.discard(reply)
        return decode_reply(reply_body)

    async def cast(self, target: Target, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        self._check_open()
        body = encode_request(method, ctx, kwargs)
        self._broker.route(target.routing_key).deliver(_Delivery(body, target.routing_key))

    async def fanout(self, topic: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        self._check_open()
        body = encode_request(method, ctx, kwargs)
        Target(topic)  # refuses a malformed topic, as call and cast do
        for server in self._broker.fanout_servers.get(topic, []):
            server.enqueue(_Delivery(body, routing_key=None))

    async def serve(self, target: Target, endpoints: object) -> LocalServer:
        self._check_open()
        return LocalServer(self._broker, Dispatcher(target, endpoints), self._servers)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(server.stop() for server in list(self._servers)))
        for reply in self._pending_calls:
            if not reply.done():
                reply.set_exception(BusError("bus connection closed while waiting for a reply"))

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("bus connection is closed")
