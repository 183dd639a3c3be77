"""The fake driver's remote consoles, real enough for a console proxy and a browser:
per guest and kind, a Unix socket server (started on first use, in a private
directory) speaking a minimal RFB 3.8 server ("novnc": a blank screen named after
the guest) or a serial line ("serial": the console log, then an echo of what is
typed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Session = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

RFB_VERSION = b"RFB 003.008\n"
WIDTH, HEIGHT = 640, 400
# 32 bits per pixel, depth 24, little endian, true colour, 8 bits per channel (BGRX)
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
# the name in ServerInit stays short: one small message (clients such as Tempest's
# read a handshake message as one websocket frame of at most 125 bytes)
MAX_NAME = 64
SECURITY_NONE = 1
ENCODING_RAW, ENCODING_RRE = 0, 2
# client message type -> bytes that follow the type byte (fixed-size messages)
FIXED_MESSAGES = {0: 19, 4: 7, 5: 5}


async def rfb_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      name: Callable[[], str]) -> None:
    """RFB 3.3, 3.7 or 3.8 as the client picks, security type None, then a fixed
    framebuffer: full updates when asked, everything else read and ignored."""
    writer.write(RFB_VERSION)
    await writer.drain()
    version = await reader.readexactly(12)
    minor = int(version[8:11]) if version[:4] == b"RFB " and version[8:11].isdigit() else 8
    if minor < 7:
        writer.write(struct.pack(">I", SECURITY_NONE))  # 3.3: the server decides
    else:
        writer.write(bytes((1, SECURITY_NONE)))
        await writer.drain()
        if (await reader.readexactly(1))[0] != SECURITY_NONE:
            if minor >= 8:
                reason = b"Only security type None is offered"
                writer.write(struct.pack(">II", 1, len(reason)) + reason)
                await writer.drain()
            return
        if minor >= 8:
            writer.write(struct.pack(">I", 0))  # SecurityResult: OK
    await writer.drain()
    await reader.readexactly(1)  # ClientInit (shared flag)
    title = name().encode()[:MAX_NAME].decode(errors="ignore").encode()
    writer.write(struct.pack(">HH", WIDTH, HEIGHT) + PIXEL_FORMAT
                 + struct.pack(">I", len(title)) + title)
    await writer.drain()
    await _rfb_messages(reader, writer)


async def _rfb_messages(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    bytes_per_pixel = 4
    encodings: set[int] = {ENCODING_RAW}
    while True:
        kind = (await reader.readexactly(1))[0]
        if kind in FIXED_MESSAGES:
            body = await reader.readexactly(FIXED_MESSAGES[kind])
            if kind == 0:  # SetPixelFormat: 3 padding bytes, then the format
                bytes_per_pixel = max(1, body[3] // 8)
        elif kind == 2:  # SetEncodings
            _, count = struct.unpack(">BH", await reader.readexactly(3))
            data = await reader.readexactly(4 * count)
            encodings = set(struct.unpack(f">{count}i", data)) | {ENCODING_RAW}
        elif kind == 3:  # FramebufferUpdateRequest
            incremental = (await reader.readexactly(9))[0]
            if not incremental:  # nothing ever changes on this screen
                writer.write(_full_update(bytes_per_pixel, ENCODING_RRE in encodings))
                await writer.drain()
        elif kind == 6:  # ClientCutText
            _, length = struct.unpack(">3sI", await reader.readexactly(7))
            await reader.readexactly(length)
        else:
            return


def _full_update(bytes_per_pixel: int, rre: bool) -> bytes:
    pixel = b"\x40\x20\x10\x00"[:bytes_per_pixel].ljust(bytes_per_pixel, b"\0")
    head = struct.pack(">BxH", 0, 1) + struct.pack(">HHHH", 0, 0, WIDTH, HEIGHT)
    if rre:
        return head + struct.pack(">iI", ENCODING_RRE, 0) + pixel
    return head + struct.pack(">i", ENCODING_RAW) + pixel * (WIDTH * HEIGHT)


async def serial_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         console_log: Callable[[], str]) -> None:
    """The console log so far, then an echo: a guest's terminal without the guest."""
    writer.write(console_log().replace("\n", "\r\n").encode())
    await writer.drain()
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()


class FakeConsoles:
    """The console servers of one fake host, by (guest uuid, kind)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._dir: str | None = None
        self._count = 0
        self._servers: dict[tuple[str, str], tuple[asyncio.Server, str]] = {}
        self._clients: dict[str, set[asyncio.StreamWriter]] = {}
        self._lock = asyncio.Lock()

    async def serve(self, uuid: str, kind: str, session: Session) -> str:
        """The path of the Unix socket where ``uuid``'s ``kind`` console answers."""
        async with self._lock:
            found = self._servers.get((uuid, kind))
            if found is not None:
                return found[1]
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="onestack-console-")
            self._count += 1
            path = os.path.join(self._dir, f"{self._count}.{kind}")
            server = await asyncio.start_unix_server(self._handler(uuid, session), path)
            os.chmod(path, 0o600)
            self._servers[(uuid, kind)] = (server, path)
            return path

    def _handler(self, uuid: str, session: Session
                 ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            clients = self._clients.setdefault(uuid, set())
            clients.add(writer)
            try:
                await session(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            except Exception:
                log.exception("fake console of %s on %s failed", uuid, self.host)
            finally:
                clients.discard(writer)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
        return run

    async def stop(self, uuid: str) -> None:
        """The guest is gone (or off): its consoles stop and their sessions end."""
        for key in [k for k in self._servers if k[0] == uuid]:
            server, path = self._servers.pop(key)
            server.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for writer in list(self._clients.pop(uuid, ())):
            writer.close()

    async def close(self) -> None:
        for uuid in {k[0] for k in self._servers} | set(self._clients):
            await self.stop(uuid)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
