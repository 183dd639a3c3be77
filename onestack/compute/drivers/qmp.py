"""A small client for the QEMU Machine Protocol (JSON lines over a Unix socket).

A QMP socket serves one client at a time, and the agent may restart while guests run,
so every operation opens its own short session instead of keeping one open."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any


class QMPError(RuntimeError):
    """QEMU answered a command with an error, or the socket is not answering."""


class QMPSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events: list[dict[str, Any]] = []

    async def _message(self) -> dict[str, Any]:
        line = await self.reader.readline()
        if not line:
            raise QMPError("QEMU closed its monitor socket")
        message: dict[str, Any] = json.loads(line)
        return message

    async def execute(self, command: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.writer.write(json.dumps(request).encode() + b"\n")
        await self.writer.drain()
        while True:
            message = await self._message()
            if "event" in message:
                self.events.append(message)
                continue
            if "error" in message:
                error = message["error"]
                raise QMPError(f"{command}: {error.get('desc', error)}")
            return message.get("return")

    async def wait_event(self, name: str, timeout: float) -> dict[str, Any] | None:
        """The first ``name`` event (already seen or arriving within ``timeout``)."""
        for event in self.events:
            if event["event"] == name:
                return event
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self._message()
                    if message.get("event") == name:
                        return message
        except (TimeoutError, QMPError):
            return None


@contextlib.asynccontextmanager
async def session(path: str, timeout: float = 10.0) -> AsyncIterator[QMPSession]:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
            qmp = QMPSession(reader, writer)
            greeting = await qmp._message()
            if "QMP" not in greeting:
                raise QMPError(f"not a QMP greeting: {greeting}")
            await qmp.execute("qmp_capabilities")
    except (OSError, TimeoutError, ValueError) as exc:
        raise QMPError(f"cannot reach QEMU's monitor at {path}: {exc}") from None
    try:
        yield qmp
    finally:
        writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()
