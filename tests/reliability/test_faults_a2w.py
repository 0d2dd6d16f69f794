"""Fault injection for ASGIToWSGI (CONFORMANCE A2W-ERR-*, A2W-RECV-06/07, A2W-LIFE-*).

Each case breaks one thing (the client through ``wsgi.input``, the app, the
server's ``start_response``, the server closing the iterable early, the task
being cancelled, lifespan) and then checks:

1. the right response or abort, byte for byte (canned bodies per §0);
2. the result's ``close()`` ran once (the stdlib validator, wrapped around
   every call, fails a result that is never closed) and returned only after
   the app task ended: :class:`~reliability.support.Tasks` counts running
   app calls, and it must be zero right after ``close()``;
3. the same middleware serves the next request;
4. at the end, shutting the middleware down leaves no thread behind.

Each test runs on uvloop, stock asyncio and trio.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from sgibridge import ASGIProtocolError, ASGIToWSGI, ClientDisconnected
from wsgi_client import A2W_BACKENDS, closing_outer, make_environ

from .support import (
    CANNED,
    LIMIT,
    Message,
    Receive,
    Scope,
    Send,
    Tasks,
    WSGIResult,
    assert_a2w_recovers,
    assert_canned_wsgi,
    assert_raised_from_call,
    close_a2w,
    serve_wsgi,
    wait_until,
)

TEXT = [(b"content-type", b"text/plain")]
Make = Callable[..., tuple[ASGIToWSGI, Tasks]]


class Boom(Exception):
    """The app's own failure."""


@pytest.fixture(params=A2W_BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    before = set(threading.enumerate())
    made: list[ASGIToWSGI] = []

    def factory(app: Any, **kwargs: Any) -> tuple[ASGIToWSGI, Tasks]:
        tasks = Tasks()
        kwargs.setdefault("lifespan", "off")
        mw = ASGIToWSGI(tasks.wrap(app), **{**request.param, **kwargs})
        made.append(mw)
        return mw, tasks

    yield factory
    for mw in made:
        close_a2w(mw, before)


async def start(send: Send, status: int = 200, headers: Any = None) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": headers or TEXT}
    )


async def body(send: Send, data: bytes, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def served(result: WSGIResult, status: str, data: bytes) -> None:
    assert (result.status, result.body, result.error) == (status, data, None)


class Streamer:
    """Streams blocks until send() raises; a watcher task records what
    receive() returns after the body (A2W-RECV-07, A2W-ERR-06)."""

    def __init__(self) -> None:
        self.send_error: BaseException | None = None
        self.after_body: list[Message] = []
        self.sent = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "http.request"

        async def watch() -> None:
            self.after_body.append(await receive())

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await start(send)
            try:
                for _ in range(100_000):
                    await body(send, b"s" * 1024, more=True)
                    self.sent += 1
            except ClientDisconnected as exc:
                self.send_error = exc
        if self.send_error is not None:
            raise self.send_error


# --------------------------------------------------------------------------
# The client disconnects (seen through wsgi.input, or the server's close())
# --------------------------------------------------------------------------


class BrokenInput(io.RawIOBase):
    """A ``wsgi.input`` that returns ``data`` and then fails or runs dry."""

    def __init__(self, data: bytes, error: BaseException | None) -> None:
        self._data = io.BytesIO(data)
        self._error = error

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._data.read(-1 if size is None else size)
        if not data and self._error is not None:
            raise self._error
        return data


def disconnect_app(seen: list[Message], errors: list[BaseException]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] != "http.request" or not message["more_body"]:
                break
        try:
            await start(send)
        except ClientDisconnected as exc:
            errors.append(exc)
            raise

    return app


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ConnectionResetError("reset before the body")),
        (b"", None),
        (b"0123456789", ConnectionResetError("reset mid-body")),
        (b"0123456789", None),
    ],
    ids=["before-body-reset", "before-body-eof", "mid-body-reset", "mid-body-eof"],
)
def test_A2W_fault_disconnect_before_or_during_request_body(
    make: Make, data: bytes, error: BaseException | None
) -> None:
    """A2W-RECV-06: a short or failing input becomes http.disconnect, after
    the bytes that did arrive; send() then raises ClientDisconnected; the
    server gets E500 (for a client that is gone) and nothing hangs."""
    seen: list[Message] = []
    errors: list[BaseException] = []
    mw, tasks = make(disconnect_app(seen, errors), chunk_size=4)
    environ = make_environ(
        "POST", stream=BrokenInput(data, error), content_length="100"
    )
    result = serve_wsgi(mw, environ, validate=False)
    assert_canned_wsgi(result, 500)
    assert data.startswith(b"".join(m.get("body", b"") for m in seen))
    assert seen[-1] == {"type": "http.disconnect"}
    assert len(errors) == 1
    assert_a2w_recovers(mw, tasks)


