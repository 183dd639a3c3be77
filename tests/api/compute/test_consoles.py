"""Remote consoles on the fake driver, end to end: a console URL from the API (2.6's
remote-consoles and the older actions), then the proxies on real loopback ports: the
noVNC page, the websocket with its one-time token, an RFB handshake with the guest's
fake VNC server, the serial console's log and echo; the tokens as admins see them."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from onestack.cloud import Cloud
from onestack.compute import models as m
from onestack.compute.consoleproxy import NOVNC_DIR, static_file
from onestack.kernel.api.server import HttpServer
from tests.api.compute.boot import Kit, boot, kit, server, wait_gone, wait_status
from tests.api.compute.conftest import Nova, Tenants

PROXIES = ("compute-novncproxy", "compute-serialproxy")


@pytest.fixture
async def proxies(running: Cloud) -> AsyncIterator[Cloud]:
    """The cloud's console proxies listening on their (free) loopback ports."""
    config = running.config
    server = HttpServer(config.api.host, {config.api.ports[name]: running.extra_apps[name]
                                          for name in PROXIES})
    task = asyncio.create_task(server.serve())
    await server.started()
    try:
        yield running
    finally:
        server.stop()
        await task


async def active_server(api: Nova, k: Kit, name: str = "vm") -> str:
    sid = str((await boot(api, k, name=name))["server"]["id"])
    await wait_status(api, sid, "ACTIVE")
    return sid


async def remote_console(api: Nova, sid: str, protocol: str = "vnc", kind: str = "novnc",
                         version: str = "2.6", status: int = 200) -> dict[str, Any]:
    reply = await api.post(f"/servers/{sid}/remote-consoles", version=version, json={
        "remote_console": {"protocol": protocol, "type": kind}})
    assert reply.status_code == status, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def action(api: Nova, sid: str, name: str, kind: str, status: int = 200,
                 version: str = "2.1") -> dict[str, Any]:
    reply = await api.post(f"/servers/{sid}/action", version=version,
                           json={name: {"type": kind}})
    assert reply.status_code == status, reply.text
    return reply.json()  # type: ignore[no-any-return]


def novnc_socket(url: str) -> str:
    """Where noVNC's page connects: ws://<the page's host>/<its path parameter>."""
    parts = urlsplit(url)
    return f"ws://{parts.netloc}/{parse_qs(parts.query)['path'][0]}"


def token_in(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if "path" in query:
        query = parse_qs(urlsplit(query["path"][0]).query)
    return query["token"][0]


async def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, **kwargs):
            pass
    return caught.value.response.status_code


async def rfb_handshake(ws: ClientConnection) -> str:
    """RFB 3.8 with security type None, as noVNC does it; answers the desktop name."""
    version = await ws.recv()
    assert version == b"RFB 003.008\n"
    await ws.send(version)
    assert await ws.recv() == bytes((1, 1))  # one security type: None
    await ws.send(bytes((1,)))
    assert await ws.recv() == b"\0\0\0\0"  # SecurityResult OK
    await ws.send(bytes((1,)))  # ClientInit: shared
    init = await ws.recv()
    assert isinstance(init, bytes)
    width, height = struct.unpack(">HH", init[:4])
    (length,) = struct.unpack(">I", init[20:24])
    assert width and height and len(init) == 24 + length
    return init[24:].decode()


async def token_rows(cloud: Cloud, sid: str) -> list[dict[str, Any]]:
    async with cloud.services["compute"].db.reader() as conn:
        rows = (await conn.execute(sa.select(m.console_auth_token).where(
            m.console_auth_token.c.instance_uuid == sid))).all()
    return [dict(r._mapping) for r in rows]


