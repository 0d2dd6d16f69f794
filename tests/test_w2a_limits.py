"""WSGIToASGI's limits and stats (W2A-TIME-01..05, W2A-STAT-01/02), on asyncio and trio.

The server side is scripted (``tests/reliability/support.py``); the limits are
set small so that each fires at once. Nothing here measures time: a limit that
never fired would leave the call hanging until the harness's own bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from asgi_client import make_scope
from reliability.support import (
    LIMIT,
    Message,
    Tracked,
    assert_w2a_recovers,
    drive,
    request,
    w2a,
    wait_until_async,
)
from sgibridge import ClientDisconnected, WSGIToASGI

if TYPE_CHECKING:
    from sgibridge._types import Environ, StartResponse

pytestmark = pytest.mark.anyio

TEXT = [("Content-Type", "text/plain")]


async def test_W2A_TIME_01_send_timeout_aborts_a_stalled_response() -> None:
    """W2A-TIME-01: a client that reads nothing (send() never returns) for
    send_timeout aborts the response; the app's next write raises
    ClientDisconnected, close() runs, the worker is freed."""
    seen: list[BaseException] = []

    result = Tracked([])

    def app(environ: Environ, start_response: StartResponse) -> Any:
        write = start_response("200 OK", TEXT)
        try:
            while True:
                write(b"y" * 1024)
        except ClientDisconnected as exc:
            seen.append(exc)
        return result

    async def stalled(message: Message) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()

    mw = w2a(app, send_timeout=0.05)
    exchange = await drive(mw, on_send=stalled)
    assert exchange.status == 200 and not exchange.finished
    assert exchange.error is None
    assert len(seen) == 1 and isinstance(seen[0], ClientDisconnected)
    assert result.closed == 1
    assert mw.stats()["timeouts"] == {"send": 1, "body": 0, "request": 0}
    await assert_w2a_recovers(mw)


async def test_W2A_TIME_02_body_timeout_ends_a_trickle_as_a_disconnect() -> None:
    """W2A-TIME-02: a request body that delivers no byte for body_timeout ends
    as a disconnect: the app's read raises ClientDisconnected; nothing is sent."""
    seen: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except ClientDisconnected as exc:
            seen.append(exc)
            raise
        start_response("200 OK", TEXT)  # pragma: no cover - never reached
        return [b"never"]  # pragma: no cover

    mw = w2a(app, body_timeout=0.05)
    script = [request(b"a", more=True), request(b"b", more=True)]
    exchange = await drive(mw, make_scope("POST"), script)
    assert exchange.messages == [] and exchange.error is None
    assert len(seen) == 1 and "body_timeout" in str(seen[0])
    assert mw.stats()["timeouts"]["body"] == 1
    await assert_w2a_recovers(mw)


async def test_W2A_TIME_03_request_timeout_answers_504_and_counts_the_thread_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """W2A-TIME-03/04: a hung app gets its client a 504; the stuck thread's stack
    is logged once; the thread counts as lost until it returns, and the pool
    may start another thread meanwhile, so the next request is served."""
    release = threading.Event()

    def hanging_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        assert release.wait(LIMIT)
        start_response("200 OK", TEXT)
        return [b"late"]

    mw = w2a(hanging_app, workers=1, request_timeout=0.1)
    try:
        with caplog.at_level(logging.ERROR, logger="sgibridge"):
            exchange = await drive(mw)
        assert (exchange.status, exchange.body) == (504, b"Gateway Timeout")
        assert exchange.error is None
        assert "request_timeout" in caplog.text and "hanging_app" in caplog.text
        assert caplog.text.count("request_timeout=") == 1
        stats = mw.stats()
        assert (stats["lost"], stats["timeouts"]["request"]) == (1, 1)
        health = await drive(mw, make_scope(path="/health"))
        assert health.status == 200
    finally:
        release.set()
    await wait_until_async(lambda: mw.stats()["lost"] == 0)
    await assert_w2a_recovers(mw)


async def test_W2A_TIME_03_request_timeout_after_the_headers_aborts() -> None:
    """W2A-TIME-03: once the response started, request_timeout aborts it (no
    more_body=False, no second http.response.start)."""
    release = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"first"
        assert release.wait(LIMIT)
        yield b"late"

    mw = w2a(app, request_timeout=0.1)
    try:
        exchange = await drive(mw)
        assert exchange.status == 200 and exchange.body == b"first"
        assert not exchange.finished
        assert [m["type"] for m in exchange.messages].count("http.response.start") == 1
    finally:
        release.set()
    await wait_until_async(lambda: mw.stats()["lost"] == 0)
    await assert_w2a_recovers(mw)