@pytest.mark.parametrize("after", [0, 1, 3], ids=["before-iterating", "1", "3"])
def test_A2W_fault_server_closes_iterable_early(make: Make, after: int) -> None:
    """A2W-ERR-06: the server closes the iterable early (its client left
    mid-download): the app's next send() raises ClientDisconnected, a pending
    receive() gets http.disconnect, and close() returns after the task."""
    app = Streamer()
    mw, tasks = make(app)
    result = serve_wsgi(mw, make_environ(), close_after=after)
    assert result.status == "200 OK" and result.chunks == after
    assert isinstance(app.send_error, ClientDisconnected)
    assert app.after_body == [{"type": "http.disconnect"}]
    assert tasks.outcomes == ["ClientDisconnected"]
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_client_leaves_after_response(make: Make) -> None:
    """After a complete response the app may keep running (a background
    task); close() waits for it, and a receive() then gets http.disconnect."""
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await start(send)
        await body(send, b"done")
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        seen.append(await receive())

    mw, tasks = make(app)
    served(serve_wsgi(mw, make_environ()), "200 OK", b"done")
    assert seen == [{"type": "http.disconnect"}]
    assert_a2w_recovers(mw, tasks)


# --------------------------------------------------------------------------
# The app raises
# --------------------------------------------------------------------------


def test_A2W_fault_app_raises_before_response_start(make: Make) -> None:
    """A2W-ERR-01: the WSGI call raises the app's exception, with nothing
    handed to start_response, once the app has ended."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise Boom("before start")

    mw, tasks = make(app)
    raised: list[BaseException] = []
    result = serve_wsgi(closing_outer(mw, raised), make_environ())
    assert_raised_from_call(result, raised)
    assert isinstance(raised[0], Boom) and raised[0].args == ("before start",)
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_app_raises_after_response_start(make: Make) -> None:
    """A2W-ERR-01: start was sent, no byte yet: the app's status and headers
    never reach start_response, and the WSGI call raises the app's exception
    (issue 13 §2: start_response is never called twice)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send, 201)
        await body(send, b"", more=True)
        raise Boom("after start")

    mw, tasks = make(app)
    raised: list[BaseException] = []
    result = serve_wsgi(closing_outer(mw, raised), make_environ())
    assert_raised_from_call(result, raised)
    assert isinstance(raised[0], Boom)
    assert_a2w_recovers(mw, tasks)


