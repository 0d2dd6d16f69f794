"""ASGIToWSGI's ``request_timeout`` (A2W-TIME-01) and ``stats()`` (A2W-STAT-01).

Every test runs on every loop backend (uvloop, stock asyncio and trio). No
test asserts a duration: a timeout is shown to fire by its effect (E504, an
abort, the counter), and every wait is bounded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from sgibridge import ASGIToWSGI
from sgibridge._a2w_errors import RequestTimedOut
from test_asgi_to_wsgi import TEXT, call, start, wait_for
from wsgi_client import A2W_BACKENDS, make_environ, middlewares

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


@pytest.fixture(params=A2W_BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., ASGIToWSGI]]:
    with middlewares(request.param, lifespan="off") as factory:
        yield factory


def hanging(after_first_chunk: bool, cancelled: list[bool]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if after_first_chunk:
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send(
                {"type": "http.response.body", "body": b"first", "more_body": True}
            )
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(True)

    return app


def test_A2W_TIME_01_hanging_app_is_cancelled_with_504(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sgibridge")
    cancelled: list[bool] = []
    mw = make(hanging(False, cancelled), request_timeout=0.2)
    response = call(mw, make_environ(path="/slow"))
    assert (response.status, response.body) == (
        "504 Gateway Timeout",
        b"Gateway Timeout",
    )
    assert response.header("content-length") == "15"
    assert len(response.calls) == 1  # one start_response
    assert cancelled == [True]
    warnings = [r for r in caplog.records if "A2W-TIME-01" in r.getMessage()]
    assert len(warnings) == 1 and "/slow" in warnings[0].getMessage()
    assert "see docs/behaviour.md#a2w-time-01" in warnings[0].getMessage()
    stats = mw.stats()
    assert (stats["timeouts"], stats["in_flight"], stats["requests"]) == (1, 0, 1)


def test_A2W_TIME_01_after_the_first_byte_the_response_is_aborted(
    make: Callable[..., ASGIToWSGI],
) -> None:
    cancelled: list[bool] = []
    result, sr = start(
        make(hanging(True, cancelled), request_timeout=0.2), make_environ()
    )
    iterator = iter(result)
    assert next(iterator) == b"first"
    with pytest.raises(RequestTimedOut, match="A2W-TIME-01"):
        next(iterator)  # the server aborts the connection
    result.close()  # type: ignore[attr-defined]
    assert [c[0] for c in sr.calls] == ["200 OK"]
    assert cancelled == [True]


def test_A2W_TIME_01_off_by_default_and_fast_apps_unaffected(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"in time"})

    assert make(app).request_timeout is None
    assert call(make(app)).body == b"in time"
    mw = make(app, request_timeout=30)
    assert call(mw).body == b"in time"
    assert mw.stats()["timeouts"] == 0


@pytest.mark.parametrize("value", [0, -1, float("nan")])
def test_A2W_TIME_01_request_timeout_is_validated(value: float) -> None:
    with pytest.raises(ValueError, match="request_timeout"):
        ASGIToWSGI(hanging(False, []), request_timeout=value)


def test_A2W_STAT_01_stats_show_requests_in_flight(
    make: Callable[..., ASGIToWSGI],
) -> None:
    release = threading.Event()
    sent = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send(
                {"type": "http.response.body", "body": b"x" * 1000, "more_body": True}
            )
            await send(
                {"type": "http.response.body", "body": b"y" * 500, "more_body": True}
            )
            sent.set()
        with anyio.fail_after(10):
            while not release.is_set():  # noqa: ASYNC110 - set by the test thread
                await anyio.sleep(0.005)
        if scope["path"] != "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"done"})

    mw = make(app)
    assert mw.stats()["loop"] == "not started"
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda p=p: results.append(call(mw, make_environ(path=p)))
        )
        for p in ("/wait", "/stream")
    ]
    threads[0].start()
    try:
        wait_for(lambda: mw.stats()["in_flight"] == 1)
        threads[1].start()
        wait_for(lambda: mw.stats()["in_flight"] == 2 and sent.is_set())
        stats = mw.stats()
    finally:
        release.set()
    json.dumps(stats)  # plain values only
    assert stats["loop"] == "running" and stats["lifespan"] == "off"
    assert stats["backend"] in ("asyncio", "uvloop", "trio")
    first, second = stats["requests_in_flight"]
    assert (first["method"], first["path"], first["phase"]) == ("GET", "/wait", "app")
    assert (second["path"], second["phase"]) == ("/stream", "streaming")
    assert first["age"] >= second["age"] >= 0 and stats["oldest_age"] == first["age"]
    # Sent and not yet taken by the WSGI thread: at most both chunks.
    assert stats["bytes_buffered"] == second["buffered"] <= 1500
    assert first["buffered"] == 0
    release.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    wait_for(lambda: mw.stats()["in_flight"] == 0)
    assert mw.stats()["requests"] == 2
    mw.close()
    assert mw.stats()["loop"] == "stopped"
