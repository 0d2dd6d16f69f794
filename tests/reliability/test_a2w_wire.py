"""ASGIToWSGI on the wire under Gunicorn (sync, gthread) and Waitress (issue 13 §2).

A failure after ``http.response.start`` must never make the adapter call
``start_response`` a second time: Gunicorn appends the second set of headers
to the first, so the client would get two Content-Length headers, a framing
ambiguity that proxies resolve differently. The head is read raw, byte for
byte, so a repeated header cannot hide in a parsed mapping.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from servers import Server, ServerKind, serve

from . import rawhttp

pytestmark = pytest.mark.integration

TARGET = "apps.a2w_wire:app"
#: id: (server, gunicorn worker class, threads)
CONFIGS: dict[str, tuple[ServerKind, str | None, int | None]] = {
    "gunicorn-sync": ("gunicorn", "sync", None),
    "gunicorn-gthread": ("gunicorn", "gthread", 4),
    "waitress": ("waitress", None, 4),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    kind, worker_class, threads = CONFIGS[request.param]
    # waitress stops cleanly (atexit hooks included) on SIGINT only.
    stop = signal.SIGINT if kind == "waitress" else signal.SIGTERM
    with serve(
        kind, TARGET, worker_class=worker_class, threads=threads, stop_signal=stop
    ) as running:
        yield running


def raw_head(conn: rawhttp.Connection, path: str) -> list[tuple[str, str]]:
    """Send ``GET path`` and return the response head's status line and
    header lines as they came, repeated ones included."""
    conn.send_head("GET", path)
    head = conn._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
    lines = [("", head[0])]
    for line in head[1:]:
        name, _, value = line.partition(":")
        lines.append((name.strip().lower(), value.strip()))
    return lines


def values(head: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in head if key == name]


def assert_served(server: Server) -> None:
    conn = rawhttp.Connection(server.port, timeout=10)
    try:
        response = conn.request("GET", "/ok")
    finally:
        conn.close()
    assert (response.status, response.body) == (200, b"ok")


def test_A2W_ERR_01_failure_after_start_is_one_clean_500(server: Server) -> None:
    """The app raised after ``http.response.start`` (``content-length: 1000``),
    before any body: the WSGI call raises the app's exception, so the server
    logs it and answers with its own 500, whole, with one set of headers and
    none of the app's; the same processes serve on."""
    pids = server.pids()
    conn = rawhttp.Connection(server.port, timeout=10)
    try:
        head = raw_head(conn, "/fail-after-start")
        assert head[0][1].split(" ", 2)[1] == "500", head
        lengths = values(head, "content-length")
        assert len(lengths) == 1 and lengths[0] != "1000", head
        assert len(conn._read_exact(int(lengths[0]))) == int(lengths[0])
    finally:
        conn.close()
    logged = {
        "gunicorn": "Error handling request",
        "waitress": "Exception while serving",
    }
    log = server.wait_for_log(logged[server.kind], timeout=10)
    assert "WIRE-FAIL after start" in log.split(logged[server.kind], 1)[1]
    assert_served(server)
    assert server.pids() == pids


def test_A2W_ERR_02_failure_after_bytes_is_an_abort(server: Server) -> None:
    """Body bytes went to the server, then the app raised: the server drops
    the connection before the declared length; one Content-Length only."""
    conn = rawhttp.Connection(server.port, timeout=10)
    try:
        head = raw_head(conn, "/fail-after-bytes")
        assert head[0][1].split(" ", 2)[1] == "200", head
        lengths = values(head, "content-length")
        assert len(lengths) == 1, head
        with pytest.raises(rawhttp.IncompleteResponse):
            conn._read_exact(int(lengths[0]))
    finally:
        conn.close()
    assert_served(server)
