"""Free TCP ports on 127.0.0.1 for the servers under test."""

from __future__ import annotations

import socket

from benchlib import BenchError

# the well-known Keystone ports: a developer's own services may be listening there
AVOID_PORTS = {5000, 5001, 35357, 35358}


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        # as the servers do: a port whose old connections sit in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(preferred: int, span: int = 1, taken: set[int] = frozenset()) -> int:
    """preferred if it (and the span-1 ports after it) are free, else a random free one."""
    def usable(port: int) -> bool:
        block = set(range(port, port + span))
        return (not block & (AVOID_PORTS | set(taken)) and port + span <= 65535
                and all(port_free(q) for q in block))
    if preferred and usable(preferred):
        return preferred
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            candidate = sock.getsockname()[1]
        if usable(candidate):
            return candidate
    raise BenchError("no free port found")
