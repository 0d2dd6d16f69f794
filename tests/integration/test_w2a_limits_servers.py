"""A bounded pool is not a denial of service (issue 13 §3, W2A-TIME-01..03).

WSGIToASGI with its 10 default workers under real Uvicorn, with
``send_timeout`` and ``body_timeout`` at 1 s and ``request_timeout`` at 3 s
(``apps/w2a_limits.py``). Each test pins more than every worker: 11 hanging
apps, 12 clients that never read a large download, or 11 clients that trickle
an upload; then a fresh request must be answered. The time it took is printed
(``-s``), never asserted; the raw-socket client's own timeout bounds the wait.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from servers import Server, serve

from reliability import rawhttp

pytestmark = pytest.mark.integration

WORKERS = 10


@pytest.fixture
def server() -> Iterator[Server]:
    with serve("uvicorn", "apps.w2a_limits:asgi_app") as running:
        yield running


def fresh_request(server: Server) -> float:
    """Seconds until a new ``GET /health`` is answered."""
    started = time.monotonic()
    conn = rawhttp.Connection(server.port, timeout=60)
    try:
        response = conn.request("GET", "/health")
    finally:
        conn.close()
    assert (response.status, response.body) == (200, b"ok")
    return time.monotonic() - started


def stats(server: Server) -> dict[str, object]:
    conn = rawhttp.Connection(server.port, timeout=60)
    try:
        data: dict[str, object] = json.loads(conn.request("GET", "/stats").body)
    finally:
        conn.close()
    return data


def open_requests(
    server: Server, count: int, method: str, target: str, length: int | None = None
) -> list[rawhttp.Connection]:
    conns = []
    for _ in range(count):
        conn = rawhttp.Connection(server.port)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.send_head(method, target, length=length)
        conns.append(conn)
    return conns


def test_W2A_TIME_03_eleven_hanging_apps(server: Server) -> None:
    """W2A-TIME-03/04: 11 requests whose app never returns; each gets 504, and a
    fresh request is answered (the lost threads are replaced)."""
    conns = open_requests(server, WORKERS + 1, "GET", "/hang")
    try:
        time.sleep(0.5)  # let them take every worker
        took = fresh_request(server)
        print(f"\n11 hanging apps: fresh request answered in {took:.2f} s")
        statuses = [conn.read_response().status for conn in conns]
        assert statuses == [504] * len(conns)
        assert stats(server)["lost"] == WORKERS + 1
    finally:
        for conn in conns:
            conn.close()


def test_W2A_TIME_01_twelve_clients_that_never_read(server: Server) -> None:
    """W2A-TIME-01: 12 clients that never read a 256 MiB download stall every
    worker; send_timeout frees them, and a fresh request is answered."""
    conns = open_requests(server, WORKERS + 2, "GET", "/big")
    try:
        time.sleep(0.5)
        took = fresh_request(server)
        print(f"\n12 non-reading clients: fresh request answered in {took:.2f} s")
        timeouts = stats(server)["timeouts"]
        assert isinstance(timeouts, dict) and timeouts["send"] >= 1
    finally:
        for conn in conns:
            conn.abort()


def test_W2A_TIME_02_eleven_trickling_uploads(server: Server) -> None:
    """W2A-TIME-02: 11 uploads that send one byte and stop hold every worker
    in a read; body_timeout ends them, and a fresh request is answered."""
    conns = open_requests(server, WORKERS + 1, "POST", "/upload", length=1 << 20)
    try:
        for conn in conns:
            conn.sock.sendall(b"t")
        time.sleep(0.5)
        took = fresh_request(server)
        print(f"\n11 trickling uploads: fresh request answered in {took:.2f} s")
        timeouts = stats(server)["timeouts"]
        assert isinstance(timeouts, dict) and timeouts["body"] >= 1
    finally:
        for conn in conns:
            conn.abort()
