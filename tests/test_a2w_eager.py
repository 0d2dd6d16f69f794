"""ASGIToWSGI's eager start (A2W-EAGER-01): ``eager=True`` steps the app on the
WSGI server's thread and moves it to the loop at its first real await.

Every test runs on every loop backend (uvloop, stock asyncio and trio). What is
shown is where the app ran (thread idents), what the client got, and what the
log says; no test asserts a duration, and every wait is bounded.
"""

from __future__ import annotations

import contextvars
import io
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import sniffio
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from sgibridge import ASGIToWSGI
from sgibridge._loop import AppInterrupted
from test_asgi_to_wsgi import TEXT, call, call_raising, start, wait_for
from wsgi_client import A2W_BACKENDS, make_environ, middlewares

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

CHUNK = b"x" * 65536
VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


@pytest.fixture(params=A2W_BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., ASGIToWSGI]]:
    with middlewares(request.param, lifespan="off", eager=True) as factory:
        yield factory


class RecordingInput(io.BytesIO):
    """``wsgi.input`` that records the thread of every read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.threads: set[int] = set()

    def read(self, size: int | None = -1) -> bytes:
        self.threads.add(threading.get_ident())
        return super().read(size)


def test_A2W_EAGER_01_app_answers_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    threads: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        threads.append(threading.get_ident())
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"hello"})

    mw = make(app)
    for _ in range(3):
        response = call(mw)
        assert response.status == "200 OK"
        assert response.body == b"hello"
    assert threads == [threading.get_ident()] * 3
    stats = mw.stats()
    assert stats["requests"] == 3
    assert stats["in_flight"] == 0


def test_A2W_EAGER_01_double_callable_app_answers_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    threads: list[int] = []

    class App:
        def __init__(self, scope: Scope) -> None:
            threads.append(threading.get_ident())

        async def __call__(self, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send({"type": "http.response.body", "body": b"two"})

    response = call(make(App, asgi_version="2.0"))
    assert response.body == b"two"
    assert threads == [threading.get_ident()]


def test_A2W_EAGER_01_request_body_is_read_inline_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    data = bytes(range(256)) * 1000  # several chunk_size blocks
    stream = RecordingInput(data)
    threads: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message["body"]
            if not message["more_body"]:
                break
        threads.append(threading.get_ident())
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": body})

    environ = make_environ("POST", stream=stream, content_length=str(len(data)))
    response = call(make(app, chunk_size=16384), environ)
    assert response.body == data
    assert stream.threads == {threading.get_ident()}
    assert threads == [threading.get_ident()]


def test_A2W_EAGER_01_moves_to_the_loop_when_the_response_must_wait(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """A response past the high watermark needs T to take it: the app moves to
    the loop at that send() and carries on there, in a real async context."""
    where: list[int] = []
    library: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        where.append(threading.get_ident())
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for _ in range(48):  # 3 MiB, past the 1 MiB watermark
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        where.append(threading.get_ident())
        await anyio.lowlevel.checkpoint()  # needs the loop: works after the move
        library.append(sniffio.current_async_library())
        await send({"type": "http.response.body", "body": b"end"})

    response = call(make(app))
    assert response.status == "200 OK"
    assert response.body == CHUNK * 48 + b"end"
    assert where[0] == threading.get_ident()
    assert where[1] != threading.get_ident()
    assert library and library[0] in ("asyncio", "trio")


def test_A2W_EAGER_01_receive_after_a_complete_response_needs_no_loop(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """After its complete response the app's receive() is http.disconnect at
    once (A2W-RECV-07): nothing to wait for, so it stays on T."""
    after: list[tuple[int, str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"done"})
        message = await receive()
        after.append((threading.get_ident(), message["type"]))

    response = call(make(app))
    assert response.body == b"done"
    assert after == [(threading.get_ident(), "http.disconnect")]


def test_A2W_EAGER_01_contextvars_carry_across_the_move(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(VAR.get())
        VAR.set("set by the app")
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for _ in range(48):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        seen.append(VAR.get())  # on the loop now
        await send({"type": "http.response.body", "body": b""})

    token = VAR.set("set by the server")
    try:
        response = call(make(app))
        assert VAR.get() == "set by the server"  # A2W-LOOP-05: a copy
    finally:
        VAR.reset(token)
    assert len(response.body) == len(CHUNK) * 48
    assert seen == ["set by the server", "set by the app"]


def test_A2W_EAGER_01_app_that_needs_the_loop_first_raises_with_a_clear_log(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.lowlevel.checkpoint()  # sniffio finds no loop on T
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"never"})

    with caplog.at_level(logging.ERROR, logger="sgibridge"):
        _, raised = call_raising(make(app))
    assert "event loop" in str(raised)  # raised from the WSGI call: A2W-ERR-01
    assert "A2W-EAGER-01" in caplog.text
    assert "docs/behaviour.md#a2w-eager-01" in caplog.text


def test_A2W_EAGER_01_fastapi_async_endpoint_answers_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    threads: list[int] = []
    api = FastAPI()

    @api.get("/")
    async def hello() -> PlainTextResponse:
        threads.append(threading.get_ident())
        return PlainTextResponse("hi")

    response = call(make(api))
    assert response.status == "200 OK"
    assert response.body == b"hi"
    assert threads == [threading.get_ident()]


def test_A2W_EAGER_01_error_after_the_response_is_raised_from_close(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"ok"})
        raise ValueError("after the response")

    result, sr = start(make(app), make_environ(), validate=False)
    assert b"".join(result) == b"ok"
    assert sr.calls[-1][0] == "200 OK"
    with pytest.raises(ValueError, match="after the response"):
        result.close()  # type: ignore[attr-defined]


def test_A2W_EAGER_01_keyboard_interrupt_ends_only_its_own_request(
    make: Callable[..., ASGIToWSGI],
) -> None:
    calls: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"next"})

    mw = make(app)
    _, raised = call_raising(mw)  # A2W-ERR-01: raised from the WSGI call
    assert isinstance(raised, AppInterrupted)
    assert isinstance(raised.__cause__, KeyboardInterrupt)
    assert call(mw).body == b"next"


def test_A2W_EAGER_01_is_validated() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="eager must be True or False"):
        ASGIToWSGI(app, eager="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="A2W-EAGER-01.*request_timeout=1"):
        ASGIToWSGI(app, eager=True, request_timeout=1)
    assert ASGIToWSGI(app).eager is False


def test_A2W_EAGER_01_moved_app_is_cancelled_on_the_loop_by_close_timeout(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """After the move the app is an ordinary task: a server that closes the
    response early gets close() back within close_timeout (A2W-ERR-07), and
    the app sees the cancellation on the loop."""
    ended: list[str] = []
    sleeping = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for _ in range(48):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        try:
            sleeping.set()
            await anyio.sleep_forever()
        finally:
            ended.append(threading.current_thread().name)

    result, sr = start(make(app, close_timeout=0.2), make_environ(), validate=False)
    chunks = iter(result)
    for _ in range(48):
        assert next(chunks) == CHUNK
    assert sleeping.wait(5)
    result.close()  # type: ignore[attr-defined]
    assert sr.calls[-1][0] == "200 OK"
    assert ended == ["sgibridge-loop"]


def test_A2W_EAGER_01_app_that_cannot_move_is_closed_and_answered_with_e500(
    make: Callable[..., ASGIToWSGI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop stopped accepting work between the step and the move: the
    suspended app is closed (its finally runs) and the client gets E500."""
    ended: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        try:
            for _ in range(48):
                await send(
                    {"type": "http.response.body", "body": CHUNK, "more_body": True}
                )
        finally:
            ended.append(True)
        await send({"type": "http.response.body", "body": b""})

    mw = make(app)
    assert len(call(mw).body) == 48 * len(CHUNK)
    assert ended == [True]
    rt = mw._rt
    assert rt is not None
    monkeypatch.setattr(rt.runner, "spawn", lambda target: False)
    response = call(mw, validate=False)
    assert response.status.startswith("500")
    assert ended == [True, True]


def test_A2W_EAGER_01_a_request_is_freed_without_the_cyclic_gc(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """Neither a request answered on T nor one that moved to the loop is left
    in a reference cycle (a cycle per request costs small requests CPU)."""
    import gc

    from sgibridge._a2w_request import Continuation, Request

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        count = 48 if scope["path"] == "/big" else 1
        for _ in range(count):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    def ours() -> list[object]:
        return [o for o in gc.get_objects() if type(o) in (Request, Continuation)]

    mw = make(app, chunk_size=4)
    call(mw)  # the loop and its caches exist before the count
    gc.collect()
    gc.disable()
    # Requests other tests left alive are not this test's: held here (so their
    # ids are not reused) and left out of the count.
    before = ours()
    try:
        for environ in (
            make_environ(),
            make_environ("POST", body=b"0123456789"),
            make_environ(path="/big"),
        ):
            assert call(mw, environ).body.endswith(CHUNK + b"b")

        def live() -> list[object]:
            return [o for o in ours() if not any(o is b for b in before)]

        wait_for(lambda: not live())
    finally:
        before.clear()
        gc.enable()
