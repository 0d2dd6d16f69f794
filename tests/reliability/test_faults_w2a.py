"""Fault injection for WSGIToASGI (CONFORMANCE W2A-CLOSE-*, W2A-ERR-*, W2A-IN-08/12/13).

Each case breaks one thing (the client, the app, the server's ``send()``, the
task) and then checks the four things issue 7 asks for:

1. the right response or abort, byte for byte (canned bodies per §0);
2. ``close()`` was called exactly once, before the ASGI call returned;
3. nothing is left behind: every worker thread of the (test-sized) pool
   retires, which a thread blocked for ever never does;
4. the same middleware then serves the next request.

The ASGI server side is scripted (``support.drive``), on asyncio (debug) and
trio. Real servers are exercised in ``test_faults_servers.py``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sgibridge import BodyTooLarge, ClientDisconnected, WSGIProtocolError

from .support import (
    DISCONNECT,
    LIMIT,
    Message,
    Tracked,
    assert_raised_unsent,
    assert_w2a_recovers,
    cancel_when,
    drive,
    request,
    w2a,
    wait_until_async,
)

if TYPE_CHECKING:
    from sgibridge._types import Environ, StartResponse

from asgi_client import make_scope

pytestmark = pytest.mark.anyio

TEXT = [("Content-Type", "text/plain")]
BLOCK = b"b" * 1024


class Boom(Exception):
    """The app's own failure."""


def answering(result: Tracked, *, start: bool = True) -> Any:
    """A WSGI app that (optionally) calls start_response and returns ``result``."""

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        if start:
            start_response("200 OK", TEXT)
        return result

    return app


#: How many blocks an "endless" response has at most (64 MiB).
BLOCKS = 65536


class EndlessApp:
    """Streams up to :data:`BLOCKS` blocks through a counted iterable; a
    stopped stream shows as ``stopped_early``."""

    def __init__(self, *, read_body: bool = False) -> None:
        self.read_body = read_body
        self.body = b""
        self.result: Tracked | None = None
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Tracked:
        self.entered.set()
        if self.read_body:
            self.body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        self.result = Tracked([BLOCK] * BLOCKS)
        return self.result

    @property
    def stopped_early(self) -> bool:
        return self.result is not None and self.result.yielded < BLOCKS


def closed_once(result: Tracked) -> None:
    assert result.closed == 1, f"close() ran {result.closed} times"
    assert len(result.threads) == 1, "iteration and close() ran on different threads"


# --------------------------------------------------------------------------
# The client disconnects
# --------------------------------------------------------------------------


async def test_W2A_fault_disconnect_before_request_body() -> None:
    """The first receive() is http.disconnect: the app is never called."""
    calls: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        calls.append(1)  # pragma: no cover - must not run
        return []

    mw = w2a(app)
    exchange = await drive(mw, make_scope("POST"), [DISCONNECT])
    assert (exchange.messages, exchange.error, calls) == ([], None, [])
    await assert_w2a_recovers(mw)


