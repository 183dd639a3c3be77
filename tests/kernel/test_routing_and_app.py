"""The service app: routing, 404/405, faults in each style, request ids, body limits,
microversion negotiation."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from onestack.kernel.api.app import ServiceApp, ServiceSpec
from onestack.kernel.api.faults import Conflict
from onestack.kernel.api.microversion import MicroversionSpec
from onestack.kernel.api.request import Request, json_response
from onestack.kernel.api.routing import public
from onestack.kernel.auth import RevocationList, TokenValidator
from onestack.kernel.tokens import KeyRepository, TokenCodec, TokenPayload


@public
async def echo(req: Request) -> object:
    body = await req.json() if req.method == "POST" else None
    return json_response({"params": req.params, "body": body,
                          "version": str(req.version) if req.version else None})


async def whoami(req: Request) -> object:
    assert req.context is not None
    return json_response({"user": req.context.user_id, "roles": sorted(req.context.roles)})


@public
async def conflict(req: Request) -> object:
    raise Conflict("it clashes")


@public
async def crash(req: Request) -> object:
    raise RuntimeError("secret internals")


ROUTES = {"/things/{thing_id}": {"GET": echo, "POST": echo}, "/me": {"GET": whoami},
          "/clash": {"GET": conflict}, "/crash": {"GET": crash}}


@pytest.fixture
def codec(tmp_path: Path) -> TokenCodec:
    keys = KeyRepository(tmp_path / "keys")
    keys.initialize()
    return TokenCodec(keys)


def client(codec: TokenCodec, style: str = "keystone",
           microversions: MicroversionSpec | None = None) -> httpx.AsyncClient:
    spec = ServiceSpec("test", ROUTES, fault_style=style, microversions=microversions,
                       auth_uri="http://id/v3")
    app = ServiceApp(spec, TokenValidator(codec, RevocationList()), max_body=64,
                     log_requests=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_path_parameters_and_head(codec: TokenCodec) -> None:
    async with client(codec) as http:
        response = await http.get("/things/42")
        assert response.json()["params"] == {"thing_id": "42"}
        assert response.headers["x-openstack-request-id"].startswith("req-")
        assert (await http.head("/things/42")).status_code == 200


async def test_unknown_path_404_and_wrong_method_405_with_allow(codec: TokenCodec) -> None:
    async with client(codec) as http:
        missing = await http.get("/nothing")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == 404
        wrong = await http.delete("/things/1")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET, HEAD, POST"


async def test_fault_styles(codec: TokenCodec) -> None:
    async with client(codec, "nova") as http:
        assert (await http.get("/clash")).json() == {
            "conflictingRequest": {"code": 409, "message": "it clashes"}}
    async with client(codec, "neutron") as http:
        assert (await http.get("/clash")).json()["NeutronError"]["message"] == "it clashes"


async def test_unexpected_error_is_500_without_traceback(codec: TokenCodec) -> None:
    async with client(codec) as http:
        response = await http.get("/crash")
        assert response.status_code == 500
        assert "secret internals" not in response.text
        assert "Traceback" not in response.text


async def test_body_too_large_is_413(codec: TokenCodec) -> None:
    async with client(codec) as http:
        response = await http.post("/things/1", json={"x": "y" * 100})
        assert response.status_code == 413


async def test_authentication(codec: TokenCodec) -> None:
    token = codec.encode(TokenPayload("alice", ["password"], time.time() + 60,
                                      roles=["member"], project_id="p"))
    expired = codec.encode(TokenPayload("alice", ["password"], time.time() - 1))
    async with client(codec) as http:
        refused = await http.get("/me")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Keystone uri="http://id/v3"'
        assert (await http.get("/me", headers={"X-Auth-Token": expired})).status_code == 401
        ok = await http.get("/me", headers={"X-Auth-Token": token})
        assert ok.json() == {"user": "alice", "roles": ["member"]}


async def test_microversions(codec: TokenCodec) -> None:
    spec = MicroversionSpec("compute", ("2.1", "2.2", "2.3"),
                            legacy_header="X-OpenStack-Nova-API-Version")
    async with client(codec, "nova", spec) as http:
        default = await http.get("/things/1")
        assert default.json()["version"] == "2.1"
        assert default.headers["openstack-api-version"] == "compute 2.1"
        latest = await http.get("/things/1", headers={"OpenStack-API-Version": "compute latest"})
        assert latest.json()["version"] == "2.3"
        legacy = await http.get("/things/1", headers={"X-OpenStack-Nova-API-Version": "2.2"})
        assert legacy.json()["version"] == "2.2"
        too_new = await http.get("/things/1", headers={"OpenStack-API-Version": "compute 2.9"})
        assert too_new.status_code == 406
        other = await http.get("/things/1", headers={"OpenStack-API-Version": "volume 3.9"})
        assert other.json()["version"] == "2.1"
