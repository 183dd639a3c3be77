"""The console proxies, served by the compute service beside its API: noVNC
(``compute-novncproxy``, 6080: noVNC's pages, then a websocket) and serial
(``compute-serialproxy``, 6083: a websocket). A websocket brings a console URL's
token (``?token=``, or a ``token`` cookie as older noVNC sends it); the proxy uses the
token up, checks that the server still exists, connects to where its host said the
console listens (TCP, or a Unix socket on this host) and carries bytes both ways as
binary frames until either side ends. A bad token is refused before the websocket
opens (HTTP 403)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from starlette.responses import FileResponse, PlainTextResponse

from onestack.compute.objects import console_tokens, instances, states

if TYPE_CHECKING:
    from onestack.compute.service import Compute

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# Debian's novnc package; what of it is served (not its utils/ scripts)
NOVNC_DIR = Path("/usr/share/novnc")
NOVNC_TOP = {"vnc.html", "vnc_lite.html", "vnc_auto.html", "core", "app", "vendor"}
CONNECT_TIMEOUT = 10.0
CHUNK = 65536
POLICY_VIOLATION = 1008


def token_of(scope: Scope) -> str | None:
    """The token in the query, else in a ``token`` cookie."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, cookie = part.strip().partition("=")
            if key == "token" and cookie:
                return cookie.strip('"')
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def static_file(web_dir: Path, path: str) -> Path | None:
    """The file of noVNC's that ``path`` names, or None (unknown, or outside it)."""
    parts = path.lstrip("/").split("/")
    if parts[0] not in NOVNC_TOP or any(p in ("", ".", "..") or "\\" in p for p in parts):
        return None
    root = web_dir.resolve()
    found = root.joinpath(*parts).resolve()
    if not found.is_relative_to(root) or not found.is_file():
        return None
    return found


class ConsoleProxy:
    """One proxy (``kind``: "novnc" or "serial") as an ASGI app."""

    def __init__(self, compute: Compute, kind: str, web_dir: Path | None = None) -> None:
        self.compute = compute
        self.kind = kind
        self.web_dir = web_dir if web_dir is not None or kind != "novnc" else NOVNC_DIR
        port_name = "compute-novncproxy" if kind == "novnc" else "compute-serialproxy"
        configured = (compute.settings.novncproxy_base_url if kind == "novnc"
                      else compute.settings.serialproxy_base_url)
        # the host names a browser may come from (besides the one it asked for)
        self.origins = {urlsplit(url).hostname for url in
                        (configured, compute.config.public_url(port_name)) if url}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    # -- noVNC's pages -------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if self.web_dir is not None and scope["method"] in ("GET", "HEAD"):
            found = static_file(self.web_dir, scope["path"])
        if found is None:
            response: Any = PlainTextResponse("Not Found", status_code=404)
        else:
            response = FileResponse(found, headers={"Cache-Control": "no-cache"})
        await response(scope, receive, send)

    # -- the websocket -------------------------------------------------------------
    def _origin_ok(self, scope: Scope) -> bool:
        """A browser's Origin must be this proxy's host (a client without one is not a
        browser: no cross-site risk)."""
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        parsed = urlsplit(origin)
        if not parsed.scheme or not parsed.hostname:
            return False
        host = _header(scope, b"host")
        allowed = set(self.origins)
        if host:
            allowed.add(urlsplit("//" + host).hostname)
        return parsed.hostname in allowed

    async def _claim(self, token: str) -> dict[str, Any] | None:
        """Use the token up; its row when it was good and the server still exists."""
        async with self.compute.db.writer() as conn:
            found = await console_tokens.consume(conn, token, self.kind)
            if found is None:
                return None
            instance = await instances.find(conn, found["instance_uuid"])
        if instance is None or instance["task_state"] == states.DELETING:
            return None
        return found

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        token = token_of(scope)
        found = await self._claim(token) if token and self._origin_ok(scope) else None
        if found is None:
            log.info("%s console proxy: refused a connection (bad or used token, or "
                     "foreign origin)", self.kind)
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        try:
            if found["path"]:
                opening = asyncio.open_unix_connection(found["path"])
            else:
                opening = asyncio.open_connection(found["host"], found["port"])
            reader, writer = await asyncio.wait_for(opening, CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            log.warning("%s console of %s is unreachable: %s", self.kind,
                        found["instance_uuid"], exc)
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        subprotocol = "binary" if "binary" in scope.get("subprotocols", []) else None
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        log.info("%s console of %s: connected", self.kind, found["instance_uuid"])
        await _bridge(receive, send, reader, writer)


async def _bridge(receive: Receive, send: Send, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    """Carry bytes both ways until one side ends, then close the other."""
    client_gone = False

    async def from_client() -> None:
        nonlocal client_gone
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                client_gone = True
                return
            data = message.get("bytes")
            if data is None:
                data = (message.get("text") or "").encode()
            writer.write(data)
            await writer.drain()

    async def to_client() -> None:
        while data := await reader.read(CHUNK):
            await send({"type": "websocket.send", "bytes": data})

    tasks = [asyncio.create_task(from_client()), asyncio.create_task(to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if not client_gone:
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1000})


@functools.cache
def _check_novnc() -> None:
    if not NOVNC_DIR.is_dir():
        log.warning("noVNC is not installed (%s): the noVNC proxy serves only its "
                    "websocket (apt install novnc)", NOVNC_DIR)


def build(compute: Compute) -> dict[str, Any]:
    """The proxies by port name (config.api.ports)."""
    _check_novnc()
    return {"compute-novncproxy": ConsoleProxy(compute, "novnc"),
            "compute-serialproxy": ConsoleProxy(compute, "serial")}