async def test_W2A_fault_disconnect_during_request_body() -> None:
    """W2A-IN-08: a truncated upload raises ClientDisconnected in the read,
    never a short EOF; nothing is sent; close() runs once."""
    errors: list[BaseException] = []

    def read_all(environ: Environ) -> None:
        try:
            environ["wsgi.input"].read()
        except ClientDisconnected as exc:
            errors.append(exc)
            raise

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        start_response("200 OK", TEXT)
        result.steps = [lambda: read_all(environ), b"never"]
        return result

    result = Tracked([])
    mw = w2a(app)
    script = [
        request(b"a" * 100, more=True),
        request(b"b" * 100, more=True),
        DISCONNECT,
    ]
    exchange = await drive(mw, make_scope("POST"), script)
    assert (exchange.messages, exchange.error) == ([], None)
    assert len(errors) == 1
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_disconnect_after_request_body_before_response() -> None:
    """W2A-ERR-07: the client leaves once the body is in, while the app works:
    the response is aborted (never finished) and close() runs once."""
    app = EndlessApp(read_body=True)
    mw = w2a(app)
    gone = anyio.Event()
    script = [request(b"x" * 10, more=True), request(b"y" * 10)]
    async with anyio.create_task_group() as tg:
        results: list[Any] = []

        async def call() -> None:
            results.append(await drive(mw, make_scope("POST"), script, gone=gone))

        tg.start_soon(call)
        await wait_until_async(app.entered.is_set)
        gone.set()
    (exchange,) = results
    assert app.body == b"x" * 10 + b"y" * 10
    assert exchange.error is None and not exchange.finished
    assert app.stopped_early
    assert app.result is not None
    closed_once(app.result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_disconnect_during_response_body() -> None:
    """W2A-ERR-07, W2A-CLOSE-01: mid-download the client leaves; the app stops
    at its next chunk; no final body message; close() once."""
    app = EndlessApp()
    mw = w2a(app, buffer_size=4096)
    gone = anyio.Event()

    async def on_send(message: Message) -> None:
        if message["type"] == "http.response.body" and len(message["body"]) > 0:
            gone.set()

    exchange = await drive(mw, gone=gone, on_send=on_send)
    assert exchange.status == 200 and exchange.error is None
    assert not exchange.finished and exchange.body
    assert app.result is not None
    closed_once(app.result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_disconnect_after_response_body() -> None:
    """A client that leaves after a complete streamed response changes nothing."""
    result = Tracked([b"a", b"b", b"c"])
    mw = w2a(answering(result))
    gone = anyio.Event()
    exchange = await drive(mw, gone=gone)
    gone.set()
    assert (exchange.status, exchange.body, exchange.finished) == (200, b"abc", True)
    closed_once(result)
    await assert_w2a_recovers(mw)


# --------------------------------------------------------------------------
# The app raises
# --------------------------------------------------------------------------


async def test_W2A_fault_app_raises_before_start_response() -> None:
    """W2A-ERR-01: the app callable itself raises: raised, nothing sent."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise Boom("before start_response")

    mw = w2a(app)
    exchange = await drive(mw)
    assert_raised_unsent(exchange, Boom)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_iterable_raises_before_start_response() -> None:
    """W2A-ERR-01: a lazy app raises on its first step, before start_response."""
    result = Tracked([Boom("lazy")])
    mw = w2a(answering(result, start=False))
    exchange = await drive(mw)
    assert_raised_unsent(exchange, Boom)
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_app_raises_after_start_response() -> None:
    """W2A-ERR-01: start_response ran but no byte was sent: nothing is sent,
    and the error is raised for the server to answer."""
    result = Tracked([b"", Boom("after start_response")])
    mw = w2a(answering(result))
    exchange = await drive(mw)
    assert_raised_unsent(exchange, Boom)
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_app_raises_mid_stream() -> None:
    """W2A-ERR-03: after the headers went out, an error aborts: no final body
    message, no second start, the error propagates."""
    result = Tracked([b"one", b"two", Boom("mid-stream")])
    mw = w2a(answering(result))
    exchange = await drive(mw)
    assert exchange.status == 200
    assert [m["type"] for m in exchange.messages].count("http.response.start") == 1
    assert not exchange.finished
    assert exchange.body in (b"", b"one", b"onetwo")
    assert isinstance(exchange.error, Boom)
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_close_raises_after_streamed_body() -> None:
    """W2A-CLOSE-04/05: close() raising after a complete streamed body leaves
    the response complete (more_body=False), then the error propagates."""
    result = Tracked([b"one", b"two"], close_error=Boom("in close"))
    mw = w2a(answering(result))
    exchange = await drive(mw)
    assert (exchange.status, exchange.body, exchange.finished) == (200, b"onetwo", True)
    assert isinstance(exchange.error, Boom)
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_close_raises_before_headers() -> None:
    """W2A-CLOSE-04/05: close() raising after a complete empty body, before
    any byte went out, sends that response whole and propagates."""
    result = Tracked([b""], close_error=Boom("in close"))
    mw = w2a(answering(result))
    exchange = await drive(mw)
    assert (exchange.status, exchange.body, exchange.finished) == (200, b"", True)
    assert isinstance(exchange.error, Boom)
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_close_raises_after_an_error() -> None:
    """W2A-CLOSE-04: the close() error becomes the __context__ of the app's."""
    result = Tracked([Boom("first")], close_error=KeyError("close"))
    mw = w2a(answering(result))
    exchange = await drive(mw)
    assert_raised_unsent(exchange, Boom)
    assert exchange.error is not None
    assert isinstance(exchange.error.__context__, KeyError)
    closed_once(result)
    await assert_w2a_recovers(mw)


# --------------------------------------------------------------------------
# The app does not do its part
# --------------------------------------------------------------------------


async def test_W2A_fault_app_never_reads_a_large_body() -> None:
    """W2A-IN-01: an app that ignores a body bigger than the buffer answers
    normally; before its response, the read-ahead stops at the watermark and
    nothing waits for it. (While a streamed response runs, an unread body is
    received on, up to twice the watermark: W2A-IN-14.)"""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", TEXT)
        return [b"ignored ", b"your body"]

    mw = w2a(app, buffer_size=1024)
    script = [request(b"u" * 4096, more=True) for _ in range(64)] + [request(b"")]
    exchange = await drive(mw, make_scope("POST"), script)
    assert (exchange.status, exchange.body, exchange.finished) == (
        200,
        b"ignored your body",
        True,
    )
    assert exchange.received < len(script), "the whole body was read ahead"
    await assert_w2a_recovers(mw)


async def test_W2A_fault_app_never_reads_expect_100_continue() -> None:
    """W2A-IN-12: with Expect: 100-continue and an app that never reads,
    receive() is not called before the response started (so no 100 Continue
    is asked for); after it, only to watch for a disconnect (W2A-ERR-07)."""
    result = Tracked([b"no thanks"])
    mw = w2a(answering(result))
    scope = make_scope("POST", headers=[(b"expect", b"100-continue")])
    calls: list[int] = []
    at_start: list[int] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Message:
            calls.append(1)
            message: Message = await receive()
            return message

        await mw(scope, counted, send)

    async def on_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            at_start.append(len(calls))

    exchange = await drive(counting, scope, [request(b"z" * 10)], on_send=on_send)
    assert (exchange.status, exchange.body, at_start) == (200, b"no thanks", [0])
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_app_returns_without_response() -> None:
    """W2A-ERR-02: an empty iterable without start_response raises
    WSGIProtocolError, nothing sent."""
    result = Tracked([])
    mw = w2a(answering(result, start=False))
    exchange = await drive(mw)
    assert_raised_unsent(exchange, WSGIProtocolError)
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_app_returns_empty_list_without_response() -> None:
    """W2A-ERR-02 on the list fast path."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return []

    mw = w2a(app)
    exchange = await drive(mw)
    assert_raised_unsent(exchange, WSGIProtocolError)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_app_body_short_of_content_length() -> None:
    """W2A-BODY-07: the body ends before the declared length: abort."""
    result = Tracked([b"12345"])

    def short(environ: Environ, start_response: StartResponse) -> Tracked:
        start_response("200 OK", [("Content-Length", "10")])
        return result

    mw = w2a(short)
    exchange = await drive(mw)
    assert exchange.status == 200 and not exchange.finished
    assert isinstance(exchange.error, WSGIProtocolError)
    closed_once(result)
    await assert_w2a_recovers(mw)


# --------------------------------------------------------------------------
# The server's send() raises
# --------------------------------------------------------------------------


def raising_send(exc: BaseException, on: str, nth: int = 1) -> Any:
    seen = {"n": 0}

    async def on_send(message: Message) -> None:
        if message["type"] == on:
            seen["n"] += 1
            if seen["n"] == nth:
                raise exc

    return on_send


@pytest.mark.parametrize(
    ("on", "nth"),
    [("http.response.start", 1), ("http.response.body", 1), ("http.response.body", 2)],
    ids=["at-start", "first-body", "second-body"],
)
async def test_W2A_fault_send_raises_oserror_while_streaming(on: str, nth: int) -> None:
    """W2A-ERR-05: send() raising OSError stops the app; the call returns
    normally; close() runs once."""
    app = EndlessApp()
    mw = w2a(app, buffer_size=4096)
    on_send = raising_send(ConnectionResetError("peer reset"), on, nth)
    exchange = await drive(mw, on_send=on_send)
    assert exchange.error is None and not exchange.finished
    assert app.stopped_early
    assert app.result is not None
    closed_once(app.result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_send_raises_oserror_on_complete_response() -> None:
    """W2A-ERR-05 on the one-piece path: the call returns normally."""

    def app(environ: Environ, start_response: StartResponse) -> Any:
        start_response("200 OK", TEXT)
        return [b"whole"]

    mw = w2a(app)
    on_send = raising_send(BrokenPipeError("gone"), "http.response.body")
    exchange = await drive(mw, on_send=on_send)
    assert exchange.error is None
    await assert_w2a_recovers(mw)


async def test_W2A_fault_send_raises_other_error() -> None:
    """W2A-ERR-05: a non-OSError from send() propagates after close()."""
    app = EndlessApp()
    mw = w2a(app, buffer_size=4096)
    on_send = raising_send(Boom("server bug"), "http.response.body")
    exchange = await drive(mw, on_send=on_send)
    assert isinstance(exchange.error, Boom)
    assert app.result is not None
    closed_once(app.result)
    await assert_w2a_recovers(mw)


# --------------------------------------------------------------------------
# The task is cancelled
# --------------------------------------------------------------------------


async def test_W2A_fault_cancelled_while_app_reads_body() -> None:
    """W2A-IN-13, W2A-ERR-06: cancelled while the app waits for body bytes:
    the read raises ClientDisconnected, close() runs, the cancellation
    propagates, and the call waited for the thread."""
    errors: list[BaseException] = []
    entered = threading.Event()

    def read_all(environ: Environ) -> None:
        entered.set()
        try:
            environ["wsgi.input"].read()
        except ClientDisconnected as exc:
            errors.append(exc)
            raise

    def app(environ: Environ, start_response: StartResponse) -> Tracked:
        start_response("200 OK", TEXT)
        result.steps = [lambda: read_all(environ)]
        return result

    gate = threading.Event()  # close() is slow: the call must wait for it
    result = Tracked([], close_gate=gate)
    mw = w2a(app)
    script = [request(b"a", more=True)]
    assert await cancel_when(
        lambda: drive(mw, make_scope("POST"), script, raise_errors=True),
        entered.is_set,
        gate.set,
    )
    assert len(errors) == 1
    closed_once(result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_cancelled_under_backpressure() -> None:
    """W2A-ERR-06: cancelled while the thread waits above the watermark
    (the server's send() never returns): the write raises, close() runs."""
    app = EndlessApp()
    mw = w2a(app, buffer_size=4096)
    sending = anyio.Event()

    async def on_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            sending.set()
            await anyio.sleep_forever()

    assert await cancel_when(
        lambda: drive(mw, on_send=on_send, raise_errors=True), sending.is_set
    )
    assert app.stopped_early
    assert app.result is not None
    closed_once(app.result)
    await assert_w2a_recovers(mw)


async def test_W2A_fault_cancelled_while_app_computes() -> None:
    """W2A-ERR-06: cancelled while the app is busy outside the adapter: the
    call waits for the thread (no thread outlives its call), whose next write
    raises; close() runs once."""
    app = EndlessApp()
    original = app.__call__

    def slow(environ: Environ, start_response: StartResponse) -> Tracked:
        app.entered.set()
        assert app.release.wait(LIMIT)
        return original(environ, start_response)

    mw = w2a(slow)
    assert await cancel_when(
        lambda: drive(mw, raise_errors=True), app.entered.is_set, app.release.set
    )
    assert app.stopped_early
    assert app.result is not None
    closed_once(app.result)
    await assert_w2a_recovers(mw)


# --------------------------------------------------------------------------
# Lifespan (W2A-LIFE-01..03)
# --------------------------------------------------------------------------


def lifespan_script() -> list[Message]:
    return [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]


async def test_W2A_fault_lifespan_startup_fails() -> None:
    """W2A-LIFE-01: a raising on_startup hook sends startup.failed with its
    message; shutdown still completes; HTTP is served."""

    def hook() -> None:
        raise Boom("database unreachable")

    mw = w2a(answering(Tracked([b"x"])), on_startup=[hook])
    exchange = await drive(mw, {"type": "lifespan", "state": {}}, lifespan_script())
    assert exchange.error is None
    assert exchange.messages == [
        {"type": "lifespan.startup.failed", "message": "database unreachable"},
        {"type": "lifespan.shutdown.complete"},
    ]
    await assert_w2a_recovers(mw)


async def test_W2A_fault_lifespan_startup_hangs_then_server_cancels() -> None:
    """A hanging on_startup hook: the server cancels the lifespan task; no
    startup.complete is sent, and the call returns once the hook does (a
    thread cannot be killed, so the call never returns before it)."""
    entered, release = threading.Event(), threading.Event()

    def hook() -> None:
        entered.set()
        assert release.wait(LIMIT)

    mw = w2a(answering(Tracked([b"x"])), on_startup=[hook])
    exchanges: list[Any] = []

    async def call() -> None:
        scope = {"type": "lifespan", "state": {}}
        exchanges.append(await drive(mw, scope, lifespan_script()))

    assert await cancel_when(call, entered.is_set, release.set)
    assert exchanges == []
    await assert_w2a_recovers(mw)


# --------------------------------------------------------------------------
# A client that leaves, whatever the request body's state (issue 13 §1)
# --------------------------------------------------------------------------

GONE_CASES = [
    pytest.param(
        expect, body, read, id=f"{'expect' if expect else 'plain'}-{body}-{read}"
    )
    for expect in (False, True)
    for body in ("none", "small", "large")
    for read in (False, True)
    if not (body == "none" and read)
]


@pytest.mark.parametrize(("expect", "body", "read"), GONE_CASES)
async def test_W2A_ERR_07_IN_14_client_gone_is_noticed_whatever_the_body(
    expect: bool, body: str, read: bool
) -> None:
    """W2A-ERR-07, W2A-IN-12, W2A-IN-14: a client that leaves while the
    response streams stops the app at its next chunk, with Expect:
    100-continue or not, a body read or not, larger than the watermark or
    not; with Expect and an app that never read, receive() is not called
    before the response started (so no 100 Continue)."""
    app = EndlessApp(read_body=read)
    mw = w2a(app, buffer_size=4096)
    blocks = {"none": 0, "small": 1, "large": 64}[body]
    headers = [(b"expect", b"100-continue")] if expect else []
    if blocks:
        headers.append((b"content-length", str(blocks * 1024).encode()))
    script = [request(BLOCK, more=True) for _ in range(blocks)]
    script.append(request(b""))
    gone = anyio.Event()
    received: list[Message] = []
    received_at_start: list[int] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Message:
            message: Message = await receive()
            received.append(message)
            return message

        await mw(scope, counted, send)

    async def on_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            received_at_start.append(len(received))
        elif message["type"] == "http.response.body":
            gone.set()

    exchange = await drive(
        counting,
        make_scope("POST", headers=headers),
        script,
        gone=gone,
        on_send=on_send,
    )
    assert exchange.status == 200 and not exchange.finished
    assert exchange.error is None
    assert app.stopped_early, "the app streamed on after the client left"
    assert app.result is not None
    closed_once(app.result)
    if read:
        assert app.body == BLOCK * blocks
    if expect and not read:
        assert received_at_start == [0], "receive() before the response started"
    await assert_w2a_recovers(mw)


async def test_W2A_IN_14_unread_body_past_twice_the_watermark_fails_the_read() -> None:
    """W2A-IN-14: while a streamed response runs, a body the app has not
    read is kept up to twice the watermark; past that, the rest is dropped
    and the app's read raises BodyTooLarge, never a short body."""
    buffer_size = 4096
    messages = [request(BLOCK, more=True) for _ in range(32)] + [request(b"")]
    exhausted = threading.Event()
    errors: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Any:
        write = start_response("200 OK", TEXT)
        write(b"first")
        assert exhausted.wait(LIMIT)
        try:
            environ["wsgi.input"].read()
        except BodyTooLarge as exc:
            errors.append(exc)
        return [b" last"]

    async def receive() -> Message:
        await anyio.lowlevel.checkpoint()
        if messages:
            message = messages.pop(0)
            if not messages:
                exhausted.set()
            return message
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    mw = w2a(app, buffer_size=buffer_size)
    with anyio.fail_after(LIMIT):
        await mw(make_scope("POST"), receive, send)
    assert len(errors) == 1 and "W2A-IN-14" in str(errors[0])
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"first last"
    await assert_w2a_recovers(mw)


async def test_W2A_IN_01_14_large_messages_before_the_response_are_kept() -> None:
    """W2A-IN-01, W2A-IN-14: before the response, body messages larger than
    twice the watermark are held back by backpressure, never discarded: an
    app that reads late gets the whole body."""
    buffer_size = 1024
    blocks = [bytes([65 + i]) * 4096 for i in range(8)]
    messages = [request(block, more=True) for block in blocks] + [request(b"")]
    pumped = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        assert pumped.wait(LIMIT)
        body = environ["wsgi.input"].read()
        start_response("200 OK", TEXT)
        return [body]

    async def receive() -> Message:
        await anyio.lowlevel.checkpoint()
        if len(messages) == len(blocks):  # the pump's first receive()
            pumped.set()
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    mw = w2a(app, buffer_size=buffer_size)
    with anyio.fail_after(LIMIT):
        await mw(make_scope("POST"), receive, send)
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"".join(blocks)
    await assert_w2a_recovers(mw)
