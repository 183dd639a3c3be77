"""A service's own HTTP API, answered in process for a caller who arrives over the bus
with a request context instead of a token: how one service uses another's public API
(as Nova's proxy APIs call Neutron's and Glance's) without a socket. Routing,
validation, policy and faults are those of the HTTP API."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from onestack.kernel.api.faults import FAULT_STYLES, ApiError
from onestack.kernel.api.request import Request
from onestack.kernel.api.routing import Router
from onestack.kernel.auth import RequestContext


async def call(router: Router, state: Any, context: RequestContext, verb: str, path: str,
               *, query: dict[str, Any] | list[tuple[str, str]] | None = None,
               body: Any = None, content_type: str = "application/json",
               fault_style: str = "keystone", max_body: int = 1 << 20) -> dict[str, Any]:
    """``{"status": code, "body": decoded JSON or None}`` of ``verb path`` as the
    caller of ``context`` would get it over HTTP."""
    content = b"" if body is None else json.dumps(body).encode()
    if isinstance(query, list):  # pairs arrive from the bus as lists
        query = [(str(key), str(value)) for key, value in query]
    scope = {"type": "http", "method": verb.upper(), "path": path,
             "query_string": urlencode(query or {}, doseq=True).encode(),
             "headers": [(b"content-type", content_type.encode()),
                         (b"content-length", str(len(content)).encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": content, "more_body": False}

    req = Request(scope, receive, max_body)
    req.request_id = context.request_id or "req-" + str(uuid.uuid4())
    req.app = state
    req.context = context
    try:
        handler, req.params = router.match(req.method, path)
        response = await handler(req)
    except ApiError as error:
        return {"status": error.status, "body": FAULT_STYLES[fault_style](error)}
    raw = bytes(response.body) if hasattr(response, "body") else b""
    return {"status": response.status_code, "body": json.loads(raw) if raw.strip() else None}
