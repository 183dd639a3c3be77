"""A per-instance metadata relay: until guests sit on the Linux dataplane (where
Neutron's metadata proxy does this job), a guest on QEMU's user-mode network reaches
the metadata API through QEMU's guest forwarding::

    -netdev user,...,guestfwd=tcp:169.254.169.254:80-cmd:socat STDIO UNIX-CONNECT:<path>

Each TCP connection the guest opens to 169.254.169.254:80 becomes one connection to
the relay's Unix socket. The relay reads HTTP/1.x requests from it (keep-alive,
bodies, ``Expect: 100-continue``), forwards each to the metadata API with the signed
``X-Instance-ID``/``X-Tenant-ID``/``X-Instance-ID-Signature`` headers of its
instance (any the guest sent are dropped), and streams the answer back.

Usage (one relay per running guest; the QEMU driver owns it)::

    relay = MetadataRelay.for_instance(config, sock_path, uuid, project_id)
    await relay.start()      # listening on sock_path (a stale file is replaced)
    ...
    await relay.close()      # stops, drops open connections, removes sock_path
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any
from urllib.parse import urlsplit

import h11

from onestack.kernel.config import Config
from onestack.kernel.metadata_secret import proxy_headers, shared_secret

log = logging.getLogger(__name__)

# Headers that belong to one hop, or that only the relay may set.
HOP_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                         b"transfer-encoding", b"upgrade", b"expect", b"content-length"})
IDENTITY_HEADERS = frozenset({b"x-instance-id", b"x-tenant-id", b"x-instance-id-signature",
                              b"x-forwarded-for", b"x-metadata-provider",
                              b"x-metadata-provider-signature"})
CHUNK = 65536
Headers = list[tuple[bytes, bytes]]


class Unreachable(Exception):
    """The metadata API did not answer."""


class _Upstream:
    """One keep-alive HTTP connection to the metadata API."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.conn = h11.Connection(h11.CLIENT)
        self.used = False  # a request went over this connection already

    async def open(self) -> None:
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout)
        except (TimeoutError, OSError) as exc:
            raise Unreachable(f"{self.host}:{self.port}: {exc}") from None
        self.conn = h11.Connection(h11.CLIENT)
        self.used = False

    async def send(self, *events: Any) -> None:
        assert self.writer is not None
        for event in events:
            data = self.conn.send(event)
            if data:
                self.writer.write(data)
        await self.writer.drain()

    async def event(self) -> Any:
        assert self.reader is not None
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(self.reader.read(CHUNK), self.timeout)
            self.conn.receive_data(data)

    def reusable(self) -> bool:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return True
        return False

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class MetadataRelay:
    """Relays one instance's metadata requests from a Unix socket to the metadata
    API at ``upstream`` (``http://host:port``), signed with ``secret``."""

    def __init__(self, path: str, instance_id: str, project_id: str, upstream: str,
                 secret: str, *, mode: int = 0o600, timeout: float = 60.0,
                 max_body: int = 1 << 20) -> None:
        self.path = path
        self.upstream = upstream
        url = urlsplit(upstream)
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 80
        self._host_header = url.netloc.encode()
        self._identity = [(k.encode(), v.encode())
                          for k, v in proxy_headers(instance_id, project_id, secret).items()]
        self.mode = mode
        self.timeout = timeout
        self.max_body = max_body
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @classmethod
    def for_instance(cls, config: Config, path: str, instance_id: str, project_id: str,
                     **options: Any) -> MetadataRelay:
        """A relay to this cloud's metadata API, with its shared secret."""
        return cls(path, instance_id, project_id, config.public_url("compute-metadata"),
                   shared_secret(config), **options)

    async def start(self) -> None:
        """Listen on the socket path (its directory is made; a stale socket left by an
        earlier run is replaced)."""
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._accept, path=self.path)
        os.chmod(self.path, self.mode)

    async def close(self) -> None:
        """Stop listening, drop the open connections and remove the socket file."""
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def __aenter__(self) -> MetadataRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- one guest connection ----------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream = _Upstream(self._host, self._port, self.timeout)
        try:
            await self._serve(reader, writer, upstream)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # close() ends the connections (asyncio would log a cancelled one)
        except Exception:
            log.exception("metadata relay %s failed", self.path)
        finally:
            self._connections.discard(task)
            await upstream.close()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     upstream: _Upstream) -> None:
        guest = h11.Connection(h11.SERVER)
        while True:
            try:
                request = await _next(guest, reader)
                if not isinstance(request, h11.Request):
                    return  # the guest closed the connection
                body = await self._body(guest, reader, writer)
            except h11.RemoteProtocolError as exc:
                await _reply(guest, writer, exc.error_status_hint, "Bad request")
                return
            if body is None:
                await _reply(guest, writer, 413, "Request body too large")
                return
            try:
                await self._forward(guest, writer, upstream, request, body)
            except Unreachable as exc:
                log.warning("metadata relay %s: %s", self.path, exc)
                await upstream.close()
                if guest.our_state is h11.SEND_RESPONSE:
                    await _reply(guest, writer, 502, "The metadata service is unreachable")
                return
            if guest.our_state is not h11.DONE or guest.their_state is not h11.DONE:
                return
            guest.start_next_cycle()

    async def _body(self, guest: h11.Connection, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> bytes | None:
        """The request's body; None when it is larger than max_body."""
        if guest.they_are_waiting_for_100_continue:
            writer.write(guest.send(h11.InformationalResponse(status_code=100, headers=[])))
            await writer.drain()
        body = bytearray()
        while True:
            event = await _next(guest, reader)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body:
                    return None
            elif isinstance(event, h11.EndOfMessage):
                return bytes(body)
            else:
                raise h11.RemoteProtocolError("the request ended early")

    def _headers(self, request: h11.Request, body: bytes) -> Headers:
        headers = [(k, v) for k, v in request.headers
                   if k not in HOP_HEADERS and k not in IDENTITY_HEADERS]
        if not any(k == b"host" for k, _ in headers):
            headers.append((b"host", self._host_header))
        if body or request.method not in (b"GET", b"HEAD", b"DELETE", b"OPTIONS"):
            headers.append((b"content-length", str(len(body)).encode()))
        return [*headers, *self._identity]

    async def _forward(self, guest: h11.Connection, writer: asyncio.StreamWriter,
                       upstream: _Upstream, request: h11.Request, body: bytes) -> None:
        outgoing = h11.Request(method=request.method, target=request.target,
                               headers=self._headers(request, body))
        for attempt in range(2):
            if upstream.writer is None:
                await upstream.open()
            reused = upstream.used
            upstream.used = True
            try:
                await upstream.send(outgoing, *([h11.Data(data=body)] if body else []),
                                    h11.EndOfMessage())
                response = await upstream.event()
                while isinstance(response, h11.InformationalResponse):
                    response = await upstream.event()
                if not isinstance(response, h11.Response):
                    raise ConnectionError("the metadata service closed the connection")
            except (TimeoutError, OSError, ConnectionError, h11.ProtocolError) as exc:
                await upstream.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the service had closed: again
                raise Unreachable(str(exc) or type(exc).__name__) from None
            break
        await self._stream_back(guest, writer, upstream, response)

    async def _stream_back(self, guest: h11.Connection, writer: asyncio.StreamWriter,
                           upstream: _Upstream, response: h11.Response) -> None:
        headers = [(k, v) for k, v in response.headers
                   if k not in HOP_HEADERS or k == b"content-length"]
        writer.write(guest.send(h11.Response(status_code=response.status_code,
                                             headers=headers, reason=response.reason)))
        while True:
            try:
                event = await upstream.event()
            except (TimeoutError, OSError, h11.ProtocolError) as exc:
                # half an answer went out already: the guest's connection must end
                raise ConnectionError(f"the metadata service broke off: {exc}") from None
            if isinstance(event, h11.Data):
                writer.write(guest.send(h11.Data(data=event.data)))
                await writer.drain()
            elif isinstance(event, h11.EndOfMessage):
                writer.write(guest.send(h11.EndOfMessage()))
                await writer.drain()
                break
            else:
                raise ConnectionError("the metadata service closed the connection")
        if not upstream.reusable():
            await upstream.close()


async def _next(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(CHUNK))


async def _reply(guest: h11.Connection, writer: asyncio.StreamWriter, status: int,
                 text: str) -> None:
    """A short error answer of the relay's own, then the connection ends."""
    body = f"{text}\n".encode()
    with contextlib.suppress(h11.ProtocolError, ConnectionError):
        writer.write(guest.send(h11.Response(status_code=status, headers=[
            (b"content-type", b"text/plain; charset=UTF-8"),
            (b"content-length", str(len(body)).encode()), (b"connection", b"close")])))
        writer.write(guest.send(h11.Data(data=body)))
        writer.write(guest.send(h11.EndOfMessage()))
        await writer.drain()
