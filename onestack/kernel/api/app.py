"""The ASGI app of one service: route, authenticate, negotiate the microversion,
call the handler, and turn every error into the service's fault body."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from onestack.kernel.api.faults import FAULT_STYLES, ApiError, Unauthorized
from onestack.kernel.api.microversion import MicroversionSpec, negotiate, response_headers
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import Router, RouteTable, is_public
from onestack.kernel.auth import RequestContext, TokenValidator
from onestack.kernel.tokens import TokenInvalid

log = logging.getLogger("onestack.api")
access_log = logging.getLogger("onestack.access")

ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]]


@dataclass
class ServiceSpec:
    """What a service declares to be served."""

    name: str
    routes: RouteTable
    fault_style: str = "keystone"
    microversions: MicroversionSpec | None = None
    # The identity endpoint a 401 points clients to (WWW-Authenticate).
    auth_uri: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)
    # The service's own header for the request id besides x-openstack-request-id
    # (Nova's x-compute-request-id).
    request_id_header: str = ""


class ServiceApp:
    def __init__(self, spec: ServiceSpec, validator: TokenValidator, state: Any = None, *,
                 max_body: int = 114688, log_requests: bool = True) -> None:
        self.spec = spec
        self.router = Router(spec.routes)
        self.validator = validator
        self.state = state
        self.max_body = max_body
        self.log_requests = log_requests
        self.render_fault = FAULT_STYLES[spec.fault_style]

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        req = Request(scope, receive, self.max_body)
        req.request_id = "req-" + str(uuid.uuid4())
        req.app = self.state
        try:
            response = await self._dispatch(req)
        except ApiError as error:
            response = self._fault(error, req)
        except Exception:
            log.exception("unexpected error serving %s %s (%s)", req.method, req.path,
                          req.request_id)
            response = self._fault(ApiError("An unexpected error prevented the server from "
                                            "fulfilling your request."), req)
        response.headers["x-openstack-request-id"] = req.request_id
        if self.spec.request_id_header:
            response.headers[self.spec.request_id_header] = req.request_id
        if req.version is not None and self.spec.microversions is not None:
            response.headers.update(response_headers(self.spec.microversions, req.version))
        await response(scope, receive, send)
        if self.log_requests:
            client = scope.get("client") or ("-", 0)
            access_log.info('%s "%s %s" %d %.1fms %s', client[0], req.method, req.path,
                            response.status_code, (time.perf_counter() - started) * 1e3,
                            req.request_id)

    async def _dispatch(self, req: Request) -> Response:
        handler, req.params = self.router.match(req.method, req.path)
        token = req.headers.get("x-auth-token")
        if token:
            try:
                payload = self.validator.validate(token)
                req.context = RequestContext.from_payload(token, payload, req.request_id)
            except TokenInvalid as exc:
                if not is_public(handler):
                    raise Unauthorized("The request you have made requires "
                                       "authentication.") from exc
        elif not is_public(handler):
            raise Unauthorized("The request you have made requires authentication.")
        if self.spec.microversions is not None:
            req.version = negotiate(self.spec.microversions, dict(req.headers))
        return await handler(req)

    def _fault(self, error: ApiError, req: Request) -> Response:
        error.details.setdefault("request_id", req.request_id)
        headers = dict(error.headers)
        if error.status == 401 and self.spec.auth_uri:
            headers["WWW-Authenticate"] = f"Keystone uri=\"{self.spec.auth_uri}\""
        return json_response(self.render_fault(error), error.status, headers)


class PortDispatcher:
    """One ASGI app for one uvicorn server listening on every service's port."""

    def __init__(self, apps_by_port: dict[int, ASGIApp]) -> None:
        self.apps_by_port = apps_by_port

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            return
        server = scope.get("server") or ("", 0)
        app = self.apps_by_port.get(server[1])
        if app is None:
            response = json_response({"error": {"code": 404, "title": "Not Found",
                                                 "message": "No service on this port."}}, 404)
            await response(scope, receive, send)
            return
        await app(scope, receive, send)
