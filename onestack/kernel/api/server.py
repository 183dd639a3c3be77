"""Serve several services from one process: one uvicorn server, one socket per port."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from onestack.kernel.api.app import ASGIApp, PortDispatcher


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. A response goes out as two writes (headers, body);
    # with Nagle on, the second waits for the client's delayed ACK: +40 ms a request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class HttpServer:
    def __init__(self, host: str, apps_by_port: dict[int, ASGIApp]) -> None:
        self.sockets = [bind(host, port) for port in apps_by_port]
        config = uvicorn.Config(PortDispatcher(apps_by_port), lifespan="off", log_config=None,
                                access_log=False, server_header=False, timeout_keep_alive=75)
        self.server = uvicorn.Server(config)

    async def serve(self) -> None:
        await self.server.serve(sockets=self.sockets)

    async def started(self) -> None:
        while not self.server.started:
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
