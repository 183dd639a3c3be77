"""The metadata proxy (Neutron's isolated-metadata mode, without haproxy): a small
HTTP proxy listening on 169.254.169.254:80 inside each ``qdhcp-`` namespace. It
identifies the guest by its source address on that network (the port holding that
fixed IP: device_id is the instance, project_id the tenant) and forwards the request
over this host's loopback to the compute metadata service, adding X-Instance-ID,
X-Tenant-ID, X-Forwarded-For and X-Instance-ID-Signature (hex HMAC-SHA256 of the
instance id with the shared secret).

The listening socket is made by a short-lived thread that enters the namespace
(setns), so it belongs to that namespace; accepting and forwarding run on the event
loop of this process, whose own sockets are in the host's namespace."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable

from onestack.kernel.metadata_secret import sign

log = logging.getLogger(__name__)
CLONE_NEWNET = 0x40000000
IP_FREEBIND = 15
METADATA_IP = "169.254.169.254"
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
              b"upgrade", b"x-instance-id", b"x-tenant-id", b"x-instance-id-signature",
              b"x-forwarded-for"}
# (network id, guest address) -> (instance id, project id), or None when unknown
Lookup = Callable[[str, str], Awaitable["tuple[str, str] | None"]]


def listen_in(ns: str, address: str, port: int) -> socket.socket:
    """A listening TCP socket in network namespace ``ns``."""
    found: dict[str, object] = {}

    def work() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            sock.bind((address, port))
            sock.listen(128)
            sock.setblocking(False)
            found["sock"] = sock
        except Exception as error:
            found["error"] = error

    thread = threading.Thread(target=work, name=f"setns-{ns}")
    thread.start()
    thread.join()
    if "error" in found:
        raise found["error"]  # type: ignore[misc]
    return found["sock"]  # type: ignore[return-value]


def _inode(ns: str) -> int:
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return 0


class MetadataProxy:
    def __init__(self, lookup: Lookup, upstream: tuple[str, int], secret: Callable[[], str],
                 port: int = 80) -> None:
        self.lookup = lookup
        self.upstream = upstream
        self.secret = secret
        self.port = port
        self.servers: dict[str, tuple[asyncio.Server, str, int]] = {}

    async def ensure(self, network_id: str, ns: str) -> None:
        current = self.servers.get(network_id)
        if current and current[1] == ns and current[2] == _inode(ns) and \
                current[0].is_serving():
            return
        await self.remove(network_id)
        sock = await asyncio.get_running_loop().run_in_executor(
            None, listen_in, ns, METADATA_IP, self.port)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(network_id, reader, writer)

        server = await asyncio.start_server(serve, sock=sock)
        self.servers[network_id] = (server, ns, _inode(ns))

    async def remove(self, network_id: str) -> None:
        found = self.servers.pop(network_id, None)
        if found:
            found[0].close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(found[0].wait_closed(), 1)

    async def close(self) -> None:
        for network_id in list(self.servers):
            await self.remove(network_id)

    async def _serve(self, network_id: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        try:
            peer = writer.get_extra_info("peername")[0]
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.split(b"\r\n")
            request_line, headers = lines[0], [h for h in lines[1:] if h]
            length = 0
            kept = []
            for header in headers:
                name, _, value = header.partition(b":")
                key = name.strip().lower()
                if key == b"content-length":
                    length = int(value.strip() or 0)
                if key not in HOP_BY_HOP:
                    kept.append(header)
            body = await reader.readexactly(length) if length else b""
            found = await self.lookup(network_id, peer)
            if found is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                await writer.drain()
                return
            instance, tenant = found
            extra = [f"X-Forwarded-For: {peer}", f"X-Instance-ID: {instance}",
                     f"X-Tenant-ID: {tenant}",
                     f"X-Instance-ID-Signature: {sign(instance, self.secret())}",
                     "Connection: close"]
            request = b"\r\n".join([request_line, *kept, *(e.encode() for e in extra)])
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            try:
                up_writer.write(request + b"\r\n\r\n" + body)
                await up_writer.drain()
                while chunk := await up_reader.read(65536):
                    writer.write(chunk)
                    await writer.drain()
            finally:
                up_writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, ValueError) as error:
            log.debug("metadata proxy on %s: %s", network_id, error)
            with contextlib.suppress(Exception):
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
        finally:
            with contextlib.suppress(Exception):
                writer.close()