@pytest.mark.parametrize("how", ["raises", "returns"])
def test_A2W_fault_app_fails_mid_stream(make: Make, how: str) -> None:
    """A2W-ERR-02/04: after a chunk was yielded, an app that raises or
    returns without its final body makes next() raise, so the server aborts
    the connection."""
    yielded = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"first", more=True)
        while not yielded.is_set():  # noqa: ASYNC110 - set by the server thread
            await anyio.sleep(0.001)
        if how == "raises":
            raise Boom("mid-stream")

    mw, tasks = make(app)
    result = serve_wsgi(mw, make_environ(), on_chunk=yielded.set)
    assert (result.status, result.body) == ("200 OK", b"first")
    if how == "raises":
        assert isinstance(result.error, Boom)
    else:
        assert isinstance(result.error, ASGIProtocolError)
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_app_raises_after_response_complete(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """The "close()" case of an ASGI app: it raises once its response is
    complete. The response stands, the error is logged and raised from
    close() to the WSGI middleware outside (A2W-ERR-08)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"complete")
        raise Boom("after the response")

    mw, tasks = make(app)
    raised: list[BaseException] = []

    with caplog.at_level(logging.ERROR, logger="sgibridge"):
        result = serve_wsgi(closing_outer(mw, raised), make_environ())
        served(result, "200 OK", b"complete")
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)
    assert len(raised) == 1 and isinstance(raised[0], Boom)
    assert_a2w_recovers(mw, tasks)


# --------------------------------------------------------------------------
# The app does not do its part
# --------------------------------------------------------------------------


def test_A2W_fault_app_never_reads_body(make: Make) -> None:
    """An app that ignores a large body answers normally; wsgi.input is
    read no further than one chunk (the server discards the rest)."""
    stream = io.BytesIO(b"u" * (1024 * 1024))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"not reading that")

    mw, tasks = make(app, chunk_size=4096)
    environ = make_environ("POST", stream=stream, content_length=str(1024 * 1024))
    served(serve_wsgi(mw, environ), "200 OK", b"not reading that")
    assert stream.tell() <= 4096
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_app_returns_without_response(make: Make) -> None:
    """A2W-ERR-03: E500."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    mw, tasks = make(app)
    assert_canned_wsgi(serve_wsgi(mw, make_environ()), 500)
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_app_returns_after_start_without_body(make: Make) -> None:
    """A2W-ERR-04: start but no final body and no chunk yielded: E500."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)

    mw, tasks = make(app)
    assert_canned_wsgi(serve_wsgi(mw, make_environ()), 500)
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_app_body_short_of_content_length(make: Make) -> None:
    """A2W-SEND-11: fewer bytes than the declared content-length: abort."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send, headers=[*TEXT, (b"content-length", b"10")])
        await body(send, b"12345", more=True)
        await body(send, b"")

    mw, tasks = make(app)
    result = serve_wsgi(mw, make_environ())
    if result.status.startswith("500"):  # it all arrived before the first byte left
        assert_canned_wsgi(result, 500)
    else:
        assert result.body == b"12345"
        assert isinstance(result.error, ASGIProtocolError)
    assert_a2w_recovers(mw, tasks)


# --------------------------------------------------------------------------
# The server's start_response raises (the app's send() raises)
# --------------------------------------------------------------------------


def test_A2W_fault_start_response_raises(make: Make) -> None:
    """The server rejects the headers: the client gets E500 (through
    start_response(..., exc_info)), the task ends, the next request is
    served."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"never sent")

    mw, tasks = make(app)
    result = serve_wsgi(
        mw, make_environ(), start_error=ValueError("bad header"), validate=False
    )
    assert result.status == "500 Internal Server Error" and result.error is None
    assert result.body == CANNED[500]
    assert_a2w_recovers(mw, tasks)


def test_A2W_ERR_05_start_response_error_gives_e500_and_is_logged(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """A2W-ERR-05, as sgibridge holds it: start_response runs on the server
    thread in order with the body and send() does not wait for it (that wait
    doubled the cost of every small request: 130 against 70 us). When the
    server rejects the start, the client gets E500, the server's error is
    logged with its traceback, the app is not left hanging, and the worker
    serves the next request. An app that sends again after the server thread
    ran the call gets the error from that send() (tests/test_asgi_to_wsgi.py,
    test_A2W_ERR_05_start_response_error_raised_into_app)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"never sent")

    mw, tasks = make(app)
    with caplog.at_level(logging.ERROR, logger="sgibridge"):
        result = serve_wsgi(
            mw, make_environ(), start_error=ValueError("bad header"), validate=False
        )
    assert result.status == "500 Internal Server Error"
    assert any(
        r.exc_info is not None and isinstance(r.exc_info[1], ValueError)
        for r in caplog.records
    )
    assert_a2w_recovers(mw, tasks)


# --------------------------------------------------------------------------
# The task is cancelled
# --------------------------------------------------------------------------