async def test_W2A_TIME_05_max_queue_answers_503_with_retry_after() -> None:
    """W2A-TIME-05: with every worker busy and max_queue requests waiting, the
    next request is answered 503 with Retry-After at once, not queued."""
    release = threading.Event()
    entered = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        entered.set()
        assert release.wait(LIMIT)
        start_response("200 OK", TEXT)
        return [b"done"]

    mw = w2a(app, workers=1, max_queue=0)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive, mw)
            await anyio.to_thread.run_sync(entered.wait, LIMIT)
            refused = await drive(mw)
            release.set()
    finally:
        release.set()
    assert (refused.status, refused.body) == (503, b"Service Unavailable")
    assert refused.header(b"retry-after") == b"1"
    assert mw.stats()["rejected"] == 1
    await assert_w2a_recovers(mw)


async def test_W2A_STAT_01_02_stats_and_one_saturation_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """W2A-STAT-01: stats() shows busy and idle workers, the queue, requests in
    flight with their paths, phases and ages. W2A-STAT-02: once every worker
    has been busy past saturation_warning with requests waiting, one warning
    names the pool size and what the workers are doing."""
    release = threading.Event()
    entered = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        entered.set()
        assert release.wait(LIMIT)
        start_response("200 OK", TEXT)
        return [b"done"]

    mw = w2a(app, workers=1, saturation_warning=0.01)
    results: list[int] = []

    async def one(path: str) -> None:
        results.append((await drive(mw, make_scope(path=path))).status)

    try:
        with caplog.at_level(logging.WARNING, logger="sgibridge"):
            async with anyio.create_task_group() as tg:
                tg.start_soon(one, "/busy")
                await anyio.to_thread.run_sync(entered.wait, LIMIT)
                tg.start_soon(one, "/waiting")
                await wait_until_async(lambda: mw.stats()["queued"] == 1)
                stats = mw.stats()
                assert (stats["workers"], stats["busy"], stats["queued"]) == (1, 1, 1)
                phases = {r["path"]: r["phase"] for r in stats["requests_in_flight"]}
                assert phases == {"/busy": "app", "/waiting": "queued"}
                assert stats["in_flight"] == 2 and stats["oldest_age"] >= 0
                await anyio.sleep(0.05)  # past saturation_warning
                tg.start_soon(one, "/third")
                tg.start_soon(one, "/fourth")
                await wait_until_async(lambda: mw.stats()["queued"] == 3)
                release.set()
    finally:
        release.set()
    assert results.count(200) == 4
    warnings = [r for r in caplog.records if "have been busy" in r.getMessage()]
    assert len(warnings) == 1
    assert "all 1 WSGIToASGI workers" in warnings[0].getMessage()
    assert "GET /busy" in warnings[0].getMessage()
    stats = mw.stats()
    assert (stats["in_flight"], stats["busy"], stats["queued"]) == (0, 0, 0)
    await assert_w2a_recovers(mw)


def test_W2A_TIME_options_are_validated() -> None:
    """W2A-TIME-01..05: a limit must be positive (or None)."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return []  # pragma: no cover

    with pytest.raises(ValueError, match="send_timeout"):
        WSGIToASGI(app, send_timeout=0)
    with pytest.raises(ValueError, match="body_timeout"):
        WSGIToASGI(app, body_timeout=-1)
    with pytest.raises(ValueError, match="request_timeout"):
        WSGIToASGI(app, request_timeout=0.0)
    with pytest.raises(ValueError, match="max_queue"):
        WSGIToASGI(app, max_queue=-1)
    limits = WSGIToASGI(app).limits
    assert (limits.send_timeout, limits.body_timeout, limits.request_timeout) == (
        None,
        None,
        None,
    )
    assert limits.max_queue is None and limits.saturation_warning == 10.0


async def test_W2A_STAT_01_a_request_awaiting_its_body_is_not_queued() -> None:
    """W2A-STAT-01: a request whose first body message has not arrived holds
    no worker and is listed in phase "request", not "queued"."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return []  # pragma: no cover - never called

    mw = w2a(app)
    gone = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: drive(mw, make_scope("POST", path="/slow"), [], gone=gone)
        )
        await wait_until_async(lambda: mw.stats()["in_flight"] == 1)
        stats = mw.stats()
        assert [r["phase"] for r in stats["requests_in_flight"]] == ["request"]
        assert (stats["busy"], stats["queued"]) == (0, 0)
        gone.set()
    assert mw.stats()["in_flight"] == 0
    await assert_w2a_recovers(mw)
