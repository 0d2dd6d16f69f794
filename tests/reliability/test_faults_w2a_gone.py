"""A client that leaves is noticed whatever the request body's state (issue 13 §1).

WSGIToASGI under real Uvicorn and Hypercorn, on raw sockets (``rawhttp``): the
client sends a request (with or without ``Expect: 100-continue``; no body, a
small one or one larger than the 1 MiB watermark; a body the app reads or
never touches), reads the first bytes of a streamed response (a generator, or
``write()``) and resets the connection. Then, from the outside:

- the app's ``W2A-CLOSE <tag>`` (or ``W2A-GONE``) marker appears in the
  server log: the adapter saw the client leave and the iterable was closed
  exactly once;
- the worker threads retire to their idle count (no worker pinned);
- the next request is served.

With ``Expect: 100-continue`` and an app that never reads, no ``100
Continue`` reaches the client from sgibridge's side (Uvicorn sends it only on
``receive()``; Hypercorn sends it itself, at once, so only the absence of one
*after* the response started is checked there): W2A-IN-12, W2A-IN-14.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from servers import Server, ServerKind, serve

from . import rawhttp
from .support import wait_until

pytestmark = pytest.mark.integration

SMALL = 1024
LARGE = 3 * 1024 * 1024  # over the 1 MiB default watermark


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, int]]:
    kind: ServerKind = request.param
    env = {"W2A_IDLE_TIMEOUT": "0.2"}
    with serve(kind, "apps.w2a_zombie:asgi_app", env=env) as running:
        idle = running.thread_count()
        health(running)
        yield running, idle


def health(server: Server) -> None:
    conn = rawhttp.Connection(server.port)
    try:
        response = conn.request("GET", "/health")
    finally:
        conn.close()
    assert (response.status, response.body) == (200, b"ok")


def send_some(conn: rawhttp.Connection, size: int) -> int:
    """Send up to ``size`` bytes of body while the server takes them; stop
    when it stops reading (a body the app does not read)."""
    sent = 0
    block = b"u" * 65536
    conn.sock.settimeout(0.5)
    try:
        while sent < size:
            sent += conn.sock.send(block[: min(len(block), size - sent)])
    except TimeoutError:
        pass
    finally:
        conn.sock.settimeout(rawhttp.TIMEOUT)
    return sent


def read_status(conn: rawhttp.Connection) -> tuple[int, bool]:
    """The final status, and whether a 100 Continue came before it."""
    status, _ = conn.read_head()
    continued = False
    if status == 100:
        continued = True
        status, _ = conn.read_head()
    return status, continued


CASES = [
    pytest.param(
        expect,
        body,
        read,
        mode,
        id=f"{'expect' if expect else 'plain'}-{body}-{read}-{mode}",
    )
    for expect in (False, True)
    for body in ("none", "small", "large")
    for read in ("none", "all")
    for mode in ("stream", "write")
    if not (body == "none" and read == "all")
]


@pytest.mark.parametrize(("expect", "body", "read", "mode"), CASES)
def test_W2A_ERR_07_IN_14_client_gone_is_noticed(
    server: tuple[Server, int], expect: bool, body: str, read: str, mode: str
) -> None:
    """W2A-ERR-07, W2A-IN-12, W2A-IN-14: the stream stops and close() runs
    once the client resets, whatever the request body's state; no worker stays
    pinned; no 100 Continue follows the response."""
    running, idle = server
    tag = os.urandom(6).hex()
    size = {"none": 0, "small": SMALL, "large": LARGE}[body]
    headers = [("Expect", "100-continue")] if expect else []
    conn = rawhttp.Connection(running.port)
    try:
        conn.send_head(
            "POST" if size else "GET",
            f"/sse?tag={tag}&read={read}&mode={mode}",
            length=size if size else None,
            headers=headers,
        )
        if expect and read == "all":
            status, _ = conn.read_head()
            assert status == 100
            conn.sock.sendall(b"u" * size)
        elif size and not expect:
            if read == "all":
                conn.sock.sendall(b"u" * size)
            else:
                send_some(conn, size)
        status, continued = read_status(conn)
        assert status == 200
        if expect and read == "none" and running.kind == "uvicorn":
            assert not continued, "100 Continue for a body the app never read"
        data = conn.read_some(65536)
        assert data and b"HTTP/1.1 100" not in data
    finally:
        conn.abort()
    # A generator is closed; a write() loop sees ClientDisconnected.
    marker = f"W2A-{'CLOSE' if mode == 'stream' else 'GONE'} {tag}"
    running.wait_for_log(marker, timeout=10)
    if read == "all":
        assert f"W2A-READ {tag} {size}" in running.log()
    wait_until(lambda: running.thread_count() <= idle, timeout=20)
    health(running)
    assert running.log().count(marker) == 1
