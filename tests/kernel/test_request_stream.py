"""Request.stream(): uploads read chunk by chunk, past the JSON body limit, with an
optional limit of their own, and a clean error when the client goes away."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from onestack.kernel.api.app import ServiceApp, ServiceSpec
from onestack.kernel.api.faults import PayloadTooLarge
from onestack.kernel.api.request import IncompleteBody, Request, json_response
from onestack.kernel.api.routing import public
from onestack.kernel.auth import RevocationList, TokenValidator


@public
async def count(req: Request) -> Any:
    limit = req.query("limit")
    sizes = [len(chunk) async for chunk in req.stream(int(limit) if limit else None)]
    return json_response({"total": sum(sizes), "chunks": len(sizes)})


@public
async def parse(req: Request) -> Any:
    return json_response(await req.json())


def _app(max_body: int = 1024) -> ServiceApp:
    spec = ServiceSpec("test", {"/upload": {"PUT": count}, "/json": {"POST": parse}},
                       fault_style="plain")
    return ServiceApp(spec, TokenValidator(None, RevocationList()),  # type: ignore[arg-type]
                      max_body=max_body, log_requests=False)


async def test_stream_bypasses_the_json_body_limit() -> None:
    transport = httpx.ASGITransport(app=_app(max_body=1024))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        def pieces() -> Any:
            async def gen() -> Any:
                for _ in range(10):
                    yield b"x" * 4096
            return gen()
        response = await client.put("/upload", content=pieces())
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 40960
        too_big = await client.post("/json", content=b"[" + b"1," * 1000 + b"1]",
                                    headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413


async def test_stream_limit_is_413() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.put("/upload?limit=10", content=b"y" * 11)
        assert response.status_code == 413
        assert (await client.put("/upload?limit=10", content=b"y" * 10)).status_code == 200


async def test_disconnect_raises_incomplete_body() -> None:
    messages = [{"type": "http.request", "body": b"abc", "more_body": True},
                {"type": "http.disconnect"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)
    req = Request({"type": "http", "method": "PUT", "path": "/", "headers": []}, receive, 1)
    got = []
    with pytest.raises(IncompleteBody):
        async for chunk in req.stream():
            got.append(chunk)
    assert got == [b"abc"]
    assert issubclass(IncompleteBody, Exception) and PayloadTooLarge.status == 413
