"""ASGIToWSGI's ``request_timeout`` on a real server (issue 13 §3, A2W-TIME-01).

Gunicorn ``gthread`` with one worker and ten threads: eleven requests to an
app that never answers take every thread and queue one more. Without a
timeout no further request is ever answered; with ``request_timeout`` each
hanging app is cancelled and answered with E504, the threads come back, and
a fresh request is served. The time the fresh request took is printed for
the record; the test asserts no duration (the client's own timeout only
bounds the wait).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from servers import Server, serve

from . import rawhttp

pytestmark = pytest.mark.integration

TARGET = "apps.a2w_wire:app"
THREADS = 10
HANGING = THREADS + 1
#: The hanging apps' budget, in seconds.
REQUEST_TIMEOUT = 1.0
#: Bounds every client wait in this test, not a measured threshold.
CLIENT_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(
        "gunicorn",
        TARGET,
        worker_class="gthread",
        threads=THREADS,
        workers=1,
        env={"A2W_WIRE_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT)},
    ) as running:
        yield running


def get(server: Server, path: str) -> rawhttp.Response:
    conn = rawhttp.Connection(server.port, timeout=CLIENT_TIMEOUT)
    try:
        return conn.request("GET", path)
    finally:
        conn.close()


def test_A2W_TIME_01_hanging_apps_do_not_block_a_fresh_request(server: Server) -> None:
    hanging = [
        rawhttp.Connection(server.port, timeout=CLIENT_TIMEOUT) for _ in range(HANGING)
    ]
    try:
        for conn in hanging:
            conn.send_head("GET", "/hang")
        began = time.monotonic()
        fresh = get(server, "/ok")
        took = time.monotonic() - began
        assert (fresh.status, fresh.body) == (200, b"ok")
        print(f"\nA fresh request behind {HANGING} hanging apps took {took:.2f} s")
        for conn in hanging:
            answer = conn.read_response()
            assert (answer.status, answer.body) == (504, b"Gateway Timeout")
    finally:
        for conn in hanging:
            conn.close()
    stats = json.loads(get(server, "/stats").body)
    assert stats["timeouts"] == HANGING
    assert stats["in_flight"] == 0
    assert stats["loop"] == "running"
    assert "A2W-TIME-01" in server.log()
