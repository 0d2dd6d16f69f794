"""Fault injection through real servers on 127.0.0.1 (W2A-ERR/CLOSE, A2W-ERR/LIFE).

Where the server's own behaviour matters (how it reports a client that left,
how it aborts a response) the faults are injected on a real socket with
``rawhttp``: the client resets the connection mid-upload or mid-download,
or the app raises mid-stream. Each case then checks, from the outside:

- the app's marker lines in the server log (``REL-CLOSE``/``REL-GONE``/
  ``REL-END``, see ``apps/rel_apps.py``): close() ran exactly once, the app
  saw the client leave, the ASGI task ended;
- the server's thread count is back to its idle value (bounded wait);
- for ASGIToWSGI, the loop runs no more tasks than when idle;
- the next request is served.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from servers import Server, serve

from . import rawhttp
from .support import CANNED, wait_until

pytestmark = pytest.mark.integration

BIG = 64 * 1024 * 1024


def tag() -> str:
    return os.urandom(6).hex()


def health(server: Server) -> None:
    conn = rawhttp.Connection(server.port)
    try:
        response = conn.request("GET", "/health")
    finally:
        conn.close()
    assert (response.status, response.body) == (200, b"ok")


def marks(server: Server, kind: str, name: str) -> int:
    return server.log().count(f"REL-{kind} {name}")


def wait_mark(server: Server, kind: str, name: str) -> None:
    server.wait_for_log(f"REL-{kind} {name}", timeout=20)


def abort_download(server: Server, name: str) -> None:
    conn = rawhttp.Connection(server.port)
    conn.send_head("GET", f"/bytes?n={BIG}&seed=1&tag={name}")
    status, _ = conn.read_head()
    assert status == 200
    assert conn.read_some(65536)
    conn.abort()


def abort_upload(server: Server, name: str) -> None:
    conn = rawhttp.Connection(server.port)
    conn.send_head("POST", f"/echo?tag={name}", length=1024 * 1024)
    conn.sock.sendall(b"u" * 100_000)
    # A FIN, not a reset: a reset may discard the body the server has not
    # read yet, and then the app is (rightly) never called.
    conn.close()


def raise_mid_stream(server: Server, name: str) -> None:
    """The response is aborted after its first chunks: never completed."""
    conn = rawhttp.Connection(server.port)
    try:
        conn.send_head("GET", f"/raise?tag={name}")
        with pytest.raises(rawhttp.IncompleteResponse):
            conn.read_response()
    finally:
        conn.close()


# --------------------------------------------------------------------------
# WSGIToASGI under Uvicorn and Hypercorn
# --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def w2a_server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, int]]:
    env = {"REL_IDLE_TIMEOUT": "0.2"}
    with serve(request.param, "apps.rel_apps:w2a_app", env=env) as server:
        idle = server.thread_count()
        health(server)
        yield server, idle


def w2a_settled(server: Server, idle: int) -> None:
    """Worker threads retire to the idle count; the next request is served."""
    wait_until(lambda: server.thread_count() == idle, timeout=20)
    health(server)
    wait_until(lambda: server.thread_count() == idle, timeout=20)


def test_W2A_server_disconnect_mid_download(w2a_server: tuple[Server, int]) -> None:
    """W2A-ERR-07, W2A-CLOSE-01: close() once, promptly after the reset."""
    server, idle = w2a_server
    name = tag()
    abort_download(server, name)
    wait_mark(server, "CLOSE", name)
    w2a_settled(server, idle)
    assert marks(server, "CLOSE", name) == 1


def test_W2A_server_disconnect_mid_upload(w2a_server: tuple[Server, int]) -> None:
    """W2A-IN-08: the app's read raises ClientDisconnected (REL-GONE)."""
    server, idle = w2a_server
    name = tag()
    abort_upload(server, name)
    wait_mark(server, "GONE", name)
    w2a_settled(server, idle)
    assert marks(server, "GONE", name) == 1


def test_W2A_server_disconnect_before_body(w2a_server: tuple[Server, int]) -> None:
    """A client that leaves right after its head: nothing is left behind."""
    server, idle = w2a_server
    conn = rawhttp.Connection(server.port)
    conn.send_head("POST", "/echo", length=1000)
    conn.abort()
    w2a_settled(server, idle)


