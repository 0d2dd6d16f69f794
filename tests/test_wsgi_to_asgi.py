"""WSGIToASGI, request by request, against CONFORMANCE §2 (W2A-*).

Every test runs on asyncio (debug mode) and trio, with a hand-made server side
(``tests/asgi_client.py``) and real worker threads.
"""

from __future__ import annotations

import contextvars
import inspect
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

from sgibridge import (
    ASGIProtocolError,
    ASGIToWSGI,
    ClientDisconnected,
    FileWrapper,
    WSGIMiddleware,
    WSGIProtocolError,
    WSGIToASGI,
)

if TYPE_CHECKING:
    from sgibridge._types import Environ, StartResponse

from asgi_client import Exchange, make_scope, run
from wsgi_client import close_middleware

pytestmark = pytest.mark.anyio

TEXT = [("Content-Type", "text/plain")]


def hello(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", TEXT)
    return [b"Hello, world!"]


class Closing:
    """An iterable that records close() and the thread each step ran on."""

    def __init__(self, chunks: Iterable[Any], fail_at: int | None = None) -> None:
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.closed = 0
        self.threads: list[str] = []

    def __iter__(self) -> Iterator[Any]:
        self.threads.append(threading.current_thread().name)
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("boom mid-stream")
            yield chunk

    def close(self) -> None:
        self.threads.append(threading.current_thread().name)
        self.closed += 1


def streaming(
    result: Closing,
    status: str = "200 OK",
    headers: list[tuple[str, str]] | None = None,
) -> Any:
    calls: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Closing:
        calls.append(threading.current_thread().name)
        start_response(status, TEXT if headers is None else headers)
        return result

    app.calls = calls  # type: ignore[attr-defined]
    return app


# -- dispatch -------------------------------------------------------------


def test_W2A_APP_01_single_callable_asgi3() -> None:
    """W2A-APP-01: servers see a coroutine __call__, never an ASGI 2 app."""
    assert inspect.iscoroutinefunction(type(WSGIToASGI(hello)).__call__)


def test_aliases_are_the_same_object() -> None:
    """The a2wsgi/Starlette name is the very same class."""
    assert WSGIMiddleware is WSGIToASGI


async def test_W2A_APP_02_unknown_scope_type_raises_before_io() -> None:
    """W2A-APP-02: an unknown scope type raises ASGIProtocolError naming it."""
    called: list[str] = []

    async def receive() -> dict[str, Any]:
        called.append("receive")
        return {}

    async def send(message: dict[str, Any]) -> None:
        called.append("send")

    with pytest.raises(ASGIProtocolError, match="'telepathy'"):
        await WSGIToASGI(hello)({"type": "telepathy"}, receive, send)
    assert called == []


async def test_W2A_APP_03_called_once_with_two_positional_args() -> None:
    """W2A-APP-03: the WSGI app is called exactly once, (environ, start_response)."""
    calls: list[tuple[Any, ...]] = []

    def app(*args: Any, **kwargs: Any) -> list[bytes]:
        calls.append(args + tuple(kwargs))
        args[1]("200 OK", TEXT)
        return [b"x"]

    result = await run(WSGIToASGI(app))
    assert result.status == 200
    assert len(calls) == 1 and len(calls[0]) == 2 and isinstance(calls[0][0], dict)


# -- environ (adapter-side keys) -------------------------------------------


async def test_W2A_ENV_12_13_14_15_stream_keys() -> None:
    """W2A-ENV-12..15: wsgi.input is a stream, wsgi.errors takes str, flags are bools."""
    seen: dict[str, Any] = {}
    errors = io.StringIO()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.update(environ)
        environ["wsgi.errors"].write("logged \u2603\n")
        environ["wsgi.errors"].writelines(["a", "b"])
        environ["wsgi.errors"].flush()
        start_response("204 No Content", [])
        return []

    await run(WSGIToASGI(app, workers=1, errors=errors, multiprocess=False))
    assert seen["wsgi.input"] is not None and seen["wsgi.input"].read() == b""
    assert errors.getvalue() == "logged \u2603\nab"
    assert (
        seen["wsgi.multithread"],
        seen["wsgi.multiprocess"],
        seen["wsgi.run_once"],
    ) == (
        False,
        False,
        False,
    )
    assert seen["wsgi.input_terminated"] is True
    assert seen["wsgi.errors"] is errors


async def test_W2A_ENV_13_default_errors_is_a_text_stream() -> None:
    """W2A-ENV-13: by default wsgi.errors is sys.stderr, a text stream."""
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen["errors"] = environ["wsgi.errors"]
        start_response("200 OK", TEXT)
        return []

    await run(WSGIToASGI(app))
    assert seen["errors"] is sys.stderr


async def test_W2A_ENV_16_file_wrapper_contract(tmp_path: Path) -> None:
    """W2A-ENV-16: (filelike, blksize), lazy, read(blksize) until b"", close() closes."""
    data = os.urandom(20_000)
    file = tmp_path / "f.bin"
    file.write_bytes(data)
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> Any:
        wrapper = environ["wsgi.file_wrapper"](open(file, "rb"), 4096)  # noqa: SIM115
        seen["wrapper"] = wrapper
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper

    result = await run(WSGIToASGI(app))
    assert result.body == data
    assert seen["wrapper"].filelike.closed
    wrapper = FileWrapper(io.BytesIO(b"abcdefg"), 3)
    assert list(wrapper) == [b"abc", b"def", b"g"]
    wrapper.close()


async def test_W2A_ENV_16_file_wrapper_close_only_when_callable() -> None:
    """W2A-ENV-16 (amended): close() calls filelike.close only when it is a method;
    a stream with ``close = False`` (Falcon's test streams) is served whole."""

    class Stream:
        """A stream with read() and a non-callable ``close``, as Falcon's are."""

        close = False

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

    def app(environ: Environ, start_response: StartResponse) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](Stream(b"hello world"), 4)

    result = await run(WSGIToASGI(app))
    assert result.error is None
    assert result.status == 200
    assert result.body == b"hello world"
    FileWrapper(Stream(b"")).close()  # type: ignore[arg-type]  # not an IO


