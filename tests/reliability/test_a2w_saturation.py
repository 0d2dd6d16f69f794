"""ASGIToWSGI when every thread of a real server is taken (issue 13 §3,
A2W-TIME-01..03).

Gunicorn ``gthread`` with one worker and ten threads: eleven requests to an
app that never answers take every thread and queue one more. Without a
timeout no further request is ever answered; with ``request_timeout`` each
hanging app is cancelled and answered with E504, the threads come back, and
a fresh request is served. The time the fresh request took is printed for
the record; the test asserts no duration (the client's own timeout only
bounds the wait).

Twelve clients that never read a download, or eleven that trickle an upload,
hold the server's thread in its own write or read, where ``request_timeout``
cannot reach: the tests below hold what docs/behaviour.md says each server
does about it (A2W-TIME-02, A2W-TIME-03), with the app and clients of
``a2w_saturation.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servers import Server, serve

from . import a2w_saturation as saturation
from . import rawhttp
from .a2w_saturation import PINNED, Config, Scenario, gthread, waitress

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


# --- issue 13 §3: clients that never read, uploads that trickle -------------
#
# Each test pins every thread of one server configuration with the clients of
# tests/reliability/a2w_saturation.py, then sends one fresh request. Whether
# it is answered within a bounded wait is the claim under test, never how
# fast: ANSWERED bounds a wait that should succeed, PINNED_WAIT the wait that
# shows a thread is held (several times the request_timeout in force, so a
# timeout that could free the thread would have had its chance). The time
# taken is printed (-s). The downloads are 32 MiB: twice Waitress's default
# outbuf_high_watermark, and far more than the sockets' kernel buffers.

ANSWERED = 20.0
PINNED_WAIT = 8.0
DOWNLOAD_MIB = 32
PINNED_PATHS: dict[Scenario, str] = {"non-reading": "/big", "trickling": "/upload"}
#: The adapter's loops, for the tests where request_timeout cancels the app.
BACKENDS = ["asyncio", "trio"]


def _paths_in_flight(port: int) -> list[str]:
    return [r["path"] for r in saturation.stats(port)["requests_in_flight"]]


def _pinned_then_freed(config: Config, scenario: Scenario) -> None:
    """The fresh request waits while the clients hold every thread, though
    request_timeout cancelled every app that started; once the clients leave,
    the server answers again and none of their requests stays in the adapter
    (polled up to ANSWERED seconds)."""
    path = PINNED_PATHS[scenario]
    with config.serve() as running:
        with saturation.pin(running.port, scenario, PINNED[scenario], mib=DOWNLOAD_MIB):
            assert saturation.fresh_request(running.port, PINNED_WAIT) is None
        took = saturation.fresh_request(running.port, ANSWERED)
        assert took is not None, running.log_tail()
        print(f"\n{config.name}, {scenario}: answered {took:.2f} s after they left")
        deadline = time.monotonic() + ANSWERED
        while path in (left := _paths_in_flight(running.port)):
            assert time.monotonic() < deadline, f"still in flight: {left}"
            time.sleep(0.1)
        final = saturation.stats(running.port)
        loops = {"asyncio": ("asyncio", "uvloop"), "trio": ("trio",)}
        assert final["backend"] in loops[config.backend]
        if config.request_timeout is not None:
            assert final["timeouts"] >= config.threads


def _answered(
    config: Config,
    scenario: Scenario,
    *,
    mib: int = DOWNLOAD_MIB,
    wait: float = ANSWERED,
) -> dict[str, Any]:
    """The fresh request is answered while the clients still hold on; return
    the adapter's stats() at that moment."""
    with (
        config.serve() as running,
        saturation.pin(running.port, scenario, PINNED[scenario], mib=mib),
    ):
        took = saturation.fresh_request(running.port, wait)
        assert took is not None, running.log_tail()
        print(f"\n{config.name}, {scenario}: fresh request answered in {took:.2f} s")
        return saturation.stats(running.port)


def test_A2W_TIME_03_waitress_buffers_trickling_uploads_before_the_app() -> None:
    """A2W-TIME-03: Waitress reads a whole request body before it gives the
    request to a thread, so eleven trickling uploads hold no thread and never
    reach the adapter: a fresh request is answered under the defaults."""
    now = _answered(waitress(), "trickling")
    assert now["requests"] == 1  # the fresh request only


@pytest.mark.parametrize("backend", BACKENDS)
def test_A2W_TIME_03_request_timeout_cannot_free_a_gthread_reading_a_trickle(
    backend: str,
) -> None:
    """A2W-TIME-03: under Gunicorn gthread the server's thread reads
    wsgi.input for the app, byte by byte, and request_timeout cannot interrupt
    it: eleven trickling uploads pin all ten threads until they leave."""
    _pinned_then_freed(gthread(request_timeout=2.0, backend=backend), "trickling")


@pytest.mark.parametrize("backend", BACKENDS)
def test_A2W_TIME_02_request_timeout_cannot_free_a_thread_blocked_writing(
    backend: str,
) -> None:
    """A2W-TIME-02: twelve clients that never read a download pin Gunicorn
    gthread's ten threads in the server's own socket write (a few MiB fill the
    kernel's buffers long before request_timeout fires); request_timeout
    cancels the apps, but the threads stay blocked until the clients leave."""
    _pinned_then_freed(gthread(request_timeout=2.0, backend=backend), "non-reading")


def test_A2W_TIME_02_waitress_blocks_a_thread_past_its_output_watermark() -> None:
    """A2W-TIME-02: under Waitress's defaults a thread blocks once 16 MiB of
    a download are unsent (outbuf_high_watermark): twelve clients that never
    read pin all four threads until they leave."""
    _pinned_then_freed(waitress(), "non-reading")


def test_A2W_TIME_02_waitress_outbuf_above_the_response_frees_the_threads() -> None:
    """A2W-TIME-02: with outbuf_high_watermark above the largest response,
    Waitress's threads spool each download to its buffers and move on: twelve
    clients that never read leave every thread free for a fresh request.

    The downloads are 24 MiB, above what the defaults absorb (16 MiB plus the
    kernel's buffers), and the wait is longer: the fresh request comes once
    every thread spooled three downloads, 288 MiB in all, to temporary files.
    """
    mib = 24
    now = _answered(
        waitress(extra_args=(f"--outbuf-high-watermark={2 * mib * saturation.MIB}",)),
        "non-reading",
        mib=mib,
        wait=2 * ANSWERED,
    )
    assert now["requests"] == PINNED["non-reading"] + 1  # every download started