def test_W2A_server_app_raises_mid_stream(w2a_server: tuple[Server, int]) -> None:
    """W2A-ERR-03: the client sees an aborted response; close() once."""
    server, idle = w2a_server
    name = tag()
    raise_mid_stream(server, name)
    wait_mark(server, "CLOSE", name)
    w2a_settled(server, idle)
    assert marks(server, "CLOSE", name) == 1


def test_W2A_ERR_01_server_answers_an_error_before_start(
    w2a_server: tuple[Server, int],
) -> None:
    """W2A-ERR-01: the WSGI app raises before start_response; WSGIToASGI
    sends nothing and raises it, so the server logs it and answers its own
    500, whole, and serves on."""
    server, idle = w2a_server
    name = tag()
    conn = rawhttp.Connection(server.port)
    try:
        response = conn.request("GET", f"/raise-first?tag={name}")
    finally:
        conn.close()
    assert response.status == 500
    server.wait_for_log(f"raising before start_response ({name})", timeout=20)
    w2a_settled(server, idle)


# --------------------------------------------------------------------------
# ASGIToWSGI under Gunicorn (gthread) and Waitress
# --------------------------------------------------------------------------


def task_count(server: Server) -> int:
    conn = rawhttp.Connection(server.port)
    try:
        return int(conn.request("GET", "/tasks").body)
    finally:
        conn.close()


@pytest.fixture(scope="module", params=["gunicorn", "waitress"])
def a2w_server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, int, int]]:
    if request.param == "gunicorn":
        # One request thread: its count never changes after the first request.
        context = serve(
            "gunicorn", "apps.rel_apps:a2w_app", worker_class="gthread", threads=1
        )
    else:
        context = serve("waitress", "apps.rel_apps:a2w_app", threads=4)
    with context as server:
        health(server)
        yield server, server.thread_count(), task_count(server)


def a2w_settled(server: Server, idle_threads: int, idle_tasks: int) -> None:
    health(server)
    wait_until(lambda: task_count(server) == idle_tasks, timeout=20)
    wait_until(lambda: server.thread_count() == idle_threads, timeout=20)


def test_A2W_server_disconnect_mid_download(
    a2w_server: tuple[Server, int, int],
) -> None:
    """A2W-ERR-06: the server closes the iterable; the app's send() raises
    ClientDisconnected (REL-GONE) and the task ends once (REL-END)."""
    server, threads, tasks = a2w_server
    name = tag()
    abort_download(server, name)
    wait_mark(server, "END", name)
    a2w_settled(server, threads, tasks)
    assert marks(server, "GONE", name) == 1
    assert marks(server, "END", name) == 1


def test_A2W_server_disconnect_mid_upload(
    a2w_server: tuple[Server, int, int],
) -> None:
    """A2W-RECV-06: a truncated upload. Gunicorn hands the app
    http.disconnect (REL-GONE); Waitress drops the request before calling
    the app at all. Either way nothing is left behind."""
    server, threads, tasks = a2w_server
    name = tag()
    abort_upload(server, name)
    if server.kind == "gunicorn":
        wait_mark(server, "END", name)
        assert marks(server, "GONE", name) == 1
    a2w_settled(server, threads, tasks)
    assert marks(server, "END", name) <= 1


def test_A2W_server_app_raises_mid_stream(
    a2w_server: tuple[Server, int, int],
) -> None:
    """A2W-ERR-02: the response is aborted; the task ended once."""
    server, threads, tasks = a2w_server
    name = tag()
    raise_mid_stream(server, name)
    wait_mark(server, "END", name)
    a2w_settled(server, threads, tasks)
    assert marks(server, "END", name) == 1


def test_A2W_server_lifespan_startup_failed() -> None:
    """A2W-LIFE-04 under Gunicorn: every request gets the exact E500."""
    env = {"REL_LIFESPAN": "fail"}
    with serve("gunicorn", "apps.rel_apps:a2w_app", env=env) as server:
        for _ in range(2):
            conn = rawhttp.Connection(server.port)
            try:
                response = conn.request("GET", "/health")
            finally:
                conn.close()
            assert (response.status, response.body) == (500, CANNED[500])
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            assert response.headers["content-length"] == "21"