async def test_W2A_BODY_14_pathsend_when_offered(tmp_path: Path) -> None:
    """DESIGN §2.6: a real file leaves as http.response.pathsend when the server
    offers it, and close() still runs."""
    file = tmp_path / "page.html"
    file.write_bytes(b"<p>hi</p>")
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> Any:
        start_response("200 OK", [("Content-Type", "text/html")])
        seen["w"] = environ["wsgi.file_wrapper"](open(file, "rb"))  # noqa: SIM115
        return seen["w"]

    scope = make_scope(extensions={"http.response.pathsend": {}})
    result = await run(WSGIToASGI(app), scope)
    assert result.messages[1] == {"type": "http.response.pathsend", "path": str(file)}
    assert result.header(b"content-length") == b"9"
    assert seen["w"].filelike.closed


async def test_W2A_ENV_19_new_environ_per_request() -> None:
    """W2A-ENV-19: changes the app makes to environ never leak to the next request."""
    seen: list[dict[str, Any]] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.append(dict(environ))
        environ["X_MUTATED"] = "yes"
        environ["PATH_INFO"] = "/changed"
        start_response("200 OK", TEXT)
        return []

    mw = WSGIToASGI(app)
    scope = make_scope(path="/one")
    await run(mw, scope)
    await run(mw, make_scope(path="/two"))
    assert "X_MUTATED" not in seen[1] and seen[1]["PATH_INFO"] == "/two"
    assert scope["path"] == "/one" and seen[0]["asgi.scope"] == scope


async def test_W2A_ENV_20_early_hints() -> None:
    """W2A-ENV-20: wsgi.early_hints sends Link values, only when advertised."""
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen["hints"] = environ.get("wsgi.early_hints")
        if seen["hints"] is not None:
            seen["hints"]([("Link", "</a.css>; rel=preload"), ("X-Other", "no")])
        start_response("200 OK", TEXT)
        return [b"ok"]

    result = await run(
        WSGIToASGI(app), make_scope(extensions={"http.response.early_hint": {}})
    )
    assert result.messages[0] == {
        "type": "http.response.early_hint",
        "links": [b"</a.css>; rel=preload"],
    }
    assert result.messages[1]["type"] == "http.response.start"
    await run(WSGIToASGI(app))
    assert seen["hints"] is None


# -- wsgi.input ----------------------------------------------------------------


def echo(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", TEXT)
    return [body]


async def test_W2A_IN_02_chunks_in_order() -> None:
    """W2A-IN-02: chunks are appended in order; missing keys have defaults."""
    result = await run(
        WSGIToASGI(echo), make_scope("POST"), chunks=[b"a", b"", b"bc", b"d"]
    )
    assert result.body == b"abcd"

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await WSGIToASGI(echo)(make_scope("POST"), receive, send)
    assert sent[1]["body"] == b""


async def test_W2A_IN_01_read_ahead_is_bounded() -> None:
    """W2A-IN-01 / SEC-10: while the app does not read, the adapter receives no
    more than the buffer's watermark (plus one message) ahead."""
    reading = threading.Event()
    received_before_read: list[int] = []
    chunk = b"x" * 1000
    exchange_ref: list[Exchange] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        time.sleep(0.2)  # let the pump run as far ahead as it may
        received_before_read.append(len(environ["wsgi.input"]._source._chunks))
        reading.set()
        body = environ["wsgi.input"].read()
        start_response("200 OK", TEXT)
        return [str(len(body)).encode()]

    result = await run(
        WSGIToASGI(app, buffer_size=4000), make_scope("POST"), chunks=[chunk] * 50
    )
    exchange_ref.append(result)
    assert result.body == b"50000"
    assert received_before_read[0] <= 5


async def test_W2A_IN_08_disconnect_mid_body_raises_in_the_app() -> None:
    """W2A-IN-08: a truncated upload raises ClientDisconnected in the app's read;
    nothing is sent, the call returns."""
    seen: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except ClientDisconnected as exc:
            seen.append(exc)
            raise
        start_response("200 OK", TEXT)
        return [b"never"]

    result = await run(
        WSGIToASGI(app), make_scope("POST"), chunks=[b"abc"], disconnect_mid_body=True
    )
    assert isinstance(seen[0], ClientDisconnected)
    assert result.messages == [] and result.error is None


async def test_W2A_IN_09_unexpected_message_type() -> None:
    """W2A-IN-09: a message other than http.request/http.disconnect raises from the read."""
    seen: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except ASGIProtocolError as exc:
            seen.append(exc)
        start_response("200 OK", TEXT)
        return [b"ok"]

    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "websocket.receive"},
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await WSGIToASGI(app)(make_scope("POST"), receive, send)
    assert "websocket.receive" in str(seen[0])
    assert sent[1]["body"] == b"ok"


async def test_W2A_IN_12_expect_continue_unread_body_never_received() -> None:
    """W2A-IN-12: an app that never reads an Expect: 100-continue body causes no
    receive() at all, so the server never sends 100 Continue."""
    scope = make_scope(
        "POST", headers=[(b"expect", b"100-continue"), (b"content-length", b"5")]
    )
    result = await run(WSGIToASGI(hello), scope, body=b"hello")
    assert result.body == b"Hello, world!"
    assert result.received == 0
    result = await run(WSGIToASGI(echo), scope, body=b"hello")
    assert result.body == b"hello" and result.received >= 1


async def test_max_body_size_413_before_and_while_reading() -> None:
    """max_body_size: 413 before the app runs for a declared length, and while
    reading for a chunked body; the app is never served the excess."""
    calls: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        calls.append(1)
        return echo(environ, start_response)

    mw = WSGIToASGI(app, max_body_size=4)
    result = await run(
        mw, make_scope("POST", headers=[(b"content-length", b"10")]), body=b"x" * 10
    )
    assert (result.status, result.body, calls) == (413, b"Payload Too Large", [])
    result = await run(mw, make_scope("POST"), chunks=[b"abc", b"def"])
    assert (result.status, result.body, calls) == (413, b"Payload Too Large", [1])
    result = await run(mw, make_scope("POST"), chunks=[b"ab", b"cd"])
    assert (result.status, result.body) == (200, b"abcd")
    with pytest.raises(ValueError, match="max_body_size"):
        WSGIToASGI(app, max_body_size=-1)


async def test_CORE_HDR_rejections_answer_canned_without_calling_app() -> None:
    """SEC-04, CORE-HDR-06/12: bad requests get their canned answer; the app never runs."""
    calls: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        calls.append(1)
        return hello(environ, start_response)

    mw = WSGIToASGI(app, max_duplicate_headers=3)
    bad_cl = await run(mw, make_scope("POST", headers=[(b"content-length", b"-1")]))
    flood = await run(mw, make_scope(headers=[(b"x-a", b"1")] * 10))
    assert (bad_cl.status, bad_cl.body) == (400, b"Bad Request")
    assert (flood.status, flood.body) == (431, b"Request Header Fields Too Large")
    assert flood.header(b"content-type") == b"text/plain; charset=utf-8"
    assert calls == []


