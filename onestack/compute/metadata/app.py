"""The metadata API (Nova's nova-api-metadata), served by the compute service on the
``compute-metadata`` port (8775). A metadata proxy in front of the guests (Neutron's,
or our per-instance relay) tells which instance asks::

    X-Instance-ID: <server uuid>
    X-Tenant-ID: <its project>
    X-Instance-ID-Signature: hex HMAC-SHA256 of the uuid, keyed with the shared secret

Missing headers: 400; a bad signature: 403; an unknown or deleted server, or one of
another project: 404 (as Nova). ``/`` is answered to anyone.

Freshness: the server's row (name, metadata, key, user data, password) is read on
every request, from this process's compute database; its ports (addresses, subnets,
floating IPs) are asked of the networking service and kept ``PORTS_TTL`` seconds per
server (Nova keeps its whole answer 15 s), or until the server's ports change.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from onestack.compute.metadata import ports as guest_ports
from onestack.compute.metadata import tree
from onestack.compute.metadata.content import Guest
from onestack.compute.objects import instances
from onestack.kernel.metadata_secret import shared_secret, verify

if TYPE_CHECKING:
    from onestack.compute.service import Compute

log = logging.getLogger(__name__)
PORT_NAME = "compute-metadata"
PORTS_TTL = 15.0
# Nova's limit on what a guest may post as its password.
MAX_PASSWORD = 256


class Refusal(Exception):
    def __init__(self, status: int, explanation: str = "") -> None:
        super().__init__(explanation)
        self.status = status
        self.explanation = explanation

    def response(self) -> Response:
        phrase = HTTPStatus(self.status).phrase
        text = f"{self.status} {phrase}\n\n{self.explanation}\n\n" if self.explanation \
            else f"{self.status} {phrase}\n\n"
        return Response(text, self.status, media_type=tree.TEXT)


class MetadataApp:
    """An ASGI app over the compute service's state (its database and network
    client)."""

    def __init__(self, compute: Compute, ports_ttl: float = PORTS_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.compute = compute
        self.secret = shared_secret(compute.config)
        self.ports_ttl = ports_ttl
        self.clock = clock
        # uuid -> (until, port ids of the instance's network_info, ports)
        self._ports: dict[str, tuple[float, tuple[str, ...], list[dict[str, Any]]]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except Refusal as refusal:
            response = refusal.response()
        except Exception:
            log.exception("metadata request %s failed", request.url.path)
            response = Refusal(500, "An unknown error has occurred. Please try your "
                                    "request again.").response()
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        if posixpath.normpath("/" + path.lstrip("/")) == "/":
            return _answer(tree.root_listing())
        instance = await self.identify(request)
        guest = Guest(instance, ports=await self.ports_of(instance),
                      default_zone=self.compute.settings.default_availability_zone)
        try:
            found = tree.lookup(guest, path)
        except tree.NoSuchPath:
            raise Refusal(404) from None
        if found == tree.PASSWORD:
            return await self.password(request, instance)
        assert isinstance(found, tree.Document)
        return _answer(found)

    # -- who asks --------------------------------------------------------------------
    async def identify(self, request: Request) -> dict[str, Any]:
        """The instance the proxy's headers name, checked as Nova checks them."""
        headers = request.headers
        ids = headers.getlist("x-instance-id")
        tenants = headers.getlist("x-tenant-id")
        signatures = headers.getlist("x-instance-id-signature")
        if not ids:
            raise Refusal(400, "X-Instance-ID header is missing from request.")
        if not signatures:
            raise Refusal(400, "X-Instance-ID-Signature header is missing from request.")
        if not tenants:
            raise Refusal(400, "X-Tenant-ID header is missing from request.")
        if len(ids) > 1:
            raise Refusal(400, "Multiple X-Instance-ID headers found within request.")
        if len(tenants) > 1:
            raise Refusal(400, "Multiple X-Tenant-ID headers found within request.")
        instance_id, tenant_id = ids[0], tenants[0]
        if not verify(instance_id, signatures[0], self.secret):
            log.warning("metadata request for %s with a bad signature", instance_id)
            raise Refusal(403, "Invalid proxy request signature.")
        async with self.compute.db.reader() as conn:
            instance = await instances.find(conn, instance_id)
        if instance is None:
            raise Refusal(404)
        if instance["project_id"] != tenant_id:
            log.warning("metadata request for %s of project %s names project %s",
                        instance_id, instance["project_id"], tenant_id)
            raise Refusal(404)
        return instance

    # -- its ports -------------------------------------------------------------------
    async def ports_of(self, instance: dict[str, Any]) -> list[dict[str, Any]]:
        uuid = instance["uuid"]
        known = tuple(sorted(v["id"] for v in instance.get("network_info") or []))
        now = self.clock()
        cached = self._ports.get(uuid)
        if cached is not None and cached[0] > now and cached[1] == known:
            return cached[2]
        try:
            found = await guest_ports.guest_ports(self.compute.network, uuid)
        except Exception:
            # the documents that need no addresses stay readable
            log.exception("could not ask the networking service for the ports of %s", uuid)
            return list(instance.get("network_info") or [])
        if len(self._ports) > 1024:
            self._ports = {k: v for k, v in self._ports.items() if v[0] > now}
        self._ports[uuid] = (now + self.ports_ttl, known, found)
        return found

    # -- the guest's password ----------------------------------------------------------
    async def password(self, request: Request, instance: dict[str, Any]) -> Response:
        """GET: the password the guest posted ("" if none); POST: store it, once
        (409 when one is set; 400 above 256 bytes). The os-server-password API reads
        and clears it (system_metadata "password")."""
        stored = (instance.get("system_metadata") or {}).get("password") or ""
        if request.method in ("GET", "HEAD"):
            return Response(stored, media_type=tree.TEXT)
        if request.method != "POST":
            raise Refusal(400, "GET and POST only are supported.")
        if stored:
            raise Refusal(409)
        body = await _read_limited(request, MAX_PASSWORD)
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise Refusal(400, "The password is not UTF-8 text.") from None
        await self._store_password(instance["uuid"], text)
        return Response(b"", media_type=tree.TEXT)

    async def _store_password(self, uuid: str, text: str) -> None:
        for _ in range(10):  # a concurrent write to the server: read it again
            async with self.compute.db.writer() as conn:
                current = await instances.find(conn, uuid)
                if current is None:
                    raise Refusal(400, f"Instance {uuid} could not be found.")
                system = dict(current.get("system_metadata") or {})
                if system.get("password"):
                    raise Refusal(409)
                system["password"] = text
                if await instances.update(conn, current, {"system_metadata": system}):
                    return
        raise Refusal(409)


async def _read_limited(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Refusal(400, "Request is too large.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refusal(400, "Request is too large.")
    return body


def _answer(document: tree.Document) -> Response:
    return Response(document.body, media_type=document.content_type)


def build(compute: Compute) -> MetadataApp:
    return MetadataApp(compute)
