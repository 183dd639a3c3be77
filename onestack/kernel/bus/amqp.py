"""RabbitMQ bus through aio-pika.

Topology, per bus exchange name (default "onestack"):
- a durable topic exchange; a durable queue per topic (its servers compete for
  messages) and one per server, "topic.server", bound with those routing keys;
- a durable fanout exchange "<exchange>.<topic>.fanout" with one exclusive
  auto-delete queue per running server;
- an exclusive reply queue per connection; replies find their call by correlation id.
Senders declare the route they publish to, so a cast waits in its queue for a
server to start. Calls carry a message TTL equal to their timeout.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from onestack.kernel.bus.base import (
    BusError,
    BusTimeout,
    Dispatcher,
    Target,
    decode_reply,
    encode_request,
)

log = logging.getLogger(__name__)

JSON = "application/json"
DEFAULT_PREFETCH = 64
# How long stop() lets in-flight handlers finish before cancelling them (and so not acking).
STOP_GRACE_SECONDS = 10.0


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


async def _declare_route(
    channel: AbstractChannel, exchange: AbstractExchange, routing_key: str
) -> AbstractQueue:
    queue = await channel.declare_queue(routing_key, durable=True)
    await queue.bind(exchange, routing_key)
    return queue


class AmqpServer:
    def __init__(self, bus: AmqpBus, dispatcher: Dispatcher, channel: AbstractChannel) -> None:
        self.target = dispatcher.target
        self._bus = bus
        self._dispatcher = dispatcher
        self._channel = channel
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self, exchange_name: str, fanout_exchange_name: str) -> None:
        exchange = await self._channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queues = [await _declare_route(self._channel, exchange, self.target.topic)]
        if self.target.server is not None:
            queues.append(await _declare_route(self._channel, exchange, self.target.routing_key))
        fanout_exchange = await self._channel.declare_exchange(
            fanout_exchange_name, aio_pika.ExchangeType.FANOUT, durable=True
        )
        fanout_queue = await self._channel.declare_queue(
            f"{fanout_exchange_name}.{uuid.uuid4().hex}", exclusive=True, auto_delete=True
        )
        await fanout_queue.bind(fanout_exchange)
        queues.append(fanout_queue)
        for queue in queues:
            consumer_tag = await queue.consume(self._on_delivery)
            self._consumers.append((queue, consumer_tag))

    async def _on_delivery(self, message: AbstractIncomingMessage) -> None:
        if self._stopping:
            await message.reject(requeue=True)
            return
        handler = asyncio.create_task(self._handle(message))
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        reply = await self._dispatcher.handle(message.body)
        try:
            if message.reply_to:
                response = aio_pika.Message(
                    reply, content_type=JSON, correlation_id=message.correlation_id
                )
                await self._channel.default_exchange.publish(
                    response, routing_key=message.reply_to, mandatory=False
                )
            await message.ack()
        except Exception:
            log.exception("cannot reply to or ack a message at %s", self.target)

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._bus.forget(self)
        try:
            for queue, consumer_tag in self._consumers:
                await queue.cancel(consumer_tag)
            in_flight = self._handlers - {asyncio.current_task()}
            if in_flight:
                _, late = await asyncio.wait(in_flight, timeout=STOP_GRACE_SECONDS)
                for handler in late:
                    handler.cancel()
        finally:
            # Closing the channel hands unacknowledged messages back to their queues.
            await self._channel.close()


class AmqpBus:
    """One robust connection to RabbitMQ, opened on first use."""

    def __init__(
        self, url: str, exchange: str = "onestack", prefetch: int = DEFAULT_PREFETCH
    ) -> None:
        self._url = url
        self._exchange_name = exchange
        self._prefetch = prefetch
        self._connect_lock = asyncio.Lock()
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._declared_routes: set[str] = set()
        self._fanout_exchanges: dict[str, AbstractExchange] = {}
        self._reply_queue: AbstractQueue | None = None
        self._waiting_replies: dict[str, asyncio.Future[bytes]] = {}
        self._servers: set[AmqpServer] = set()
        self._closed = False

    async def call(
        self, target: Target, method: str, ctx: dict[str, Any], timeout: float = 60, **kwargs: Any
    ) -> Any:
        body = encode_request(method, ctx, kwargs)
        exchange = await self._route_to(target.routing_key)
        assert self._reply_queue is not None
        correlation_id = uuid.uuid4().hex
        reply = asyncio.get_running_loop().create_future()
        self._waiting_replies[correlation_id] = reply
        message = aio_pika.Message(
            body,
            content_type=JSON,
            correlation_id=correlation_id,
            reply_to=self._reply_queue.name,
            expiration=timeout,
        )
        try:
            async with asyncio.timeout(timeout):
                await exchange.publish(message, target.routing_key, mandatory=False)
                reply_body = await reply
        except TimeoutError:
            raise BusTimeout(f"no reply to {method} at {target} within {timeout} s") from None
        finally:
            self._waiting_replies.pop(correlation_id, None)
        return decode_reply(reply_body)

    async def cast(self, target: Target, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        body = encode_request(method, ctx, kwargs)
        exchange = await self._route_to(target.routing_key)
        message = aio_pika.Message(
            body, content_type=JSON, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        await exchange.publish(message, target.routing_key, mandatory=False)

    async def fanout(self, topic: str, method: str, ctx: dict[str, Any], **kwargs: Any) -> None:
        body = encode_request(method, ctx, kwargs)
        exchange = self._fanout_exchanges.get(topic)
        if exchange is None:
            publisher = await self._publisher_ready()
            exchange = await publisher.declare_exchange(
                self._fanout_exchange_name(topic), aio_pika.ExchangeType.FANOUT, durable=True
            )
            self._fanout_exchanges[topic] = exchange
        await exchange.publish(aio_pika.Message(body, content_type=JSON), "", mandatory=False)

    async def serve(self, target: Target, endpoints: object) -> AmqpServer:
        dispatcher = Dispatcher(target, endpoints)
        await self._publisher_ready()
        assert self._connection is not None
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        server = AmqpServer(self, dispatcher, channel)
        self._servers.add(server)
        try:
            await server.start(self._exchange_name, self._fanout_exchange_name(target.topic))
        except BaseException:
            await server.stop()
            raise
        return server

    def forget(self, server: AmqpServer) -> None:
        self._servers.discard(server)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(server.stop() for server in list(self._servers)))
        for reply in self._waiting_replies.values():
            if not reply.done():
                reply.set_exception(BusError("bus connection closed while waiting for a reply"))
        if self._connection is not None:
            await self._connection.close()

    def _fanout_exchange_name(self, topic: str) -> str:
        return f"{self._exchange_name}.{Target(topic).topic}.fanout"

    async def _publisher_ready(self) -> AbstractChannel:
        if self._closed:
            raise BusError("bus connection is closed")
        async with self._connect_lock:
            if self._publisher is None:
                try:
                    self._connection = await aio_pika.connect_robust(self._url)
                except (OSError, aio_pika.exceptions.AMQPError) as exc:
                    raise BusError(f"cannot connect to {_redacted(self._url)}: {exc}") from exc
                self._publisher = await self._connection.channel()
                self._exchange = await self._publisher.declare_exchange(
                    self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
                # Named here: a robust reconnect cannot re-declare a server-named queue.
                self._reply_queue = await self._publisher.declare_queue(
                    f"{self._exchange_name}.reply.{uuid.uuid4().hex}",
                    exclusive=True,
                    auto_delete=True,
                )
                await self._reply_queue.consume(self._on_reply, no_ack=True)
        return self._publisher

    async def _route_to(self, routing_key: str) -> AbstractExchange:
        publisher = await self._publisher_ready()
        assert self._exchange is not None
        if routing_key not in self._declared_routes:
            await _declare_route(publisher, self._exchange, routing_key)
            self._declared_routes.add(routing_key)
        return self._exchange

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        reply = self._waiting_replies.get(message.correlation_id or "")
        if reply is not None and not reply.done():
            reply.set_result(message.body)