# -- start_response --------------------------------------------------------


async def test_W2A_SR_01_signature_and_write_callable() -> None:
    """W2A-SR-01: start_response(status, response_headers, exc_info=None), all
    positional, returns the write callable."""
    seen: list[object] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", TEXT, None)
        seen.append(write)
        write(b"written")
        return []

    result = await run(WSGIToASGI(app))
    assert callable(seen[0]) and result.body == b"written"


async def test_W2A_SR_10_no_reference_to_exc_info_kept() -> None:
    """W2A-SR-10: the adapter keeps no reference to the exc_info tuple once
    start_response returns."""
    counts: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", TEXT)
        try:
            raise ValueError("handled by the app")
        except ValueError:
            exc_info = sys.exc_info()
        before = sys.getrefcount(exc_info)
        start_response("500 Internal Server Error", TEXT, exc_info)
        counts.extend((before, sys.getrefcount(exc_info)))
        return [b"error page"]

    result = await run(WSGIToASGI(app, raise_exc_info=False))
    assert result.status == 500 and counts[0] == counts[1]


async def test_W2A_SR_02_03_bad_status_or_headers_give_500_and_raise() -> None:
    """W2A-SR-02/03, W2A-ERR-01: validation errors raise from start_response;
    nothing is sent and the error is re-raised, for the server to answer."""
    for status, headers in [
        ("200OK", TEXT),
        ("99 Low", TEXT),
        ("200 OK", [("Bad Name", "x")]),
        ("200 OK", [("X-Injected", "a\r\nb")]),
        ("200 OK", [("X-Snow", "\u2603")]),
    ]:
        errors: list[BaseException] = []

        def app(
            environ: Environ,
            start_response: StartResponse,
            s: Any = status,
            h: Any = headers,
        ) -> list[bytes]:
            try:
                start_response(s, h)
            except WSGIProtocolError as exc:
                errors.append(exc)
                raise
            return [b"never"]

        result = await run(WSGIToASGI(app))
        assert result.messages == [], (status, headers)
        assert isinstance(result.error, WSGIProtocolError) and errors == [result.error]
        assert b"boom" not in result.body


async def test_W2A_SR_04_hop_by_hop_dropped_or_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """W2A-SR-04: hop-by-hop headers are dropped with a warning, or refused."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Connection", "close"), ("X-Kept", "1")])
        return [b"ok"]

    with caplog.at_level(logging.WARNING, logger="sgibridge"):
        result = await run(WSGIToASGI(app))
    assert [k for k, _ in result.headers] == [b"x-kept", b"content-length"]
    assert "connection" in caplog.text.lower()
    strict = await run(WSGIToASGI(app, hop_by_hop="error"))
    assert strict.messages == [] and isinstance(strict.error, WSGIProtocolError)


async def test_W2A_SR_06_headers_wait_for_first_nonempty_chunk() -> None:
    """W2A-SR-06, W2A-BODY-03: start goes out with the first non-empty chunk;
    empty chunks produce no message."""
    result = await run(WSGIToASGI(streaming(Closing([b"", b"", b"a", b"", b"b"]))))
    types = [(m["type"], m.get("body"), m.get("more_body")) for m in result.messages]
    assert types[0][0] == "http.response.start"
    assert all(m.get("body") or not m.get("more_body") for m in result.bodies)
    assert result.body == b"ab" and result.finished


async def test_W2A_SR_07_second_call_without_exc_info_raises() -> None:
    """W2A-SR-07: start_response twice without exc_info raises, even after a failed first call."""
    errors: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            start_response("bad", TEXT)
        except WSGIProtocolError:
            pass
        try:
            start_response("200 OK", TEXT)
        except WSGIProtocolError as exc:
            errors.append(exc)
            raise
        return []

    result = await run(WSGIToASGI(app))
    assert result.messages == [] and "W2A-SR-07" in str(errors[0])


async def test_W2A_SR_08_ERR_04_exc_info_replaces_then_reraises() -> None:
    """W2A-SR-08, W2A-ERR-04: exc_info before headers replaces status and
    headers (last call wins); the app's own error page is sent; then re-raised."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", TEXT)
        try:
            raise KeyError("lost")
        except KeyError:
            start_response("503 Service Unavailable", [("X-Page", "1")], sys.exc_info())
            start_response("502 Bad Gateway", [("X-Page", "2")], sys.exc_info())
        return [b"my error page"]

    result = await run(WSGIToASGI(app))
    assert (result.status, result.body, result.header(b"x-page")) == (
        502,
        b"my error page",
        b"2",
    )
    assert result.finished and isinstance(result.error, KeyError)
    quiet = await run(WSGIToASGI(app, raise_exc_info=False))
    assert quiet.status == 502 and quiet.error is None


async def test_W2A_SR_09_exc_info_after_headers_reraises_that_object() -> None:
    """W2A-SR-09, W2A-ERR-03: exc_info after headers re-raises exc_info[1];
    the stream aborts with no final message and close() runs."""
    boom = ValueError("late failure")

    def gen(start_response: StartResponse) -> Iterator[bytes]:
        yield b"partial"
        try:
            raise boom
        except ValueError:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        yield b"never"

    record = Closing([])

    def app(environ: Environ, start_response: StartResponse) -> Any:
        start_response("200 OK", TEXT)
        return ClosingGen(gen(start_response), record)

    result = await run(WSGIToASGI(app))
    assert result.error is boom
    assert result.body == b"partial" and not result.finished
    assert record.closed == 1


async def test_W2A_SR_11_chunk_before_start_response() -> None:
    """W2A-SR-11: a chunk before start_response raises WSGIProtocolError."""

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        yield b"too early"

    result = await run(WSGIToASGI(app))
    assert result.messages == [] and "W2A-SR-11" in str(result.error)


# -- response body -------------------------------------------------------------


async def test_W2A_BODY_01_08_list_leaves_in_one_message_with_length() -> None:
    """W2A-BODY-01/08: a list response is start + one final body, with content-length."""
    result = await run(WSGIToASGI(hello))
    assert [m["type"] for m in result.messages] == [
        "http.response.start",
        "http.response.body",
    ]
    assert result.header(b"content-length") == b"13" and result.finished


