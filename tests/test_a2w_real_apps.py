"""ASGIToWSGI with what real apps hand it (issue 10; CONFORMANCE §3).

Strict on what goes to the wire, liberal in what the app hands us: wherever
Uvicorn or Starlette's TestClient accept a message whose meaning is
unambiguous, so does ASGIToWSGI. Each test runs on every loop backend
(uvloop, stock asyncio and trio). Every blocking wait has a timeout: a
request that would hang runs in a thread that is joined with one.
"""

from __future__ import annotations

import contextvars
import io
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.responses import FileResponse, Response, StreamingResponse

import asgi_client
import sgibridge._asgi_to_wsgi as asgi_to_wsgi
from sgibridge import ASGIToWSGI, WSGIToASGI
from sgibridge._loop import AppInterrupted
from test_asgi_to_wsgi import TEXT, Boom, Recorder, call, call_raising, start
from wsgi_client import A2W_BACKENDS, bounded, closing_outer, make_environ, middlewares

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

#: Seconds one request may take before the test calls it hung.
TIMEOUT = 10.0


@pytest.fixture(params=A2W_BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., ASGIToWSGI]]:
    with middlewares(request.param, lifespan="off") as factory:
        yield factory


def call_bounded(mw: ASGIToWSGI, environ: dict[str, Any] | None = None) -> Any:
    """:func:`call` that must not hang: its response, or what it raised."""
    return bounded(lambda: call(mw, environ, validate=False), TIMEOUT)


# --------------------------------------------------------------------------
# Bodies of any bytes-like type (A2W-SEND-06, relaxed)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_A2W_SEND_06_bytes_like_bodies_accepted(
    make: Callable[..., ASGIToWSGI], kind: type[Any]
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        buffer = bytearray(b"hello ")
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send(
            {"type": "http.response.body", "body": kind(buffer), "more_body": True}
        )
        buffer[:] = b"XXXXXX"  # the app reuses its buffer: what was sent stays
        await send({"type": "http.response.body", "body": kind(b"world")})

    response = call(make(app))
    assert (response.status, response.body) == ("200 OK", b"hello world")


def test_A2W_SEND_06_starlette_memoryview_responses(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def chunks() -> Any:
        for part in (b"one ", b"two"):
            yield memoryview(part)

    plain = Response(memoryview(b"a memoryview"), media_type="text/plain")
    assert call(make(plain)).body == b"a memoryview"
    streaming = StreamingResponse(chunks(), media_type="text/plain")
    assert call(make(streaming)).body == b"one two"


# --------------------------------------------------------------------------
# A relative path-send path (A2W-EXT-01, relaxed)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("wrapper", [False, True], ids=["stream", "file_wrapper"])
def test_A2W_EXT_01_relative_pathsend_is_the_working_directory(
    make: Callable[..., ASGIToWSGI],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wrapper: bool,
) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG not really")
    monkeypatch.chdir(tmp_path)
    environ = make_environ()
    if not wrapper:
        environ.pop("wsgi.file_wrapper", None)
    response = call(make(FileResponse("image.png")), environ, validate=False)
    assert (response.status, response.body) == ("200 OK", b"\x89PNG not really")


@pytest.mark.parametrize("wrapper", [False, True], ids=["stream", "file_wrapper"])
def test_A2W_EXT_01_relative_pathsend_resolved_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wrapper: bool,
) -> None:
    """A relative path-send path is resolved where the file is opened, on the
    WSGI server's thread: ``os.path.abspath()`` is a ``getcwd()`` system
    call, which a blocking-call detector (Starlette's suite runs blockbuster)
    fails on a running loop."""
    (tmp_path / "image.png").write_bytes(b"\x89PNG not really")
    monkeypatch.chdir(tmp_path)
    threads: list[tuple[str, int]] = []
    getcwd, abspath = os.getcwd, os.path.abspath

    def recorded_getcwd() -> str:
        threads.append(("getcwd", threading.get_ident()))
        return getcwd()

    def recorded_abspath(path: Any) -> Any:
        threads.append(("abspath", threading.get_ident()))
        return abspath(path)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.pathsend", "path": "image.png"})

    mw = make(app)
    call(mw, validate=False)  # the loop is up before the calls are recorded
    environ = make_environ()
    if not wrapper:
        environ.pop("wsgi.file_wrapper", None)
    monkeypatch.setattr(os, "getcwd", recorded_getcwd)
    monkeypatch.setattr(os.path, "abspath", recorded_abspath)
    response = call(mw, environ, validate=False)
    monkeypatch.undo()
    assert (response.status, response.body) == ("200 OK", b"\x89PNG not really")
    here = threading.get_ident()
    assert threads, "the relative path was never resolved"
    assert [name for name, ident in threads if ident != here] == []