async def test_novnc_console_speaks_rfb_through_the_proxy(proxies: Cloud,
                                                           compute: Nova) -> None:
    sid = await active_server(compute, await kit(compute), name="desk")
    body = (await remote_console(compute, sid))["remote_console"]
    assert body["protocol"] == "vnc" and body["type"] == "novnc"
    base = proxies.config.public_url("compute-novncproxy")
    assert body["url"].startswith(f"{base}/vnc_lite.html?path=%3Ftoken%3D")
    token = token_in(body["url"])
    # stored as its sha256 only
    (row,) = await token_rows(proxies, sid)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(v) for v in row.values()}
    assert row["console_type"] == "novnc" and row["path"]
    # the page (the test command installs novnc): fetching it keeps the token
    assert NOVNC_DIR.is_dir(), "noVNC is not installed (apt-get install novnc)"
    async with httpx.AsyncClient() as client:
        page = await client.get(body["url"])
        assert page.status_code == 200 and "noVNC" in page.text
        script = await client.get(f"{base}/core/rfb.js")
        assert script.status_code == 200
        for path in ("/utils/novnc_proxy", "/core/../../../etc/passwd", "/", "/x.html"):
            assert (await client.get(base + path)).status_code == 404
    async with connect(novnc_socket(body["url"]), subprotocols=["binary"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "binary"
        assert await rfb_handshake(ws) == "desk"
        # a full update on request: one rectangle, whatever its encoding
        await ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 400))
        update = await ws.recv()
        assert update[:4] == b"\0\0\0\1"
    # one-time: the same URL again is refused before the websocket opens
    assert await refused(novnc_socket(body["url"])) == 403
    assert await token_rows(proxies, sid) == []


async def test_legacy_actions_and_the_serial_console(proxies: Cloud, compute: Nova,
                                                     tenants: Tenants) -> None:
    alice = tenants.alice
    sid = await active_server(alice, await kit(compute), name="serial-vm")
    vnc = (await action(alice, sid, "os-getVNCConsole", "novnc"))["console"]
    assert vnc["type"] == "novnc" and "vnc_lite.html?path=%3Ftoken%3D" in vnc["url"]
    serial = (await action(alice, sid, "os-getSerialConsole", "serial"))["console"]
    base = "ws" + proxies.config.public_url("compute-serialproxy").removeprefix("http")
    assert serial["type"] == "serial" and serial["url"].startswith(f"{base}/?token=")
    # the old actions went with 2.6, the new resource came with it
    await action(alice, sid, "os-getVNCConsole", "novnc", 404, version="2.6")
    await remote_console(alice, sid, version="2.5", status=404)
    # a serial token fits only the serial proxy, and stays good after a wrong try
    novnc_port = proxies.config.api.ports["compute-novncproxy"]
    assert await refused(f"ws://127.0.0.1:{novnc_port}/?token={token_in(serial['url'])}") == 403
    # the token as a cookie, as Tempest's client and older noVNC send it
    async with connect(f"{base}/websockify",
                       additional_headers={"Cookie": f"token={token_in(serial['url'])}"}) as ws:
        log = b""
        while b"login:" not in log:
            log += await asyncio.wait_for(ws.recv(), 5)  # type: ignore[operator]
        assert b"booting serial-vm" in log
        await ws.send(b"root\r")
        assert await asyncio.wait_for(ws.recv(), 5) == b"root\r"
    # through 2.6 too, and once the server is stopped its console is gone
    again = (await remote_console(alice, sid, "serial", "serial"))["remote_console"]
    async with connect(again["url"]) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        await alice.post(f"/servers/{sid}/action", json={"os-stop": None})
        await wait_status(alice, sid, "SHUTOFF")
        with pytest.raises(Exception):  # noqa: B017 (the proxy closes the websocket)
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1000


async def test_console_requests_refused(compute: Nova, tenants: Tenants) -> None:
    alice, bob = tenants.alice, tenants.bob
    sid = await active_server(alice, await kit(compute))
    for protocol, kind, message in (
            ("vnc", "serial", "Invalid console type serial"),
            ("serial", "novnc", "Invalid console type novnc"),
            ("vnc", "xvpvnc", "Invalid console type xvpvnc"),
            ("spice", "spice-html5", "Unavailable console type spice-html5."),
            ("rdp", "rdp-html5", "Unavailable console type rdp-html5.")):
        fault = await remote_console(alice, sid, protocol, kind, status=400)
        assert fault["badRequest"]["message"] == message
    await remote_console(alice, sid, "vnc", "vnc", status=400)  # not a type
    await remote_console(alice, sid, "mks", "webmks", status=400)  # mks came with 2.8
    fault = await remote_console(alice, sid, "mks", "webmks", version="2.8", status=400)
    assert fault["badRequest"]["message"] == "Unavailable console type webmks."
    await action(alice, sid, "os-getVNCConsole", "spice-html5", 400)
    await action(alice, sid, "os-getSPICEConsole", "spice-html5", 400)
    await action(alice, sid, "os-getRDPConsole", "rdp-html5", 400)
    reply = await alice.post(f"/servers/{sid}/remote-consoles", version="2.6",
                             json={"remote_console": {"protocol": "vnc"}})
    assert reply.status_code == 400
    # another project's server, and no server at all
    await remote_console(bob, sid, status=404)
    await action(bob, sid, "os-getVNCConsole", "novnc", 404)
    await remote_console(alice, "4b0a0a7e-0000-4000-8000-000000000000", status=404)
    # a stopped server has no console
    await alice.post(f"/servers/{sid}/action", json={"os-stop": None})
    await wait_status(alice, sid, "SHUTOFF")
    fault = await remote_console(alice, sid, status=409)
    assert fault["conflictingRequest"]["message"] == f"Instance {sid} is not ready"
    await action(alice, sid, "os-getSerialConsole", "serial", 409)