async def test_W2A_BODY_02_stream_is_backpressured() -> None:
    """W2A-BODY-02 / SEC-10: a generator streams; with a slow client the thread
    never runs further ahead than the buffer's watermark plus one chunk."""
    chunk = b"y" * 1000
    produced: list[int] = []
    sent_bytes: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        for i in range(100):
            produced.append(i)
            yield chunk

    async def slow(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent_bytes.append(len(message["body"]))
            ahead = len(produced) * 1000 - sum(sent_bytes)
            assert ahead <= 3000 + 1000, ahead
            await anyio.sleep(0.001)

    result = await run(WSGIToASGI(app, buffer_size=3000), on_send=slow)
    assert result.body == chunk * 100 and result.finished and result.error is None


async def test_W2A_BODY_04_non_bytes_chunk() -> None:
    """W2A-BODY-04: str, int, None chunks raise WSGIProtocolError."""
    for bad in ["text", 5, None, [b"x"]]:
        app = streaming(Closing([bad]))
        result = await run(WSGIToASGI(app))
        assert result.messages == [] and isinstance(result.error, WSGIProtocolError), (
            bad
        )
        assert "W2A-BODY-04" in str(result.error)


async def test_W2A_BODY_05_write_goes_out_first_and_is_checked() -> None:
    """W2A-BODY-05: write() data goes out before the iterable's; bad calls raise."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"first ")
        write(b"")
        return [b"second"]

    result = await run(WSGIToASGI(app))
    assert result.body == b"first second" and result.finished

    def bad(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", TEXT)
        write("text")  # type: ignore[arg-type]
        return []

    result = await run(WSGIToASGI(bad))
    assert result.messages == [] and isinstance(result.error, WSGIProtocolError)


async def test_W2A_BODY_05_SR_06_empty_write_sends_headers() -> None:
    """W2A-SR-06: the first write(), even write(b""), sends http.response.start."""
    seen: list[list[str]] = []
    box: list[Exchange] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"")
        time.sleep(0.05)
        seen.append([m["type"] for m in box[0].messages] if box else [])
        return []

    exchange = Exchange()
    box.append(exchange)
    result = await run(WSGIToASGI(app))
    assert result.status == 200 and result.finished


async def test_W2A_BODY_06_content_length_cuts_off_and_stops_iterating() -> None:
    """W2A-BODY-06: bytes past Content-Length are cut; iteration stops; close() runs;
    a write() past it raises."""
    items = Closing([b"abc", b"defgh", b"never"])
    app = streaming(items, headers=[("Content-Length", "5")])
    result = await run(WSGIToASGI(app))
    assert result.body == b"abcde" and result.finished and items.closed == 1
    assert result.error is None
    listed = await run(
        WSGIToASGI(lambda e, s: (s("200 OK", [("Content-Length", "2")]), [b"abc"])[1])
    )
    assert listed.body == b"ab" and listed.finished

    def over(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [("Content-Length", "2")])
        write(b"abc")
        return []

    result = await run(WSGIToASGI(over))
    assert isinstance(result.error, WSGIProtocolError) and "W2A-BODY-06" in str(
        result.error
    )


async def test_W2A_BODY_15_first_chunk_filling_content_length_leaves_whole() -> None:
    """W2A-BODY-15: an iterable (not a list) whose first non-empty chunk holds the
    whole declared Content-Length leaves as start + one final body, like a list,
    after close(); iteration stops there. A shorter first chunk still streams."""
    items = Closing([b"", b"Hello, world!", b"never"])
    sent_after_close: list[bool] = []

    async def on_send(message: dict[str, Any]) -> None:
        sent_after_close.append(items.closed == 1)

    app = streaming(items, headers=[*TEXT, ("Content-Length", "13")])
    result = await run(WSGIToASGI(app), on_send=on_send)
    assert [(m["type"], m.get("more_body", False)) for m in result.messages] == [
        ("http.response.start", False),
        ("http.response.body", False),
    ]
    assert result.body == b"Hello, world!" and result.finished
    assert result.header(b"content-length") == b"13" and result.error is None
    assert items.closed == 1 and all(sent_after_close)

    over = Closing([b"Hello, world! and more"])
    app = streaming(over, headers=[("Content-Length", "5")])
    result = await run(WSGIToASGI(app))
    assert result.body == b"Hello" and result.finished and over.closed == 1
    assert len(result.bodies) == 1

    head = Closing([b"Hello, world!"])
    app = streaming(head, headers=[("Content-Length", "13")])
    result = await run(WSGIToASGI(app), scope=make_scope(method="HEAD"))
    assert result.body == b"" and result.finished and head.closed == 1
    assert result.header(b"content-length") == b"13"

    short = Closing([b"Hello", b", world!"])
    app = streaming(short, headers=[("Content-Length", "13")])
    result = await run(WSGIToASGI(app))
    assert result.bodies[0]["more_body"] and result.finished
    assert result.body == b"Hello, world!" and short.closed == 1


async def test_W2A_BODY_04_06_10_checks_hold_after_the_first_chunk() -> None:
    """W2A-BODY-04/06/10: the chunks after the first one, which take a shorter
    path to the response pipe, keep every check: a str aborts the response, a
    bytearray is copied, Content-Length cuts, and HEAD sends no byte."""
    bad = Closing([b"ok", b"more", "text", b"never"])
    result = await run(WSGIToASGI(streaming(bad)))
    assert isinstance(result.error, WSGIProtocolError)
    assert "W2A-BODY-04" in str(result.error) and "str" in str(result.error)
    assert not result.finished and bad.closed == 1

    buffer = bytearray(b"array")
    mixed = Closing([b"a", b"", buffer, memoryview(b"view")])
    result = await run(WSGIToASGI(streaming(mixed)))
    assert result.body == b"aarrayview" and result.finished and result.error is None

    cut = Closing([b"abc", b"def", b"ghi", b"never"])
    result = await run(WSGIToASGI(streaming(cut, headers=[("Content-Length", "7")])))
    assert result.body == b"abcdefg" and result.finished and cut.closed == 1

    head = Closing([b"abc", b"def", bytearray(b"ghi")])
    result = await run(WSGIToASGI(streaming(head)), scope=make_scope(method="HEAD"))
    assert result.body == b"" and result.finished and head.closed == 1


async def test_W2A_BODY_07_short_body_aborts() -> None:
    """W2A-BODY-07: a body shorter than Content-Length never sends more_body=False;
    close() runs and the call raises so the server aborts."""
    items = Closing([b"abc"])
    result = await run(WSGIToASGI(streaming(items, headers=[("Content-Length", "10")])))
    assert result.body == b"abc" and not result.finished and items.closed == 1
    assert isinstance(result.error, WSGIProtocolError) and "W2A-BODY-07" in str(
        result.error
    )
    listed = await run(
        WSGIToASGI(lambda e, s: (s("200 OK", [("Content-Length", "9")]), [b"abc"])[1])
    )
    assert listed.body == b"abc" and not listed.finished
    assert isinstance(listed.error, WSGIProtocolError)


async def test_W2A_BODY_09_empty_bodies() -> None:
    """W2A-BODY-09: [] and [b"", b""] give start + body(b"", more_body=False)."""
    for result_value in ([], [b"", b""], Closing([b"", b""])):
        app = (
            streaming(result_value)
            if isinstance(result_value, Closing)
            else (lambda e, s, r=result_value: (s("200 OK", TEXT), r)[1])
        )
        result = await run(WSGIToASGI(app))
        assert [m["type"] for m in result.messages] == [
            "http.response.start",
            "http.response.body",
        ]
        assert result.messages[1] == {
            "type": "http.response.body",
            "body": b"",
            "more_body": False,
        }


async def test_W2A_BODY_10_head_sends_no_body_keeps_headers() -> None:
    """W2A-BODY-10: HEAD iterates as GET; every body message is empty; headers unchanged."""
    items = Closing([b"abc", b"def"])
    result = await run(
        WSGIToASGI(streaming(items, headers=[("Content-Length", "6")])),
        make_scope("HEAD"),
    )
    assert (
        result.body == b""
        and result.finished
        and result.header(b"content-length") == b"6"
    )
    assert items.closed == 1
    listed = await run(WSGIToASGI(hello), make_scope("HEAD"))
    assert listed.body == b"" and listed.header(b"content-length") == b"13"


async def test_W2A_BODY_11_204_304_drop_body() -> None:
    """W2A-BODY-11: 204/304 bodies are dropped; 204 loses content-length."""
    for status in ("204 No Content", "304 Not Modified"):
        app = streaming(
            Closing([b"x"]), status=status, headers=[("Content-Length", "1")]
        )
        result = await run(WSGIToASGI(app))
        assert result.body == b"" and result.finished
        has_length = result.header(b"content-length") is not None
        assert has_length == status.startswith("304")


async def test_W2A_BODY_12_no_transfer_coding_or_trailers() -> None:
    """W2A-BODY-12: no transfer-encoding added, no trailers flag."""
    result = await run(WSGIToASGI(streaming(Closing([b"a", b"b"]))))
    assert result.header(b"transfer-encoding") is None
    assert "trailers" not in result.start


async def test_W2A_BODY_13_str_or_bytes_result() -> None:
    """W2A-BODY-13: a str or bytes result raises WSGIProtocolError."""
    for value in (b"bytes", "text"):

        def app(environ: Environ, start_response: StartResponse, v: Any = value) -> Any:
            start_response("200 OK", TEXT)
            return v

        result = await run(WSGIToASGI(app))
        assert result.messages == [] and "W2A-BODY-13" in str(result.error)


# -- close() ---------------------------------------------------------------------


async def test_W2A_CLOSE_01_02_03_close_once_same_thread_on_every_path() -> None:
    """W2A-CLOSE-01/02/03: close() runs exactly once, on the result object, on
    the thread that called the app: normal, cut-off, error mid-stream, error in
    start_response, send() raising, disconnect."""

    class Boom(Exception):
        pass

    async def failing_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise Boom("send failed")

    disconnect = anyio.Event()

    async def disconnecting(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            disconnect.set()
            await anyio.sleep(0.05)

    cases: list[tuple[str, Closing, dict[str, Any]]] = [
        ("normal", Closing([b"a", b"b"]), {}),
        ("cut-off", Closing([b"abc", b"def"]), {"length": "2"}),
        ("error mid-stream", Closing([b"a", b"b", b"c"], fail_at=1), {}),
        ("send raises", Closing([b"a"] * 100), {"on_send": failing_send}),
        (
            "disconnect",
            Closing([b"a"] * 10_000),
            {"on_send": disconnecting, "disconnect": disconnect},
        ),
    ]
    for name, items, options in cases:
        headers = TEXT + (
            [("Content-Length", options.pop("length"))] if "length" in options else []
        )
        app = streaming(items, headers=headers)
        await run(WSGIToASGI(app), **options)
        assert items.closed == 1, name
        assert set(items.threads) == set(app.calls), name

    class Result(Closing):
        pass

    res = Result([b"x"])

    def bad_start(environ: Environ, start_response: StartResponse) -> Result:
        start_response("200 OK", [("Bad Header", "x")])
        return res

    await run(WSGIToASGI(bad_start))
    assert (
        res.closed == 0
    )  # the app raised before returning its result: nothing to close


async def test_W2A_CLOSE_01_exc_info_reraise_still_closes() -> None:
    """W2A-CLOSE-01: an exception from start_response (exc_info re-raise) still closes."""
    items = Closing([])

    def gen(start_response: StartResponse) -> Iterator[bytes]:
        yield b"a"
        try:
            raise OSError("disk")
        except OSError:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        yield b"b"

    def app(environ: Environ, start_response: StartResponse) -> ClosingGen:
        start_response("200 OK", TEXT)
        return ClosingGen(gen(start_response), items)

    result = await run(WSGIToASGI(app))
    assert isinstance(result.error, OSError) and items.closed == 1


class ClosingGen:
    def __init__(self, gen: Iterator[bytes], record: Closing) -> None:
        self.gen = gen
        self.record = record

    def __iter__(self) -> Iterator[bytes]:
        return self.gen

    def close(self) -> None:
        self.record.close()


async def test_W2A_CLOSE_04_close_raising_is_logged_and_propagated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """W2A-CLOSE-04: an exception from close() is logged and raised."""

    class BadClose(Closing):
        def close(self) -> None:
            super().close()
            raise RuntimeError("close failed")

    items = BadClose([b"a", b"b"])
    with caplog.at_level(logging.ERROR, logger="sgibridge"):
        result = await run(WSGIToASGI(streaming(items)))
    assert isinstance(result.error, RuntimeError) and "close failed" in str(
        result.error
    )
    assert "close() raised" in caplog.text


# -- errors, threads, disconnects ------------------------------------------------


async def test_W2A_ERR_01_08_exception_before_start_is_raised_unsent() -> None:
    """W2A-ERR-01/08: an app exception before start is raised out of the ASGI
    call with no message sent, so the server (or ASGI middleware outside)
    answers it as it answers an ASGI app that raises; no text reaches the
    client from sgibridge."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise LookupError("secret detail")

    result = await run(WSGIToASGI(app))
    assert result.messages == []
    assert isinstance(result.error, LookupError)
    assert result.error.__context__ is None


async def test_W2A_ERR_02_no_start_response() -> None:
    """W2A-ERR-02: an exhausted iterable without start_response raises, unsent."""
    result = await run(WSGIToASGI(lambda e, s: []))
    assert result.messages == [] and "W2A-ERR-02" in str(result.error)
    result = await run(WSGIToASGI(lambda e, s: iter([])))
    assert result.messages == [] and isinstance(result.error, WSGIProtocolError)


async def test_W2A_ERR_03_error_after_start_aborts() -> None:
    """W2A-ERR-03: an error after start stops all messages; no second start."""
    items = Closing([b"a", b"b", b"c"], fail_at=2)
    result = await run(WSGIToASGI(streaming(items)))
    assert [m["type"] for m in result.messages].count("http.response.start") == 1
    assert not result.finished and isinstance(result.error, RuntimeError)


async def test_W2A_ERR_05_send_oserror_returns_quietly() -> None:
    """W2A-ERR-05: send() raising OSError stops the app and returns normally."""
    items = Closing([b"z"] * 1000)

    async def broken(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise ConnectionResetError("peer reset")

    result = await run(WSGIToASGI(streaming(items)), on_send=broken)
    assert result.error is None and items.closed == 1
    listed = await run(WSGIToASGI(hello), on_send=broken)
    assert listed.error is None


async def test_W2A_ERR_06_cancellation_stops_thread_and_propagates() -> None:
    """W2A-ERR-06: a cancelled ASGI task makes the thread's next write raise;
    close() runs; the cancellation propagates and the call waits for the thread."""
    items = Closing([b"c"] * 1_000_000)
    app = streaming(items)
    mw = WSGIToASGI(app, buffer_size=10)
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        await anyio.lowlevel.checkpoint()

    with anyio.fail_after(10):
        with anyio.move_on_after(0.1) as scope:
            await mw(make_scope(), receive, send)
    assert scope.cancelled_caught
    assert items.closed == 1


async def test_W2A_ERR_07_disconnect_stops_iteration() -> None:
    """W2A-ERR-07: http.disconnect during the response stops pulling from the iterable."""
    produced: list[int] = []
    items = Closing([])
    disconnect = anyio.Event()

    def gen() -> Iterator[bytes]:
        for i in range(1_000_000):
            produced.append(i)
            yield b"chunk"

    def app(environ: Environ, start_response: StartResponse) -> ClosingGen:
        start_response("200 OK", TEXT)
        return ClosingGen(gen(), items)

    async def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            disconnect.set()
            await anyio.sleep(0.01)

    result = await run(
        WSGIToASGI(app, buffer_size=100), disconnect=disconnect, on_send=on_send
    )
    assert items.closed == 1 and len(produced) < 1_000_000
    assert result.error is None and not result.finished


async def test_W2A_THR_01_workers_bound_concurrency() -> None:
    """W2A-THR-01: never more than `workers` calls at once, never on the loop thread."""
    loop_thread = threading.current_thread()
    active = 0
    peak = 0
    lock = threading.Lock()
    threads: set[str] = set()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        nonlocal active, peak
        assert threading.current_thread() is not loop_thread
        with lock:
            active += 1
            peak = max(peak, active)
            threads.add(threading.current_thread().name + str(threading.get_ident()))
        time.sleep(0.02)
        with lock:
            active -= 1
        start_response("200 OK", TEXT)
        return [b"ok"]

    mw = WSGIToASGI(app, workers=3)
    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(run, mw)
    assert peak <= 3 and len(threads) <= 3
    assert mw._pool.threads <= 3


async def test_W2A_THR_02_contextvars_visible_in_thread() -> None:
    """W2A-THR-02: the caller's contextvars are visible in the worker thread."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    var.set("req-42")
    seen: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.append(var.get("missing"))
        start_response("200 OK", TEXT)
        return []

    await run(WSGIToASGI(app))
    assert seen == ["req-42"]


async def test_W2A_THR_04_concurrent_requests_share_no_state() -> None:
    """W2A-THR-04: concurrent requests each see their own body and path."""

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", TEXT)
        yield environ["PATH_INFO"].encode()
        yield body

    mw = WSGIToASGI(app, workers=4)
    results: dict[int, Exchange] = {}

    async def one(i: int) -> None:
        results[i] = await run(
            mw, make_scope("POST", f"/p{i}"), chunks=[b"b", str(i).encode()]
        )

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    for i, result in results.items():
        assert result.body == f"/p{i}b{i}".encode()


# -- websocket and lifespan ------------------------------------------------------


async def test_W2A_WS_01_03_websocket_denied() -> None:
    """W2A-WS-01/03: a websocket is denied (close, or a 403 denial response when
    the extension exists); the WSGI app is never called; accept is never sent."""
    calls: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        calls.append(1)
        return []

    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["websocket.close"]),
        (
            {"websocket.http.response": {}},
            ["websocket.http.response.start", "websocket.http.response.body"],
        ),
    ]
    for extensions, expected in cases:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "websocket",
            "path": "/ws",
            "headers": [],
            "extensions": extensions,
        }
        with anyio.fail_after(10):
            await WSGIToASGI(app, websocket_status=403)(scope, receive, send)
        assert [m["type"] for m in sent] == expected
        if len(sent) == 2:
            assert sent[0]["status"] == 403 and sent[1]["body"] == b"Forbidden"
            assert (b"content-length", b"9") in sent[0]["headers"]
    assert calls == []


async def test_W2A_WS_02_disconnect_first_sends_nothing() -> None:
    """W2A-WS-02: websocket.disconnect first means nothing is sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await WSGIToASGI(hello)({"type": "websocket", "path": "/"}, receive, send)
    assert sent == []


async def test_W2A_LIFE_01_02_03_lifespan_hooks() -> None:
    """W2A-LIFE-01/02/03: hooks run in a worker thread; complete/failed are reported;
    state is left untouched; the call returns after shutdown."""
    loop_thread = threading.current_thread()
    ran: list[str] = []

    def startup() -> None:
        assert threading.current_thread() is not loop_thread
        ran.append("startup")

    def shutdown() -> None:
        ran.append("shutdown")

    def broken() -> None:
        raise RuntimeError("database unreachable")

    cases: list[tuple[list[Any], list[Any], list[str]]] = [
        ([startup], [shutdown], ["complete", "complete"]),
        ([broken], [broken], ["failed", "failed"]),
    ]
    for on_startup, on_shutdown, expected in cases:
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        state: dict[str, Any] = {}
        with anyio.fail_after(10):
            await WSGIToASGI(hello, on_startup=on_startup, on_shutdown=on_shutdown)(
                {"type": "lifespan", "state": state}, receive, send
            )
        assert [m["type"].rsplit(".", 1)[1] for m in sent] == expected
        if expected[0] == "failed":
            assert sent[0]["message"] == "database unreachable"
        assert state == {}
    assert ran == ["startup", "shutdown"]


async def test_W2A_LIFE_04_unknown_lifespan_message_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """W2A-LIFE-04: a message no spec defines on the lifespan scope (Falcon's test
    client sends one) is logged at DEBUG and passed over; startup and shutdown
    still answer."""
    incoming = iter(
        [
            {"type": "lifespan._nonstandard_event"},
            {"type": "lifespan.startup"},
            {"type": "lifespan.reboot"},
            {"type": "lifespan.shutdown"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    caplog.set_level(logging.DEBUG, logger="sgibridge")
    with anyio.fail_after(10):
        await WSGIToASGI(hello)({"type": "lifespan"}, receive, send)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert "lifespan.reboot" in caplog.text


def test_options_are_validated() -> None:
    """Bad option values are refused with the name and the value."""
    with pytest.raises(ValueError, match="root_path_mode"):
        WSGIToASGI(hello, root_path_mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers"):
        WSGIToASGI(hello, workers=0)
    with pytest.raises(ValueError, match="send_queue_size"):
        WSGIToASGI(hello, send_queue_size=0)
    with pytest.raises(ValueError, match="buffer_size"):
        WSGIToASGI(hello, buffer_size=0)
    assert WSGIToASGI(hello, send_queue_size=4).buffer_size == 4 * 65536


def test_a2wsgi_positional_arguments_still_work() -> None:
    """a2wsgi's WSGIMiddleware(app, workers, send_queue_size) keeps working."""
    mw = WSGIMiddleware(hello, 3, 2)
    assert (mw.workers, mw.buffer_size) == (3, 2 * 65536)
    with pytest.raises(TypeError):
        WSGIToASGI(hello, 3, 2, 1)  # type: ignore[call-arg]


# -- real apps first (liberal in what the app hands over) -----------------------


async def test_W2A_BODY_04_bytes_like_chunks_are_accepted() -> None:
    """W2A-BODY-04 (amended): bytearray, memoryview and bytes subclasses, from
    the iterable and from write(), go out as the bytes they hold, as under
    Uvicorn's own WSGI support; the app may reuse its buffer afterwards."""

    class Tagged(bytes):
        pass

    buffer = bytearray(b"mutable ")

    def app(environ: Environ, start_response: StartResponse) -> Iterator[Any]:
        write: Any = start_response("200 OK", TEXT)
        write(memoryview(b"view "))
        write(bytearray(b"array "))
        yield buffer
        buffer[:] = b"CHANGED!"
        yield memoryview(b"--slice--")[2:7]
        yield Tagged(b" tagged")

    result = await run(WSGIToASGI(app))
    assert result.error is None and result.finished
    assert result.body == b"view array mutable slice tagged"
    assert all(type(m["body"]) is bytes for m in result.bodies)

    def alone(environ: Environ, start_response: StartResponse) -> list[Any]:
        start_response("200 OK", TEXT)
        return [Tagged(b"tagged")]  # the whole body in one bytes subclass

    result = await run(WSGIToASGI(alone))
    assert [type(m["body"]) for m in result.bodies] == [bytes]
    assert result.body == b"tagged"

    def listed_app(environ: Environ, start_response: StartResponse) -> Any:
        start_response("200 OK", TEXT)
        return [bytearray(b"ab"), memoryview(b"cd")]

    listed = await run(WSGIToASGI(listed_app))
    assert (listed.body, listed.header(b"content-length")) == (b"abcd", b"4")


async def test_W2A_BODY_10_head_of_unknown_length_has_no_content_length() -> None:
    """W2A-BODY-10 (amended, RFC 9110 §8.6): a HEAD answered with an empty body
    and no Content-Length of the app's own gets no content-length, as a
    streamed GET of unknown length would not; a declared one is kept."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        if environ["REQUEST_METHOD"] == "HEAD":
            return ()  # what werkzeug returns for HEAD
        return iter([b"data: 1\n\n", b"data: 2\n\n"])

    for method in ("HEAD", "GET"):
        result = await run(WSGIToASGI(app), make_scope(method))
        assert result.status == 200 and result.finished and result.error is None
        assert result.header(b"content-length") is None, method
    assert result.body == b"data: 1\n\ndata: 2\n\n"

    def generator(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b""

    head = await run(WSGIToASGI(generator), make_scope("HEAD"))
    assert head.finished and head.header(b"content-length") is None
    get = await run(WSGIToASGI(generator), make_scope("GET"))
    assert get.header(b"content-length") == b"0"

    declared = await run(
        WSGIToASGI(lambda e, s: (s("200 OK", [("Content-Length", "42")]), [])[1]),
        make_scope("HEAD"),
    )
    assert declared.header(b"content-length") == b"42" and declared.body == b""


async def test_W2A_CLOSE_05_close_error_after_empty_body_keeps_response() -> None:
    """W2A-CLOSE-05: close() raising once an (empty) body is complete, before
    any byte went out, does not turn the response into a 500: it goes out
    whole, then the error propagates (as ASGIToWSGI raises a late app error
    from close())."""

    class BadClose(Closing):
        def close(self) -> None:
            super().close()
            raise KeyError("close failed")

    def app(environ: Environ, start_response: StartResponse) -> BadClose:
        start_response("200 OK", TEXT)
        return BadClose([b"", b""])

    result = await run(WSGIToASGI(app))
    assert (result.status, result.body, result.finished) == (200, b"", True)
    assert result.header(b"content-length") == b"0"
    assert isinstance(result.error, KeyError)


async def test_W2A_CLOSE_05_close_error_after_complete_stream_finishes_it() -> None:
    """W2A-CLOSE-05: after a streamed body ended, close() raising still sends
    more_body=False, then the error propagates out of the ASGI call."""

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"one "
        yield b"two"

    def streamed(environ: Environ, start_response: StartResponse) -> Any:
        gen = app(environ, start_response)

        class Result:
            def __iter__(self) -> Iterator[bytes]:
                return gen

            def close(self) -> None:
                raise KeyError("close failed")

        return Result()

    result = await run(WSGIToASGI(streamed))
    assert (result.status, result.body, result.finished) == (200, b"one two", True)
    assert isinstance(result.error, KeyError)


def _context_chain(error: BaseException, limit: int = 10) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < limit:
        chain.append(current)
        current = current.__context__
    return chain


async def test_W2A_CLOSE_04_same_error_by_exc_info_and_close_has_no_context_loop() -> (
    None
):
    """W2A-CLOSE-04/05: an app that reports an error through exc_info and
    raises the same exception again from close() (as ASGIToWSGI once did for
    an ASGI app's error) gets it raised once, with no context chain that
    loops back to itself: the loop hung the caller's exit handling."""
    boom = RuntimeError("boom")

    class Reported:
        def __iter__(self) -> Iterator[bytes]:
            return iter([b"Internal Server Error"])

        def close(self) -> None:
            raise boom

    def app(environ: Environ, start_response: StartResponse) -> Reported:
        try:
            raise boom
        except RuntimeError:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        return Reported()

    result = await run(WSGIToASGI(app))
    assert (result.status, result.body) == (500, b"Internal Server Error")
    assert result.error is boom
    assert _context_chain(boom) == [boom]


async def test_W2A_CLOSE_04_both_directions_app_error_has_no_context_loop() -> None:
    """W2A-CLOSE-04, A2W-ERR-01, W2A-ERR-01: an ASGI app's error through
    WSGIToASGI(ASGIToWSGI(app)) comes out as itself, as from the app alone,
    and its context chain ends."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("boom")

    inner = ASGIToWSGI(app, lifespan="off")
    try:
        result = await run(WSGIToASGI(inner))
    finally:
        close_middleware(inner)
    assert result.messages == []  # raised at both calls, answered by the server
    assert isinstance(result.error, LookupError)
    assert _context_chain(result.error) == [result.error]


async def test_W2A_CLOSE_06_close_runs_once_the_last_byte_is_buffered() -> None:
    """W2A-CLOSE-06, README Limitations: close() runs once the app's last byte
    is in the response buffer, while those bytes are still on their way to the
    client (the first chunk's send() waits here until close() ran)."""
    closed = threading.Event()

    def generator(environ: Environ, start_response: StartResponse) -> Closing:
        start_response("200 OK", TEXT)
        result = Closing([b"a", b"b", b"c"])
        result.close = closed.set  # type: ignore[method-assign]
        return result

    waited: list[bool] = []

    async def hold_first_chunk(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not waited:
            waited.append(await anyio.to_thread.run_sync(closed.wait, 10))

    result = await run(WSGIToASGI(generator), on_send=hold_first_chunk)
    assert waited == [True] and result.body == b"abc" and result.finished


async def test_W2A_ENV_21_server_framing_stands_without_content_length() -> None:
    """W2A-ENV-21: a request with both Content-Length and
    Transfer-Encoding reaches the app without CONTENT_LENGTH, and the app reads
    exactly the body the server framed, across several messages."""
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen["length"] = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read()
        start_response("200 OK", TEXT)
        return [body]

    scope = make_scope(
        "POST",
        headers=[(b"content-length", b"3"), (b"transfer-encoding", b"chunked")],
    )
    result = await run(WSGIToASGI(app), scope, chunks=[b"abc", b"defg", b"h"])
    assert (result.status, result.body) == (200, b"abcdefgh")
    assert seen["length"] is None


def _seeing_disconnect(app: Any, seen: threading.Event) -> Any:
    """An ASGI wrapper that sets ``seen`` once ``receive()`` hands over a disconnect."""

    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        async def watched() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen.set()
            return message

        await app(scope, watched, send)

    return wrapper


async def test_W2A_IN_14_response_handed_over_complete_is_sent_after_a_disconnect() -> (
    None
):
    """W2A-IN-14 (amended): the client sends the whole request, then
    http.disconnect at once (Falcon's simulate_request); the app, which starts
    only after the disconnect was seen, hands over a one-chunk iterator: its
    first chunk goes with the headers and the end of the body follows."""
    seen = threading.Event()
    calls: list[bytes] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        assert seen.wait(10)
        calls.append(environ["wsgi.input"].read())
        start_response("200 OK", TEXT)
        return iter([b"the whole response"])

    gone = anyio.Event()
    gone.set()
    result = await run(
        _seeing_disconnect(WSGIToASGI(app), seen),
        chunks=[b"", b"bo", b"dy"],
        disconnect=gone,
    )
    assert result.error is None
    assert calls == [b"body"]
    assert result.status == 200
    assert result.body == b"the whole response"
    assert result.finished


async def test_W2A_IN_14_stream_still_produced_ends_at_the_next_write() -> None:
    """W2A-IN-14 (amended): a disconnect seen before the first chunk lets that
    chunk go with the headers; the app's next chunk ends the stream (no final
    message) and close() runs, so a stream to a client that left still ends."""
    seen = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Closing:
        assert seen.wait(10)
        start_response("200 OK", TEXT)
        return Closing([b"one", b"two", b"three"])

    results: list[Closing] = []

    def keep(environ: Environ, start_response: StartResponse) -> Closing:
        result = app(environ, start_response)
        results.append(result)
        return result

    gone = anyio.Event()
    gone.set()
    exchange = await run(
        _seeing_disconnect(WSGIToASGI(keep), seen),
        chunks=[b"", b"x"],
        disconnect=gone,
    )
    assert exchange.error is None
    assert exchange.status == 200
    assert exchange.body == b"one"
    assert not exchange.finished
    (result,) = results
    assert result.closed == 1
