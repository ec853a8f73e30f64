"""Slowloris clients for the tests (security review L1): sockets that send a request head one line at a time."""

from __future__ import annotations

import select
import socket
import time


def slow_clients(port: int, count: int = 5, give_up: float = 25.0, every: float = 1.0) -> list[float | None]:
    """Open ``count`` connections to 127.0.0.1:``port``, each sending one more header line every ``every``
    seconds and never ending its head; the seconds after which the server closed each (``None``: still open
    after ``give_up`` seconds)."""
    started = time.monotonic()
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    closed: dict[socket.socket, float] = {}
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        while len(closed) < count and time.monotonic() - started < give_up:
            open_ = [s for s in sockets if s not in closed]
            readable, _, _ = select.select(open_, [], [], every)
            for sock in readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data or b"408" in data:
                    closed[sock] = time.monotonic() - started
            for sock in [s for s in sockets if s not in closed]:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    closed[sock] = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    return [closed.get(sock) for sock in sockets]