async def test_console_auth_tokens(proxies: Cloud, compute: Nova, tenants: Tenants) -> None:
    sid = await active_server(tenants.alice, await kit(compute))
    url = (await remote_console(tenants.alice, sid))["remote_console"]["url"]
    token = token_in(url)
    shown = await compute.get(f"/os-console-auth-tokens/{token}", version="2.31")
    assert shown.status_code == 200, shown.text
    console = shown.json()["console"]
    host = (await server(compute, sid))["OS-EXT-SRV-ATTR:host"]
    assert console["instance_uuid"] == sid and console["host"] == host
    assert console["port"] is None and console["internal_access_path"].endswith(".novnc")
    latest = await compute.get(f"/os-console-auth-tokens/{token}", version="2.99")
    assert latest.json()["console"]["tls_port"] is None
    # before 2.31 only RDP consoles were shown; members see none
    old = await compute.get(f"/os-console-auth-tokens/{token}", version="2.30")
    assert old.status_code == 401
    assert (await tenants.alice.get(f"/os-console-auth-tokens/{token}",
                                    version="2.31")).status_code == 403
    assert (await compute.get("/os-console-auth-tokens/nope", version="2.31")).status_code == 404
    assert (await compute.get("/os-console-auth-tokens/%20", version="2.31")).status_code == 400
    # a token used by the proxy is gone
    async with connect(novnc_socket(url)) as ws:
        await rfb_handshake(ws)
    assert (await compute.get(f"/os-console-auth-tokens/{token}",
                              version="2.31")).status_code == 404


async def test_tokens_expire_and_go_with_their_server(proxies: Cloud, compute: Nova) -> None:
    sid = await active_server(compute, await kit(compute))
    proxies.config.compute.console_token_ttl = 1
    url = (await remote_console(compute, sid))["remote_console"]["url"]
    token = token_in(url)
    path = f"/os-console-auth-tokens/{token}"
    assert (await compute.get(path, version="2.31")).status_code == 200
    await asyncio.sleep(1.1)
    assert (await compute.get(path, version="2.31")).status_code == 404
    assert await refused(novnc_socket(url)) == 403
    # the next token issued purges the expired one
    proxies.config.compute.console_token_ttl = 600
    later = (await remote_console(compute, sid, "serial", "serial"))["remote_console"]["url"]
    assert [r["console_type"] for r in await token_rows(proxies, sid)] == ["serial"]
    await compute.delete(f"/servers/{sid}")
    await wait_gone(compute, sid)
    assert await token_rows(proxies, sid) == []
    assert await refused(later) == 403


def test_static_files_stay_in_novnc(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "rfb.js").write_text("//")
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "launch.sh").write_text("#")
    (tmp_path / "vnc_lite.html").write_text("<html></html>")
    (tmp_path / "core" / "escape.js").symlink_to("/etc/passwd")
    assert static_file(tmp_path, "/core/rfb.js") == tmp_path / "core" / "rfb.js"
    assert static_file(tmp_path, "/vnc_lite.html") is not None
    for bad in ("/utils/launch.sh", "/core/../utils/launch.sh", "/core/escape.js", "/",
                "/core/", "/core", "/../etc/passwd", "//etc/passwd", "/core//rfb.js"):
        assert static_file(tmp_path, bad) is None, bad