def test_A2W_fault_task_cancelled_after_close_timeout(make: Make) -> None:
    """A2W-ERR-07: an app that never returns after its response is cancelled
    once close_timeout passes; close() returns, no CancelledError reaches the
    server thread."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"ok")
        await anyio.sleep_forever()

    mw, tasks = make(app, close_timeout=0.01)
    served(serve_wsgi(mw, make_environ()), "200 OK", b"ok")
    assert tasks.outcomes[0] in ("CancelledError", "Cancelled")
    assert_a2w_recovers(mw, tasks)


def test_A2W_fault_task_cancelled_by_shutdown_mid_stream(make: Make) -> None:
    """A2W-LIFE-06: shutting down while a response streams cancels the
    task; the server thread's next() raises (an abort, not CancelledError)
    and later requests get E503."""
    streaming = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        await body(send, b"first", more=True)
        await anyio.sleep_forever()

    mw, tasks = make(app)
    results: list[WSGIResult] = []
    server = threading.Thread(
        target=lambda: results.append(
            serve_wsgi(mw, make_environ(), on_chunk=streaming.set)
        ),
        daemon=True,
    )
    server.start()
    assert streaming.wait(LIMIT)
    mw.shutdown()
    server.join(LIMIT)
    assert not server.is_alive()
    (result,) = results
    assert result.body == b"first" and result.error is not None
    assert isinstance(result.error, Exception), "a cancellation reached the server"
    assert tasks.active == 0
    assert_canned_wsgi(serve_wsgi(mw, make_environ()), 503)


# --------------------------------------------------------------------------
# Lifespan (A2W-LIFE-04/05/06)
# --------------------------------------------------------------------------


def lifespan_app(on_startup: Callable[[Send], Any]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            await on_startup(send)
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        await start(send)
        await body(send, b"app")

    return app


def test_A2W_fault_lifespan_startup_failed(make: Make) -> None:
    """A2W-LIFE-04: startup.failed: every request gets E500, the app is
    never called for HTTP."""

    async def fail(send: Send) -> None:
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    mw, tasks = make(lifespan_app(fail), lifespan="on")
    for _ in range(3):
        assert_canned_wsgi(serve_wsgi(mw, make_environ()), 500)
    assert tasks.calls == 1  # the lifespan call only


@pytest.mark.parametrize(("mode", "status"), [("on", 500), ("auto", 200)])
def test_A2W_fault_lifespan_startup_raises(make: Make, mode: str, status: int) -> None:
    """A2W-LIFE-05: raising during startup is a failure under "on" (E500)
    and "unsupported" under "auto" (requests are served)."""

    async def boom(send: Send) -> None:
        raise Boom("startup")

    mw, tasks = make(lifespan_app(boom), lifespan=mode)
    result = serve_wsgi(mw, make_environ())
    if status == 500:
        assert_canned_wsgi(result, 500)
    else:
        served(result, "200 OK", b"app")
    assert tasks.active == 0


def test_A2W_fault_lifespan_startup_hangs(make: Make) -> None:
    """A startup that never answers holds the first requests (A2W-LIFE-02:
    they all wait for it) until shutdown(), which releases every one of them
    with E503 and leaves no thread (checked by the fixture)."""
    entered = threading.Event()

    async def hang(send: Send) -> None:
        entered.set()
        await anyio.sleep_forever()

    mw, tasks = make(lifespan_app(hang), lifespan="on")
    results: list[WSGIResult] = []
    servers = [
        threading.Thread(
            target=lambda: results.append(serve_wsgi(mw, make_environ())), daemon=True
        )
        for _ in range(3)
    ]
    for server in servers:
        server.start()
    assert entered.wait(LIMIT)
    for _ in range(20):  # they are waiting, not answered
        assert not results
        threading.Event().wait(0.001)
    mw.shutdown()
    for server in servers:
        server.join(LIMIT)
        assert not server.is_alive()
    assert len(results) == 3
    for result in results:
        assert_canned_wsgi(result, 503)
    wait_until(lambda: tasks.active == 0)
