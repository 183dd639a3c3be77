"""The request a handler receives, and the responses it returns."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import Response

from onestack.kernel.api.faults import BadRequest, PayloadTooLarge, UnsupportedMediaType
from onestack.kernel.api.microversion import Version

if TYPE_CHECKING:
    from onestack.kernel.auth import RequestContext

Receive = Callable[[], Any]


class IncompleteBody(BadRequest):
    """The client went away before sending the whole body."""


class Request:
    """One HTTP request: parsed lazily, with the caller's context once authenticated."""

    __slots__ = ("_body", "_query", "app", "context", "headers", "max_body", "method",
                 "params", "path", "receive", "request_id", "scope", "version")

    def __init__(self, scope: dict[str, Any], receive: Receive, max_body: int) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers = Headers(scope=scope)
        self.params: dict[str, str] = {}
        self.context: RequestContext | None = None
        self.version: Version | None = None
        self.request_id = ""
        self.max_body = max_body
        self.app: Any = None
        self._body: bytes | None = None
        self._query: list[tuple[str, str]] | None = None

    # -- query string ---------------------------------------------------------------
    @property
    def query_items(self) -> list[tuple[str, str]]:
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = parse_qsl(raw, keep_blank_values=True)
        return self._query

    def query(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query_items:
            if key == name:
                return value
        return default

    def query_all(self, name: str) -> list[str]:
        return [value for key, value in self.query_items if key == name]

    def query_flag(self, name: str) -> bool:
        """A boolean query parameter as Keystone reads it: present and not false/0."""
        value = self.query(name)
        if value is None:
            return False
        return value.strip().lower() not in ("0", "false", "no", "off")

    def has_query(self, name: str) -> bool:
        return any(key == name for key, _ in self.query_items)

    # -- body -----------------------------------------------------------------------
    async def body(self) -> bytes:
        if self._body is None:
            declared = self.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body:
                raise PayloadTooLarge("Request is too large.")
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await self.receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    raise PayloadTooLarge("Request is too large.")
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            self._body = b"".join(chunks)
        return self._body

    async def stream(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """The body chunk by chunk as it arrives, never held whole: for uploads, which
        the JSON body limit (``max_body``) does not apply to. ``limit`` (bytes), when
        given, is enforced on the declared length and on what actually arrives (413).
        A client that disconnects mid-body raises IncompleteBody."""
        if self._body is not None:
            raise RuntimeError("the body was already read")
        declared = self.headers.get("content-length")
        if limit is not None and declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge("Request is too large.")
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise IncompleteBody("The client disconnected before the end of the body.")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise PayloadTooLarge("Request is too large.")
                yield chunk
            if not message.get("more_body"):
                return

    async def json(self) -> Any:
        raw = await self.body()
        content_type = self.headers.get("content-type", "application/json")
        if raw and "json" not in content_type:
            raise UnsupportedMediaType(f"Content type {content_type!r} is not supported.")
        if not raw.strip():
            raise BadRequest("The request body is empty; a JSON document is required.")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"Malformed JSON in request body: {exc}") from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status, headers, media_type="application/json")


def raw_json_response(content: bytes, status: int = 200,
                      headers: dict[str, str] | None = None) -> Response:
    return Response(content, status, headers, media_type="application/json")


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status, headers)