# --------------------------------------------------------------------------
# Extension messages a WSGI server cannot carry (A2W-EXT-05, relaxed)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http.response.push", "http.response.debug"])
def test_A2W_EXT_05_push_and_debug_dropped_and_logged_once(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """The README: server push from an ASGI app is dropped by ASGIToWSGI."""
    caplog.set_level(logging.DEBUG, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": kind, "path": "/style.css", "headers": [], "info": {}})
        await send({"type": "http.response.body", "body": b"pushed nothing"})

    mw = make(app)
    for _ in range(3):
        response = call(mw)
        assert (response.status, response.body) == ("200 OK", b"pushed nothing")
    drops = [r for r in caplog.records if kind in r.getMessage()]
    assert len(drops) == 1 and drops[0].levelno == logging.DEBUG
    assert "see docs/behaviour.md#a2w-ext-05" in drops[0].getMessage()


# --------------------------------------------------------------------------
# contextvars: the same on every backend
# --------------------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_A2W_LOOP_05_app_runs_in_a_copy_of_the_calling_context(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(request_id.get("unset"))
        request_id.set("changed by the app")
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = make(app)
    for value in ("first", "second"):
        token = request_id.set(value)
        try:
            assert call(mw).body == b"ok"
            assert request_id.get() == value  # a copy: the app changed only its own
        finally:
            request_id.reset(token)
    assert seen == ["first", "second"]


# --------------------------------------------------------------------------
# A BaseException from the app ends that request, not the loop
# --------------------------------------------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("when", ["before_start", "after_start", "after_a_chunk"])
def test_A2W_ERR_08_base_exception_ends_the_request_and_the_loop_serves_on(
    make: Callable[..., ASGIToWSGI],
    caplog: pytest.LogCaptureFixture,
    exc_type: type[BaseException],
    when: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/next":
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send({"type": "http.response.body", "body": b"still serving"})
            return
        if when != "before_start":
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        if when == "after_a_chunk":
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise exc_type("from the app")

    mw = make(app)
    if when == "after_a_chunk":  # raised from the iterator: an abort
        outcome = call_bounded(mw)
        assert isinstance(outcome, AppInterrupted)
        assert isinstance(outcome.__cause__, exc_type)
    else:  # raised from the WSGI call, logged with the interrupt as the cause
        _, raised = call_raising(mw, validate=False)  # (A2W-ERR-01)
        assert isinstance(raised, AppInterrupted)
        assert isinstance(raised.__cause__, exc_type)
        assert any(
            r.exc_info is not None
            and isinstance(r.exc_info[1], AppInterrupted)
            and isinstance(r.exc_info[1].__cause__, exc_type)
            for r in caplog.records
        )
    for _ in range(2):
        response = call_bounded(mw, make_environ(path="/next"))
        assert (response.status, response.body) == ("200 OK", b"still serving")


# --------------------------------------------------------------------------
# An error after a complete response reaches WSGI middleware (A2W-ERR-08)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True])
def test_A2W_ERR_08_error_after_complete_response_raised_from_close(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture, streamed: bool
) -> None:
    caplog.set_level(logging.ERROR, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        if streamed:
            await send(
                {"type": "http.response.body", "body": b"whole ", "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"response"})
        raise Boom("after the response")

    sr = Recorder()
    result, _ = start(make(app), make_environ(), sr=sr)
    assert b"".join(result) == (b"whole response" if streamed else b"response")
    with pytest.raises(Boom, match="after the response"):
        result.close()  # type: ignore[attr-defined]
    assert [c[0] for c in sr.calls] == ["200 OK"]
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


def test_A2W_ERR_08_error_reaches_outer_wsgi_middleware(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """An error reporter wrapping the adapter, as Sentry's WSGI integration
    does, sees the error; the client still got the whole response."""
    reported: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"done"})
        raise Boom("background task failed")

    response = call(closing_outer(make(app), reported))
    assert (response.status, response.body) == ("200 OK", b"done")
    assert len(reported) == 1 and isinstance(reported[0], Boom)


@pytest.mark.parametrize("started", [False, True], ids=["before_start", "after_start"])
def test_A2W_ERR_01_error_before_the_first_byte_reaches_outer_wsgi_middleware(
    make: Callable[..., ASGIToWSGI], started: bool
) -> None:
    """A2W-ERR-01: an app that raises before its first body byte makes the
    WSGI call raise, with nothing sent, so WSGI middleware outside answers it
    as it answers a WSGI app that raises: here Werkzeug's debugger, whose
    traceback page names the app's exception."""
    from werkzeug.debug import DebuggedApplication

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        raise Boom("before the first byte")

    response = call(DebuggedApplication(make(app), evalex=False), validate=False)
    assert response.status.startswith("500")
    assert len(response.calls) == 1  # the debugger's page, nothing of sgibridge's
    assert b"Boom" in response.body and b"before the first byte" in response.body


def test_A2W_ERR_01_wsgi_to_asgi_in_front_raises_as_the_app_alone(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """WSGIToASGI in front of ASGIToWSGI (as the frameworks' test clients
    run it): the ASGI caller gets the app's exception with nothing sent, as
    from the app itself (A2W-ERR-01, W2A-ERR-01), and answers it as it
    answers any app that raises."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise Boom("from the app")

    exchange = anyio.run(asgi_client.run, WSGIToASGI(make(app)))
    assert exchange.messages == []
    assert isinstance(exchange.error, Boom)


# --------------------------------------------------------------------------
# README "Limitations", each held for ASGIToWSGI
# --------------------------------------------------------------------------


class Reads(io.BytesIO):
    """A ``wsgi.input`` that counts its reads."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.count = 0

    def read(self, size: int | None = -1) -> bytes:
        self.count += 1
        return super().read(size)


def test_readme_limitation_body_read_one_block_per_receive(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """Lazily, one ``chunk_size`` block per ``receive()``; only a body that
    fits one block is read before the app starts (A2W-RECV-04)."""
    reads_at_receive: list[int] = []
    stream = Reads(b"x" * 40)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            reads_at_receive.append(stream.count)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b""})

    call(
        make(app, chunk_size=10),
        make_environ("POST", stream=stream, content_length="40"),
    )
    assert reads_at_receive == [1, 2, 3, 4]

    small = Reads(b"y" * 8)
    seen: list[int] = []

    async def early(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(small.count)  # read ahead, before the app ran
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b""})

    call(
        make(early, chunk_size=10),
        make_environ("POST", stream=small, content_length="8"),
    )
    assert seen == [1]


def test_readme_limitation_trailers_dropped(make: Callable[..., ASGIToWSGI]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": TEXT,
                "trailers": True,
            }
        )
        await send({"type": "http.response.body", "body": b"body"})
        await send({"type": "http.response.trailers", "headers": [(b"x-t", b"1")]})

    response = call(make(app))
    assert (response.status, response.body) == ("200 OK", b"body")
    assert response.header("x-t") is None


def test_readme_limitation_zerocopysend_not_offered(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b""})

    call(make(app))
    assert "http.response.zerocopysend" not in seen[0]["extensions"]


def test_module_exports_stay() -> None:
    assert asgi_to_wsgi.ASGIToWSGI is ASGIToWSGI
