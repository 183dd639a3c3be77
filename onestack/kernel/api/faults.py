"""Domain exceptions and the one place they become OpenStack fault bodies.

Services raise these from any layer; the app factory renders them in the fault
style of the service (Keystone, Nova, Neutron, ... each shape their errors
differently, and stock clients read those shapes).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str = "", *, headers: dict[str, str] | None = None,
                 **details: Any) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.headers = headers or {}
        self.details = details


class BadRequest(ApiError):
    status = 400
    title = "Bad Request"


class ValidationError(BadRequest):
    pass


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"


class NotFound(ApiError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(ApiError):
    status = 405
    title = "Method Not Allowed"


class NotAcceptable(ApiError):
    status = 406
    title = "Not Acceptable"


class Conflict(ApiError):
    status = 409
    title = "Conflict"


class Gone(ApiError):
    status = 410
    title = "Gone"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Request Entity Too Large"


class UnsupportedMediaType(ApiError):
    status = 415
    title = "Unsupported Media Type"


class NotImplementedByService(ApiError):
    status = 501
    title = "Not Implemented"


class ServiceUnavailable(ApiError):
    status = 503
    title = "Service Unavailable"


def keystone_fault(error: ApiError) -> dict[str, Any]:
    return {"error": {"code": error.status, "title": error.title, "message": error.message}}


_NOVA_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova_fault(error: ApiError) -> dict[str, Any]:
    key = _NOVA_KEYS.get(error.status, "computeFault")
    return {key: {"code": error.status, "message": error.message}}


# Neutron's type for an error raised without one (webob's exception names).
_NEUTRON_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    501: "HTTPNotImplemented",
    503: "HTTPServiceUnavailable",
}


def neutron_fault(error: ApiError) -> dict[str, Any]:
    """``{"NeutronError": {"type", "message", "detail"}}``: ``type`` is upstream's
    exception name (NetworkNotFound, IpAddressGenerationFailure, ...), given by the
    raiser as ``type=...``."""
    kind = error.details.get("type") or _NEUTRON_TYPES.get(error.status, "NeutronException")
    return {"NeutronError": {"type": kind, "message": error.message, "detail": ""}}


def plain_fault(error: ApiError) -> dict[str, Any]:
    """Glance and Placement style: a list of errors; ``code`` when the handler gave one
    (Placement's error codes, from its microversion 1.23)."""
    body = {"status": error.status, "title": error.title, "detail": error.message,
            "request_id": error.details.get("request_id", "")}
    if "code" in error.details:
        body["code"] = error.details["code"]
    return {"errors": [body]}


FAULT_STYLES = {
    "keystone": keystone_fault,
    "nova": nova_fault,
    "neutron": neutron_fault,
    "plain": plain_fault,
}
