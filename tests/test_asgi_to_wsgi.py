"""ASGIToWSGI (CONFORMANCE §3), one or more tests per A2W requirement.

Every WSGI call goes through :func:`wsgiref.validate.validator`, the stdlib
PEP 3333 checker, except where a test says why it cannot (the validator
itself rejects some environs those tests need). The ASGI apps are tiny
hand-written ones plus a real Starlette/FastAPI app, and run on every loop
backend: asyncio with uvloop (the default), stock asyncio, and trio.

Lifespan (§3.7) is in ``tests/test_lifespan.py``.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import sys
import threading
import time
import types
import weakref
import wsgiref.util
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import anyio
import anyio.lowlevel
import pytest
from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse

import sgibridge
import sgibridge._a2w_errors as a2w_errors
import sgibridge._a2w_response as a2w_response
import sgibridge._asgi_to_wsgi as asgi_to_wsgi_module
from sgibridge import ASGIMiddleware, ASGIProtocolError, ASGIToWSGI, ClientDisconnected
from wsgi_client import (
    A2W_BACKENDS,
    bounded,
    make_environ,
    middlewares,
)

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


TEXT = [(b"content-type", b"text/plain")]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        time.sleep(0.001)


async def wait_event(event: threading.Event) -> None:
    """Wait on the loop for a threading.Event set by the test thread (polls:
    the event is set from another thread, so an anyio.Event cannot be used)."""
    with anyio.fail_after(5):
        while not event.is_set():  # noqa: ASYNC110
            await anyio.sleep(0.001)


@dataclass
class Response:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    calls: list[tuple[str, list[tuple[str, str]], Any]] = field(default_factory=list)
    thread: int = 0

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class Recorder:
    """A ``start_response`` that records its calls and their thread."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []
        self.threads: list[int] = []
        self.fail = fail

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        self.calls.append((status, headers, exc_info))
        self.threads.append(threading.get_ident())
        if self.fail is not None and exc_info is None:
            raise self.fail
        return lambda data: None


def start(
    mw: Any,
    environ: dict[str, Any],
    *,
    validate: bool = True,
    sr: Recorder | None = None,
) -> tuple[Iterable[bytes], Recorder]:
    sr = sr if sr is not None else Recorder()
    app = validator(mw) if validate else mw
    return app(environ, sr), sr


def call(
    mw: Any,
    environ: dict[str, Any] | None = None,
    *,
    validate: bool = True,
    sr: Recorder | None = None,
) -> Response:
    """One whole request: call, iterate to the end, close."""
    result, sr = start(mw, environ or make_environ(), validate=validate, sr=sr)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers, _ = sr.calls[-1]
    return Response(status, headers, body, sr.calls, sr.threads[-1])


def respond(
    body: bytes = b"hello",
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers or TEXT,
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(params=A2W_BACKENDS)
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.param)


@pytest.fixture
def make(backend: dict[str, Any]) -> Iterator[Callable[..., ASGIToWSGI]]:
    """Build middlewares on the current backend; close them and check that
    their loop threads are gone afterwards."""
    with middlewares(backend, lifespan="off") as factory:
        yield factory


def scope_of(
    make: Callable[..., ASGIToWSGI], environ: dict[str, Any], **kw: Any
) -> Scope:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await respond()(scope, receive, send)

    call(make(app, **kw), environ)
    return seen[0]


class Input:
    """A ``wsgi.input`` that records each read, its size and its thread."""

    def __init__(self, data: bytes, error: BaseException | None = None) -> None:
        self._buf = io.BytesIO(data)
        self.reads: list[tuple[int, int]] = []
        self.error = error

    def read(self, size: int = -1) -> bytes:
        self.reads.append((size, threading.get_ident()))
        if self.error is not None:
            raise self.error
        return self._buf.read(size)

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - never used
        raise AssertionError("readline() is not used by the adapter")

    def readlines(self, hint: int = -1) -> list[bytes]:  # pragma: no cover
        raise AssertionError("readlines() is not used by the adapter")

    def __iter__(self) -> Iterator[bytes]:  # pragma: no cover
        raise AssertionError("iteration is not used by the adapter")


def body_reader(
    messages: list[Message], extra: Callable[[], object] | None = None
) -> Any:
    """An app that records every receive() message until the body ends."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if extra is not None:
                extra()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await respond(b"".join(m.get("body", b"") for m in messages))(
            scope, receive, send
        )

    return app


# --------------------------------------------------------------------------
# §3.1 The app and its event loop
# --------------------------------------------------------------------------


def test_A2W_APP_01_pep3333_app_under_validator(
    make: Callable[..., ASGIToWSGI],
) -> None:
    response = call(make(respond(b"hi")))
    assert response.status == "200 OK"
    assert response.headers == [("content-type", "text/plain")]
    assert response.body == b"hi"
    assert sgibridge.ASGIMiddleware is ASGIToWSGI is ASGIMiddleware


def test_A2W_APP_01_under_wsgiref_server(make: Callable[..., ASGIToWSGI]) -> None:
    """A real wsgiref server: a POST body in, a streamed response out."""
    import http.client
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 201, "headers": TEXT})
        for part in (b"got:", body):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body"})

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server(
        "127.0.0.1",
        0,
        validator(make(app, chunk_size=5)),
        handler_class=Quiet,
    )
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        conn.request(
            "POST", "/", body=b"x" * 23, headers={"Content-Type": "text/plain"}
        )
        reply = conn.getresponse()
        assert (reply.status, reply.read()) == (201, b"got:" + b"x" * 23)
        conn.close()
    finally:
        thread.join(5)
        server.server_close()


@pytest.mark.parametrize(
    ("style", "version"),
    [
        ("coroutine_function", "3.0"),
        ("instance", "3.0"),
        ("class", "2.0"),
        ("factory", "2.0"),
        ("hinted_double", "2.0"),
        ("hinted_single", "3.0"),
    ],
)
def test_A2W_APP_02_style_detection(
    make: Callable[..., ASGIToWSGI], style: str, version: str
) -> None:
    seen: list[Scope] = []

    async def single(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await respond()(scope, receive, send)

    class Instance:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await single(scope, receive, send)

    class Legacy:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            await single(self.scope, receive, send)

    def factory(scope: Scope) -> Any:
        return Legacy(scope)

    def hinted_double(scope: Scope) -> Any:
        return Legacy(scope)

    hinted_double._asgi_double_callable = True  # type: ignore[attr-defined]

    class HintedSingle:
        _asgi_single_callable = True

        def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
            return single(scope, receive, send)

    apps = {
        "coroutine_function": single,
        "instance": Instance(),
        "class": Legacy,
        "factory": factory,
        "hinted_double": hinted_double,
        "hinted_single": HintedSingle(),
    }
    assert call(make(apps[style])).body == b"hello"
    assert seen[0]["asgi"]["version"] == version


def test_A2W_APP_02_asgi_version_overrides_detection(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[Scope] = []

    def legacy(scope: Scope) -> Any:  # not a coroutine function, so "2.0"...
        seen.append(scope)
        return lambda receive, send: respond()(scope, receive, send)

    async def modern(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await respond()(scope, receive, send)

    assert call(make(legacy, asgi_version="2.0")).body == b"hello"
    # ...and a single-callable forced to "3.0" runs as one.
    assert call(make(modern, asgi_version="3.0")).body == b"hello"
    assert [s["asgi"]["version"] for s in seen] == ["2.0", "3.0"]


def test_A2W_APP_03_double_callable_instantiated_on_loop(
    make: Callable[..., ASGIToWSGI],
) -> None:
    threads: list[int] = []

    class Legacy:
        def __init__(self, scope: Scope) -> None:
            threads.append(threading.get_ident())
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            threads.append(threading.get_ident())
            await respond()(self.scope, receive, send)

    assert call(make(Legacy)).body == b"hello"
    assert threads[0] == threads[1] != threading.get_ident()


def test_A2W_LOOP_01_one_loop_for_lifespan_and_requests(
    backend: dict[str, Any],
) -> None:
    threads: list[tuple[str, int]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        threads.append((scope["type"], threading.get_ident()))
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await respond()(scope, receive, send)

    with ASGIToWSGI(app, **backend) as mw:
        for _ in range(3):
            call(mw)
    assert [kind for kind, _ in threads] == ["lifespan", "http", "http", "http"]
    assert len({ident for _, ident in threads}) == 1


def test_A2W_LOOP_02_started_lazily_not_in_init(
    make: Callable[..., ASGIToWSGI],
) -> None:
    before = set(threading.enumerate())
    mw = make(respond())
    assert set(threading.enumerate()) == before
    assert mw._rt is None
    call(mw)
    assert mw._rt is not None and mw._rt.runner._thread in threading.enumerate()


def test_A2W_LOOP_02_new_loop_when_pid_changes(
    make: Callable[..., ASGIToWSGI], monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            starts.append(threading.get_ident())
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await respond(str(threading.get_ident()).encode())(scope, receive, send)

    mw = make(app, lifespan="on")
    first = call(mw).body
    parent = mw._rt
    assert parent is not None
    real_pid = os.getpid()
    # Only the adapter sees the "child" pid: a process-wide fake would also
    # reach multiprocessing's finalizers, which check the pid they were made in.
    fake_os = types.SimpleNamespace(getpid=lambda: real_pid + 100000)
    monkeypatch.setattr(asgi_to_wsgi_module, "os", fake_os)
    try:
        second = call(mw).body
        assert second != first  # a new loop thread serves the "child"
        assert len(starts) == 2  # and lifespan startup ran again there
        mw.close()  # stops the "child" loop
    finally:
        monkeypatch.undo()
        parent.runner.stop()
        assert parent.runner._thread is not None
        parent.runner._thread.join(5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_A2W_LOOP_02_works_after_a_real_fork(make: Callable[..., ASGIToWSGI]) -> None:
    mw = make(respond(b"forked"))
    assert call(mw).body == b"forked"  # the parent's loop is running now
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            import signal

            signal.alarm(10)
            mw2 = mw  # the same object, inherited
            result = call(mw2).body
            os.write(write_fd, result)
            mw2.close()
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        _, status = os.waitpid(pid, 0)
        data = os.read(read_fd, 100)
    finally:
        os.close(read_fd)
    assert data == b"forked"
    assert os.waitstatus_to_exitcode(status) == 0


def test_A2W_LOOP_03_daemon_thread_and_app_off_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(threading.get_ident())
        await respond()(scope, receive, send)

    mw = make(app)
    call(mw)
    assert mw._rt is not None and mw._rt.runner._thread is not None
    assert mw._rt.runner._thread.daemon
    assert seen == [mw._rt.runner._thread.ident] != [threading.get_ident()]


def test_A2W_LOOP_04_many_threads_at_once(make: Callable[..., ASGIToWSGI]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        await anyio.lowlevel.checkpoint()
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for byte in message["body"]:
            await send(
                {"type": "http.response.body", "body": bytes([byte]), "more_body": True}
            )
        await send({"type": "http.response.body"})

    mw = make(app)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(20):
                body = f"{n}-{i}".encode()
                assert call(mw, make_environ("POST", body=body)).body == body
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


# --------------------------------------------------------------------------
# §3.2 Environ to scope (the rules are tested in depth in test_translate.py)
# --------------------------------------------------------------------------


def test_A2W_SCOPE_01_type_and_asgi_versions(make: Callable[..., ASGIToWSGI]) -> None:
    scope = scope_of(make, make_environ())
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}


def test_A2W_SCOPE_02_03_http_version_and_method(
    make: Callable[..., ASGIToWSGI],
) -> None:
    scope = scope_of(make, make_environ("PATCH", SERVER_PROTOCOL="HTTP/1.0"))
    assert (scope["http_version"], scope["method"]) == ("1.0", "PATCH")


def test_A2W_SCOPE_04_scheme(make: Callable[..., ASGIToWSGI]) -> None:
    assert (
        scope_of(make, make_environ(env={"wsgi.url_scheme": "https"}))["scheme"]
        == "https"
    )
    assert scope_of(make, make_environ())["scheme"] == "http"


def test_A2W_SCOPE_05_06_07_paths_and_query(make: Callable[..., ASGIToWSGI]) -> None:
    environ = make_environ(
        path="/caf\xc3\xa9/a/b",
        SCRIPT_NAME="/app",
        REQUEST_URI="/app/caf%C3%A9/a%2Fb?q=1",
        QUERY_STRING="q=\xe9",
    )
    scope = scope_of(make, environ)
    assert scope["root_path"] == "/app"
    assert scope["path"] == "/app/café/a/b"
    assert scope["raw_path"] == b"/app/caf%C3%A9/a%2Fb"  # REQUEST_URI matches: %2F kept
    assert scope["query_string"] == b"q=\xe9"


def test_A2W_SCOPE_08_headers(make: Callable[..., ASGIToWSGI]) -> None:
    environ = make_environ(
        "POST",
        body=b"{}",
        HTTP_HOST="example.com",
        HTTP_X_THING="1",
        CONTENT_TYPE="text/x",
    )
    headers = dict(scope_of(make, environ)["headers"])
    assert headers[b"host"] == b"example.com"
    assert headers[b"x-thing"] == b"1"
    assert headers[b"content-type"] == b"text/x"
    assert headers[b"content-length"] == b"2"


def test_A2W_SCOPE_09_10_server_and_client(make: Callable[..., ASGIToWSGI]) -> None:
    environ = make_environ(
        SERVER_NAME="srv", SERVER_PORT="8080", REMOTE_ADDR="10.0.0.1"
    )
    scope = scope_of(make, environ)
    assert scope["server"] == ("srv", 8080)
    assert scope["client"] == ("10.0.0.1", 0)
    environ = make_environ(REMOTE_ADDR="10.0.0.1", REMOTE_PORT="5000")
    assert scope_of(make, environ)["client"] == ("10.0.0.1", 5000)


def test_A2W_SCOPE_11_state_is_a_fresh_copy_each_request(
    make: Callable[..., ASGIToWSGI],
) -> None:
    states: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        states.append(scope["state"])
        scope["state"]["mutated"] = True
        await respond()(scope, receive, send)

    mw = make(app)
    call(mw)
    call(mw)
    assert states[0] is not states[1]
    assert states[1] == {"mutated": True} and len(states) == 2
    assert mw._rt is not None and mw._rt.state == {}  # lifespan off: {}


def test_A2W_SCOPE_12_extensions(make: Callable[..., ASGIToWSGI]) -> None:
    ext = scope_of(make, make_environ())["extensions"]
    assert ext == {"http.response.pathsend": {}}
    environ = make_environ(env={"wsgi.early_hints": lambda headers: None})
    ext = scope_of(make, environ)["extensions"]
    assert ext == {"http.response.pathsend": {}, "http.response.early_hint": {}}


def test_A2W_SCOPE_13_wsgi_environ_is_the_environ(
    make: Callable[..., ASGIToWSGI],
) -> None:
    environ = make_environ()
    assert scope_of(make, environ)["wsgi_environ"] is environ


# --------------------------------------------------------------------------
# §3.3 receive()
# --------------------------------------------------------------------------


def test_A2W_RECV_01_reads_exactly_content_length(
    make: Callable[..., ASGIToWSGI],
) -> None:
    messages: list[Message] = []
    environ = make_environ(
        "POST", stream=io.BytesIO(b"abcdefEXTRA"), content_length="6"
    )
    assert call(make(body_reader(messages)), environ).body == b"abcdef"


def test_A2W_RECV_01_terminated_input_read_to_eof(
    make: Callable[..., ASGIToWSGI],
) -> None:
    messages: list[Message] = []
    environ = make_environ(
        "POST", stream=io.BytesIO(b"x" * 10), env={"wsgi.input_terminated": True}
    )
    response = call(make(body_reader(messages), chunk_size=4), environ)
    assert response.body == b"x" * 10
    assert [len(m["body"]) for m in messages] == [4, 4, 2, 0]
    assert messages[-1] == {"type": "http.request", "body": b"", "more_body": False}


def test_A2W_RECV_01_no_length_unterminated_is_empty_and_never_read(
    make: Callable[..., ASGIToWSGI],
) -> None:
    messages: list[Message] = []
    stream = Input(b"would block on a socket")
    response = call(make(body_reader(messages)), make_environ("POST", stream=stream))
    assert response.body == b""
    assert messages == [{"type": "http.request", "body": b"", "more_body": False}]
    assert stream.reads == []


def test_A2W_RECV_01_missing_or_none_input_is_empty(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """Not validated: the validator itself requires a ``wsgi.input``."""
    mw = make(body_reader([]))
    for value in ("missing", None):
        environ = make_environ("POST", content_length="5")
        if value == "missing":
            del environ["wsgi.input"]
        else:
            environ["wsgi.input"] = None
        assert call(mw, environ, validate=False).body == b""


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", " "])
def test_A2W_RECV_02_invalid_content_length_is_e400(
    make: Callable[..., ASGIToWSGI], value: str
) -> None:
    """Not validated: the validator raises on ``int(CONTENT_LENGTH)`` first."""
    called: list[Scope] = []

    async def app(
        scope: Scope, receive: Receive, send: Send
    ) -> None:  # pragma: no cover
        called.append(scope)

    response = call(
        make(app), make_environ("POST", content_length=value), validate=False
    )
    assert (response.status, response.body) == ("400 Bad Request", b"Bad Request")
    assert response.header("content-length") == "11"
    assert called == []


def test_A2W_RECV_03_chunk_size_bounds_each_message(
    make: Callable[..., ASGIToWSGI],
) -> None:
    messages: list[Message] = []
    mw = make(body_reader(messages), chunk_size=4)
    assert call(mw, make_environ("POST", body=b"0123456789")).body == b"0123456789"
    assert [(m["body"], m["more_body"]) for m in messages] == [
        (b"0123", True),
        (b"4567", True),
        (b"89", False),
    ]


def test_A2W_RECV_03_no_body_is_one_empty_message(
    make: Callable[..., ASGIToWSGI],
) -> None:
    messages: list[Message] = []
    call(make(body_reader(messages)), make_environ())
    assert messages == [{"type": "http.request", "body": b"", "more_body": False}]


def test_A2W_RECV_04_body_read_lazily(make: Callable[..., ASGIToWSGI]) -> None:
    stream = Input(b"0123456789")
    counts: list[int] = []
    mw = make(body_reader([], lambda: counts.append(len(stream.reads))), chunk_size=4)
    call(mw, make_environ("POST", stream=stream, content_length="10"))
    assert counts == [1, 2, 3]  # one read per receive(), never ahead
    assert [size for size, _ in stream.reads] == [4, 4, 2]


def test_A2W_RECV_04_small_body_read_before_the_app_starts(
    make: Callable[..., ASGIToWSGI],
) -> None:
    stream = Input(b"0123")
    at_start: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        at_start.append(len(stream.reads))
        assert (await receive())["body"] == b"0123"
        await respond()(scope, receive, send)

    call(make(app), make_environ("POST", stream=stream, content_length="4"))
    assert at_start == [1]


def test_A2W_RECV_04_expect_100_continue_waits_for_receive(
    make: Callable[..., ASGIToWSGI],
) -> None:
    stream = Input(b"0123")
    at_start: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        at_start.append(len(stream.reads))
        await respond()(scope, receive, send)  # never reads the body

    environ = make_environ(
        "POST", stream=stream, content_length="4", HTTP_EXPECT="100-continue"
    )
    call(make(app), environ)
    assert at_start == [0] and stream.reads == []


def test_A2W_RECV_05_reads_happen_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    stream = Input(b"x" * 100)
    call(
        make(body_reader([]), chunk_size=7),
        make_environ("POST", stream=stream, content_length="100"),
    )
    assert len(stream.reads) == 15
    assert {ident for _, ident in stream.reads} == {threading.get_ident()}


class BreakingInput(Input):
    """A ``wsgi.input`` that delivers ``data`` and then raises ``error``."""

    def __init__(self, data: bytes, error: BaseException) -> None:
        super().__init__(data)
        self._error = error

    def read(self, size: int = -1) -> bytes:
        data = self._buf.read(size)
        self.reads.append((size, threading.get_ident()))
        if not data:
            raise self._error
        return data


@pytest.mark.parametrize(
    ("how", "arrived"),
    [
        ("short", b"abc"),
        ("short_fast_path", b"abc"),
        ("oserror", b""),
        ("oserror_after_bytes", b"abc"),
        ("short_after_a_full_block", b"x" * 50 + b"abc"),
    ],
)
def test_A2W_RECV_06_short_or_failing_input_delivers_what_arrived(
    make: Callable[..., ASGIToWSGI], how: str, arrived: bytes
) -> None:
    """Amended A2W-RECV-06: the bytes that arrived, then ``http.disconnect``."""
    seen: list[Message] = []
    errors: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect":
                break
        seen.append(await receive())  # and again, at once
        try:
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        except ClientDisconnected as exc:
            errors.append(type(exc))

    reset = ConnectionResetError("peer reset")
    if how == "oserror":
        environ = make_environ("POST", stream=Input(b"", reset), content_length="100")
    elif how == "oserror_after_bytes":
        environ = make_environ(
            "POST", stream=BreakingInput(arrived, reset), content_length="100"
        )
    elif how == "short_fast_path":
        environ = make_environ("POST", stream=io.BytesIO(arrived), content_length="10")
    else:
        environ = make_environ("POST", stream=io.BytesIO(arrived), content_length="100")
    response = call(make(app, chunk_size=50), environ)
    bodies = [m for m in seen if m["type"] == "http.request"]
    assert b"".join(m["body"] for m in bodies) == arrived
    assert all(m["more_body"] and m["body"] for m in bodies)
    assert [m["type"] for m in seen[len(bodies) :]] == ["http.disconnect"] * 2
    assert errors == [ClientDisconnected]
    assert response.status == "500 Internal Server Error"  # the app sent nothing


def test_A2W_RECV_07_disconnect_only_after_response(
    make: Callable[..., ASGIToWSGI],
) -> None:
    events: list[str] = []
    first_taken = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def watch() -> None:
            message = await receive()
            events.append(message["type"])
            events.append((await receive())["type"])  # every later call, at once

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await wait_event(first_taken)
            await anyio.sleep(0.01)  # let a premature disconnect show, if any
            events.append("final")
            await send({"type": "http.response.body", "body": b"b"})

    result, _ = start(make(app), make_environ())
    iterator = iter(result)
    assert next(iterator) == b"a"
    first_taken.set()
    assert b"".join(iterator) == b"b"
    result.close()  # type: ignore[attr-defined]
    assert events == ["final", "http.disconnect", "http.disconnect"]


def test_A2W_RECV_07_disconnect_after_early_close(
    make: Callable[..., ASGIToWSGI],
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        events.append((await receive())["type"])  # blocks until close()

    result, _ = start(make(app), make_environ())
    assert next(iter(result)) == b"a"
    result.close()  # type: ignore[attr-defined]
    assert events == ["http.disconnect"]


def test_A2W_RECV_08_receive_and_send_concurrently(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """An echo that streams while it still reads, plus a disconnect watcher."""
    chunks: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        while True:
            message = await receive()
            await send(
                {
                    "type": "http.response.body",
                    "body": message["body"],
                    "more_body": True,
                }
            )
            if not message["more_body"]:
                break
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)  # waits for the end of the response
            for _ in range(3):
                await send(
                    {"type": "http.response.body", "body": b"!", "more_body": True}
                )
            await send({"type": "http.response.body"})

    body = os.urandom(100_000)
    result, _ = start(make(app, chunk_size=4096), make_environ("POST", body=body))
    chunks.extend(result)
    result.close()  # type: ignore[attr-defined]
    assert b"".join(chunks) == body + b"!!!"


# --------------------------------------------------------------------------
# §3.4 send()
# --------------------------------------------------------------------------


def errors_into(app_body: Callable[[Send], Any], seen: list[BaseException]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app_body(send)
        except ASGIProtocolError as exc:
            seen.append(exc)
            raise

    return app


def assert_e500(response: Response) -> None:
    assert response.status == "500 Internal Server Error"
    assert response.body == b"Internal Server Error"
    assert response.header("content-length") == "21"
    assert response.header("content-type") == "text/plain; charset=utf-8"


def call_raising(
    mw: Any, environ: dict[str, Any] | None = None, *, validate: bool = True
) -> tuple[Recorder, BaseException]:
    """One request whose app raised before its first byte (A2W-ERR-01): the
    WSGI call itself raises the app's exception, once the app has ended, with
    nothing handed to ``start_response``; the recorder and the exception are
    returned."""
    sr = Recorder()
    with pytest.raises(Exception) as raised:
        start(mw, environ or make_environ(), validate=validate, sr=sr)
    assert sr.calls == []  # the server answers it, as for a WSGI app that raises
    return sr, raised.value


def assert_raised_from_call(mw: Any, seen: list[BaseException]) -> Recorder:
    """The WSGI call raises the error the app saw and raised (A2W-ERR-01)."""
    sr, raised = call_raising(mw)
    assert seen and raised is seen[-1]
    return sr


def test_A2W_SEND_01_first_message_must_be_start(
    make: Callable[..., ASGIToWSGI],
) -> None:
    for kind in (
        "http.response.body",
        "http.response.pathsend",
        "http.response.trailers",
    ):
        seen: list[BaseException] = []

        async def body(send: Send, kind: str = kind) -> None:
            await send({"type": kind, "body": b"x", "path": "/etc/hostname"})

        assert_raised_from_call(make(errors_into(body, seen)), seen)
        assert len(seen) == 1 and "A2W-SEND-01" in str(seen[0])


@pytest.mark.parametrize(
    "message",
    [
        {"status": 99},
        {"status": "200"},
        {"status": True},
        {"status": 200, "headers": [("content-type", "text/plain")]},
        {"status": 200, "headers": [(b"x", b"a\r\nb")]},
        {"status": 200, "headers": [(b"x",)]},
        {"status": 200, "headers": 5},
    ],
)
def test_A2W_SEND_02_bad_start_raises_and_start_response_not_called(
    make: Callable[..., ASGIToWSGI], message: Message
) -> None:
    seen: list[BaseException] = []

    async def body(send: Send) -> None:
        await send({"type": "http.response.start", **message})

    assert_raised_from_call(make(errors_into(body, seen)), seen)
    assert len(seen) == 1  # start_response never called


def test_A2W_SEND_03_start_response_args_and_thread(
    make: Callable[..., ASGIToWSGI],
) -> None:
    headers = [
        (b"Content-Type", b"text/plain"),
        (b"x-name", b"caf\xe9"),
        (b"x-name", b"2"),
    ]
    response = call(make(respond(b"ok", 404, headers)))
    status, sent_headers, exc_info = response.calls[0]
    assert status == "404 Not Found"
    assert type(sent_headers) is list and all(type(h) is tuple for h in sent_headers)
    assert sent_headers == [
        ("Content-Type", "text/plain"),
        ("x-name", "café"),
        ("x-name", "2"),
    ]
    assert exc_info is None
    assert response.thread == threading.get_ident()


def test_A2W_SEND_04_hop_by_hop_headers_removed(
    make: Callable[..., ASGIToWSGI],
) -> None:
    headers = [
        *TEXT,
        (b"transfer-encoding", b"chunked"),
        (b"connection", b"close"),
        (b"keep-alive", b"5"),
        (b"x-ok", b"1"),
    ]
    response = call(make(respond(b"ok", 200, headers)))
    assert response.headers == [("content-type", "text/plain"), ("x-ok", "1")]


def test_A2W_SEND_05_second_start_raises(make: Callable[..., ASGIToWSGI]) -> None:
    seen: list[BaseException] = []

    async def body(send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})

    assert_raised_from_call(make(errors_into(body, seen)), seen)
    assert "A2W-SEND-05" in str(seen[0])


def test_A2W_SEND_06_body_type(make: Callable[..., ASGIToWSGI]) -> None:
    for bad in ("text", 7, [b"x"]):
        seen: list[BaseException] = []

        async def body(send: Send, bad: object = bad) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send({"type": "http.response.body", "body": bad})

        assert_raised_from_call(make(errors_into(body, seen)), seen)
        assert "A2W-SEND-06" in str(seen[0])

    async def missing(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body"})

    response = call(make(missing))
    assert (response.status, response.body) == ("200 OK", b"")


def test_A2W_SEND_06_chunks_yielded_without_delay(
    make: Callable[..., ASGIToWSGI],
) -> None:
    gates = [threading.Event() for _ in range(3)]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for i, gate in enumerate(gates):
            await send(
                {"type": "http.response.body", "body": b"%d" % i, "more_body": True}
            )
            await wait_event(gate)  # the next chunk only after this one arrived
        await send({"type": "http.response.body"})

    result, _ = start(make(app), make_environ())
    got = []
    for chunk, gate in zip(result, gates, strict=False):
        got.append(chunk)
        gate.set()
    assert b"".join(result) == b""
    result.close()  # type: ignore[attr-defined]
    assert got == [b"0", b"1", b"2"]


def test_A2W_SEND_06_send_waits_above_the_high_watermark(
    make: Callable[..., ASGIToWSGI],
) -> None:
    consumed = 0
    ahead: list[int] = []
    chunk = b"x" * 65536

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        sent = 0
        for _ in range(64):  # 4 MiB
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
            ahead.append(sent - consumed)
        await send({"type": "http.response.body"})

    mw = make(app)
    result, _ = start(mw, make_environ())
    for data in result:
        consumed += len(data)
        time.sleep(0.0005)  # a slow client
    result.close()  # type: ignore[attr-defined]
    assert consumed == 64 * 65536
    bound = 2 * (mw._high_water + len(chunk))
    assert max(ahead) <= bound


def test_A2W_SEND_07_missing_more_body_ends_the_response(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})
        await send({"type": "http.response.body", "body": b"ignored"})

    assert call(make(app)).body == b"ab"


def test_A2W_SEND_08_messages_after_completion_ignored(
    make: Callable[..., ASGIToWSGI],
) -> None:
    done: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(b"done")(scope, receive, send)
        await send({"type": "http.response.body", "body": b"late"})
        await send({"type": "http.response.start", "status": 500, "headers": TEXT})
        await send({"type": "http.response.trailers", "headers": []})
        done.append("returned")

    response = call(make(app))
    assert (response.status, response.body, done) == ("200 OK", b"done", ["returned"])


def test_A2W_SEND_09_unknown_type_raises_extra_keys_ignored(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[BaseException] = []

    async def body(send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": TEXT, "extra": 1}
        )
        await send({"type": "http.response.bogus"})

    assert_raised_from_call(make(errors_into(body, seen)), seen)
    assert "A2W-SEND-09" in str(seen[0])

    async def extra(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": TEXT, "x": 1}
        )
        await send({"type": "http.response.body", "body": b"ok", "x": 2})

    assert call(make(extra)).body == b"ok"


@pytest.mark.parametrize(
    ("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)]
)
def test_A2W_SEND_10_no_body_for_head_204_304(
    make: Callable[..., ASGIToWSGI], method: str, status: int
) -> None:
    headers = [] if status in (204, 304) else [*TEXT, (b"content-length", b"5")]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await send({"type": "http.response.body", "body": b"lo"})

    response = call(make(app), make_environ(method))
    assert response.body == b""
    assert response.status.startswith(str(status))
    assert response.headers == [(k.decode(), v.decode()) for k, v in headers]


def test_A2W_SEND_11_body_cut_at_content_length(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) request body
        headers = [*TEXT, (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await send(
            {"type": "http.response.body", "body": b"lo world", "more_body": True}
        )
        await send({"type": "http.response.body", "body": b"!"})

    assert call(make(app)).body == b"hello"
    assert any("A2W-SEND-11" in r.getMessage() for r in caplog.records)


def test_A2W_SEND_11_short_body_raises_at_the_end(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*TEXT, (b"content-length", b"10")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await anyio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"lo"})

    result, _ = start(make(app), make_environ())
    got: list[bytes] = []
    with pytest.raises(ASGIProtocolError, match="A2W-SEND-11"):
        got.extend(result)
    result.close()  # type: ignore[attr-defined]
    assert b"".join(got) in (b"hel", b"hello")


def test_A2W_SEND_11_short_body_before_any_byte_is_e500(
    make: Callable[..., ASGIToWSGI],
) -> None:
    headers = [*TEXT, (b"content-length", b"10")]
    assert_e500(call(make(respond(b"short", 200, headers))))


def test_A2W_SEND_12_empty_body_with_more_yields_nothing(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    result, _ = start(make(app), make_environ())
    chunks = list(result)
    result.close()  # type: ignore[attr-defined]
    assert chunks == [b"x"]


# --------------------------------------------------------------------------
# §3.5 Extensions
# --------------------------------------------------------------------------


def pathsend_app(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": headers or TEXT}
        )
        await send({"type": "http.response.pathsend", "path": path})

    return app


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc")
@pytest.mark.parametrize("file_wrapper", [False, True])
def test_A2W_EXT_01_pathsend_streams_the_file_on_the_wsgi_thread(
    make: Callable[..., ASGIToWSGI], tmp_path: Path, file_wrapper: bool
) -> None:
    data = os.urandom(200_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    mw = make(pathsend_app(str(path)), chunk_size=65536)
    call(mw)  # warm up the loop before counting fds
    fds = open_fds()
    extra: dict[str, Any] = (
        {"wsgi.file_wrapper": wsgiref.util.FileWrapper} if file_wrapper else {}
    )
    result, _ = start(mw, make_environ(env=extra))
    chunks = list(result)
    assert open_fds() == fds + 1  # opened on this thread, not yet closed
    result.close()  # type: ignore[attr-defined]
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) <= 65536
    assert open_fds() == fds


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc")
def test_A2W_EXT_01_pathsend_file_closed_on_early_close(
    make: Callable[..., ASGIToWSGI], tmp_path: Path
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 300_000)
    mw = make(pathsend_app(str(path)), chunk_size=1000)
    call(make(respond()))
    call(mw)
    fds = open_fds()
    result, _ = start(mw, make_environ())
    assert next(iter(result)) == b"x" * 1000
    result.close()  # type: ignore[attr-defined]
    assert open_fds() == fds


def test_A2W_EXT_01_pathsend_honours_head_and_content_length(
    make: Callable[..., ASGIToWSGI], tmp_path: Path
) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")
    assert call(make(pathsend_app(str(path))), make_environ("HEAD")).body == b""
    cut = [*TEXT, (b"content-length", b"4")]
    assert call(make(pathsend_app(str(path), cut))).body == b"0123"
    result, _ = start(
        make(pathsend_app(str(path), [*TEXT, (b"content-length", b"20")])),
        make_environ(),
    )
    with pytest.raises(ASGIProtocolError, match="A2W-SEND-11"):
        list(result)
    result.close()  # type: ignore[attr-defined]


def test_A2W_EXT_01_pathsend_errors(
    make: Callable[..., ASGIToWSGI], tmp_path: Path
) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"data")
    cases: list[list[Message]] = [
        [{"type": "http.response.pathsend", "path": b"/bytes/path"}],
        [{"type": "http.response.pathsend", "path": str(path)}] * 2,
        [
            {"type": "http.response.body", "body": b"x", "more_body": True},
            {"type": "http.response.pathsend", "path": str(path)},
        ],
        [
            {"type": "http.response.pathsend", "path": str(path)},
            {"type": "http.response.body", "body": b"x"},
        ],
    ]
    for messages in cases:
        seen: list[BaseException] = []

        async def body(send: Send, messages: list[Message] = messages) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            for message in messages:
                await send(message)

        try:
            call(make(errors_into(body, seen)))
        except ASGIProtocolError as exc:  # after a yielded chunk: A2W-ERR-02
            assert exc is seen[0]
        assert len(seen) == 1 and "A2W-EXT-01" in str(seen[0])


def test_A2W_EXT_01_pathsend_missing_file_is_e500(
    make: Callable[..., ASGIToWSGI], tmp_path: Path
) -> None:
    assert_e500(call(make(pathsend_app(str(tmp_path / "nope")))))


def test_A2W_EXT_02_early_hints(make: Callable[..., ASGIToWSGI]) -> None:
    hints: list[tuple[list[tuple[str, str]], int]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send(
            {"type": "http.response.early_hint", "links": [b"</s.css>; rel=preload"]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    early = {
        "wsgi.early_hints": lambda headers: hints.append(
            (headers, threading.get_ident())
        )
    }
    assert call(make(app), make_environ(env=early)).body == b"ok"
    assert hints == [([("Link", "</s.css>; rel=preload")], threading.get_ident())]


def test_A2W_EXT_02_05_unadvertised_early_hint_is_dropped(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    """Not advertised: nowhere to send it, so it is dropped (A2W-EXT-05)."""
    caplog.set_level(logging.DEBUG, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send(
            {"type": "http.response.early_hint", "links": [b"</s.css>; rel=preload"]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    mw = make(app)
    for _ in range(2):
        response = call(mw)
        assert (response.status, response.body) == ("200 OK", b"ok")
    drops = [r for r in caplog.records if "A2W-EXT-05" in r.getMessage()]
    assert len(drops) == 1 and drops[0].levelno == logging.DEBUG


def test_A2W_EXT_03_zerocopysend_not_advertised(
    make: Callable[..., ASGIToWSGI],
) -> None:
    seen: list[BaseException] = []
    assert (
        "http.response.zerocopysend" not in scope_of(make, make_environ())["extensions"]
    )

    async def body(send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.zerocopysend", "file": 0})

    assert_raised_from_call(make(errors_into(body, seen)), seen)
    assert len(seen) == 1


def test_A2W_EXT_04_trailers_accepted_and_dropped(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": TEXT,
                "trailers": True,
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})
        await send(
            {
                "type": "http.response.trailers",
                "headers": [(b"x-sum", b"1")],
                "more_trailers": False,
            }
        )

    assert call(make(app)).body == b"ok"


@pytest.mark.parametrize("kind", ["websocket.send", "websocket.accept"])
def test_A2W_EXT_05_websocket_messages_raise(
    make: Callable[..., ASGIToWSGI], kind: str
) -> None:
    seen: list[BaseException] = []

    async def body(send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": kind, "path": "/x", "headers": []})

    assert_raised_from_call(make(errors_into(body, seen)), seen)
    assert "A2W-EXT-05" in str(seen[0])


# --------------------------------------------------------------------------
# §3.6 Errors and early close
# --------------------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("started", [False, True])
def test_A2W_ERR_01_raise_before_body_is_raised_from_the_call(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture, started: bool
) -> None:
    """A2W-ERR-01: an app that raises before its first body byte (whether or
    not it sent ``http.response.start``) makes the WSGI call raise that
    exception, with nothing handed to ``start_response``: the server answers
    it as it answers (and logs) a WSGI app that raises; sgibridge logs it at
    DEBUG only, so it is not logged twice."""
    caplog.set_level(logging.DEBUG, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 201, "headers": TEXT})
        raise Boom("secret detail")

    _, raised = call_raising(make(app))
    assert isinstance(raised, Boom)
    assert raised.__context__ is None
    records = [r for r in caplog.records if r.exc_info and r.exc_info[0] is Boom]
    assert [r.levelno for r in records] == [logging.DEBUG]


def test_A2W_ERR_02_raise_after_a_chunk_reraises(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send(
            {"type": "http.response.body", "body": b"partial", "more_body": True}
        )
        await anyio.sleep(0.01)
        raise Boom("mid-stream")

    result, _ = start(make(app), make_environ())
    iterator = iter(result)
    assert next(iterator) == b"partial"
    with pytest.raises(Boom):
        next(iterator)
    result.close()  # type: ignore[attr-defined]


def test_A2W_ERR_03_no_start_is_e500(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sgibridge")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    assert_e500(call(make(app)))
    assert any("A2W-ERR-03" in r.getMessage() for r in caplog.records)


def test_A2W_ERR_04_return_before_final_body(make: Callable[..., ASGIToWSGI]) -> None:
    async def no_chunk(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"", "more_body": True})

    assert_e500(call(make(no_chunk)))

    async def one_chunk(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await anyio.sleep(0.01)

    result, _ = start(make(one_chunk), make_environ())
    iterator = iter(result)
    assert next(iterator) == b"a"
    with pytest.raises(ASGIProtocolError, match="A2W-ERR-04"):
        next(iterator)
    result.close()  # type: ignore[attr-defined]


def test_A2W_ERR_05_start_response_error_raised_into_app(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """A2W-ERR-05: start_response runs on the WSGI thread with the first
    body bytes; when the server rejects the start, the client gets E500 and
    the app's next send() raises the server's error."""
    seen: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        try:
            with anyio.fail_after(5):
                while True:  # until the WSGI thread has called start_response
                    await send(
                        {"type": "http.response.body", "body": b"", "more_body": True}
                    )
                    await anyio.sleep(0.001)
        except ValueError as exc:
            seen.append(exc)
            raise

    sr = Recorder(fail=ValueError("server rejects this header"))
    response = call(
        make(app, chunk_size=4), make_environ("POST", body=b"0123456789"), sr=sr
    )
    assert [str(e) for e in seen] == ["server rejects this header"]
    assert_e500(response)
    assert response.calls[-1][2][0] is ValueError


def test_A2W_ERR_06_early_close(make: Callable[..., ASGIToWSGI]) -> None:
    events: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) request body
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        events.append((await receive())["type"])
        try:
            await send({"type": "http.response.body", "body": b"b", "more_body": True})
        except ClientDisconnected:
            events.append("ClientDisconnected")
        events.append("returned")

    result, _ = start(make(app), make_environ())
    assert next(iter(result)) == b"a"
    result.close()  # type: ignore[attr-defined]
    assert events == ["http.disconnect", "ClientDisconnected", "returned"]


def test_A2W_ERR_06_close_at_content_length_is_no_disconnect(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """A2W-ERR-06, A2W-ERR-08: a server that stops at the declared
    Content-Length (as PEP 3333 lets it, and as WSGIToASGI does) has the
    whole response: the app's closing empty message is accepted, not a
    disconnect, and an error it raises afterwards comes out of close()."""
    events: list[object] = []
    sent = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) request body
        headers = [*TEXT, (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await wait_event(sent)  # the server has closed the result by now
        try:
            await send({"type": "http.response.body", "body": b""})
        except ClientDisconnected:
            events.append("ClientDisconnected")
        events.append((await receive())["type"])
        raise Boom("after the whole response")

    result, _ = start(make(app), make_environ(), validate=False)
    assert next(iter(result)) == b"hello"  # all 5 declared bytes: the server stops

    def release() -> None:
        time.sleep(0.05)
        sent.set()

    threading.Thread(target=release, daemon=True).start()
    with pytest.raises(Boom, match="after the whole response"):
        result.close()  # type: ignore[attr-defined]
    assert events == ["http.disconnect"]


def close_bounded(result: Any) -> BaseException | None:
    """``result.close()`` that must not hang: what it raised, or ``None``."""
    error: BaseException | None = bounded(result.close)
    return error


def test_A2W_ERR_06_close_with_unsent_bytes_is_a_disconnect(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """A2W-ERR-06: the app has put its whole Content-Length but the server
    took only part of it before closing: that is an early close, so the app,
    waiting at the high watermark, gets ClientDisconnected and close()
    returns (the default close_timeout waits for the app)."""
    events: list[str] = []
    size = 4 * 1024 * 1024

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*TEXT, (b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            body = b"x" * (size - 1)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        except ClientDisconnected:
            events.append("ClientDisconnected")

    result, _ = start(make(app), make_environ(), validate=False)
    assert next(iter(result)) == b"x"
    assert close_bounded(result) is None
    assert events == ["ClientDisconnected"]


def test_A2W_ERR_06_close_at_content_length_releases_a_pending_read(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """A2W-ERR-06: after the server took the whole declared body and closed,
    an app that still reads its request body gets http.disconnect instead of
    a read that no thread will run; close() returns."""
    events: list[object] = []
    taken = threading.Event()
    reading = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*TEXT, (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await wait_event(taken)
        reading.set()  # the read below waits for T, which is not taking now
        events.append((await receive())["type"])

    body = b"x" * 100
    result, _ = start(
        make(app, chunk_size=4), make_environ("POST", body=body), validate=False
    )
    assert next(iter(result)) == b"hello"
    taken.set()
    assert reading.wait(5)
    time.sleep(0.05)  # the read is posted to T before the server closes
    assert close_bounded(result) is None
    assert events == ["http.disconnect"]


def test_A2W_ERR_08_error_after_the_whole_declared_body_is_raised_from_close(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    """A2W-ERR-06/08: the app sent its whole Content-Length (more_body=True)
    and raised before its final message; the server took the bytes and
    closed: the response is whole, and the error is logged and raised from
    close(), never lost."""
    caplog.set_level(logging.ERROR, logger="sgibridge")
    taken = threading.Event()
    raised = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*TEXT, (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await wait_event(taken)
        raised.set()
        raise Boom("after the whole declared body")

    result, _ = start(make(app), make_environ(), validate=False)
    assert next(iter(result)) == b"hello"
    taken.set()
    assert raised.wait(5)
    time.sleep(0.05)  # the task has ended before the server closes
    error = close_bounded(result)
    assert isinstance(error, Boom)
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


def test_A2W_ERR_06_close_timeout_cancels_a_stuck_app(
    make: Callable[..., ASGIToWSGI],
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        try:
            await anyio.sleep(30)  # ignores the disconnect
        finally:
            events.append("cancelled")

    result, _ = start(make(app, close_timeout=0.05), make_environ())
    assert next(iter(result)) == b"a"
    result.close()  # type: ignore[attr-defined]
    assert events == ["cancelled"]


def endless_sender(on_disconnect: Callable[[ClientDisconnected], None]) -> Any:
    """An app that streams until ``send()`` raises, then calls ``on_disconnect``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        try:
            while True:
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"x" * 65536,
                        "more_body": True,
                    }
                )
        except ClientDisconnected as exc:
            on_disconnect(exc)

    return app


def test_A2W_ERR_06_error_from_a_disconnect_is_not_an_app_failure(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    """A2W-ERR-06: an app that turns the ClientDisconnected from ``send()``
    into its own error, as Starlette's StreamingResponse does with
    ``ClientDisconnect``, is logged on one INFO line, not as an ERROR with a
    traceback; an unrelated error after an early close is still an ERROR."""

    class FrameworkDisconnect(Exception):
        pass

    def translate(exc: ClientDisconnected) -> None:
        raise FrameworkDisconnect

    def unrelated(exc: ClientDisconnected) -> None:
        return None

    async def buggy(scope: Scope, receive: Receive, send: Send) -> None:
        await endless_sender(unrelated)(scope, receive, send)
        raise KeyError("bug")

    caplog.set_level(logging.DEBUG, logger="sgibridge")
    for app in (endless_sender(translate), buggy):
        result, _ = start(make(app), make_environ())
        assert next(iter(result))
        result.close()  # type: ignore[attr-defined]  # waits for the app to end
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], KeyError)
    assert any(
        r.levelno == logging.INFO and "FrameworkDisconnect" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("translated", [False, True], ids=["raw", "translated"])
def test_A2W_ERR_06_abandoned_app_is_freed_without_the_cyclic_gc(
    make: Callable[..., ASGIToWSGI], translated: bool
) -> None:
    """A2W-ERR-06: the ClientDisconnected raised into the app after an early
    close does not keep the app's frames alive in a reference cycle, so an
    async generator the app was iterating is finalized at once, not whenever
    the cyclic GC runs (under gunicorn a StreamingResponse's generator stayed
    open until the worker shut down)."""

    class Marker:
        pass

    refs: list[weakref.ref[Marker]] = []

    def on_disconnect(exc: ClientDisconnected) -> None:
        if translated:
            raise RuntimeError("the framework's own disconnect error")
        raise exc

    inner = endless_sender(on_disconnect)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        marker = Marker()  # lives as long as this frame
        refs.append(weakref.ref(marker))
        await inner(scope, receive, send)

    gc.collect()
    gc.disable()
    try:
        result, _ = start(make(app), make_environ())
        assert next(iter(result))
        result.close()  # type: ignore[attr-defined]  # waits for the app to end
        wait_for(lambda: refs[0]() is None)
    finally:
        gc.enable()


def test_A2W_ERR_07_background_work_is_bounded(make: Callable[..., ASGIToWSGI]) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(b"done")(scope, receive, send)
        try:
            await anyio.sleep(30)  # "background task" after the response
        finally:
            events.append("cancelled")

    result, _ = start(make(app, close_timeout=0.05), make_environ())
    assert b"".join(result) == b"done"  # the iterable ends at once
    assert events == []
    result.close()  # type: ignore[attr-defined]  # no CancelledError here
    assert events == ["cancelled"]


def test_A2W_ERR_07_close_waits_for_the_app_by_default(
    make: Callable[..., ASGIToWSGI],
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(b"done")(scope, receive, send)
        await anyio.sleep(0.05)
        events.append("background done")

    assert call(make(app)).body == b"done"
    assert events == ["background done"]


def test_A2W_ERR_07_a2wsgi_wait_time_is_close_timeout(backend: dict[str, Any]) -> None:
    mw = ASGIMiddleware(respond(), 0.25, **backend)
    assert mw.close_timeout == 0.25
    with pytest.raises(ValueError, match="wait_time"):
        ASGIToWSGI(respond(), wait_time=1, close_timeout=2)


# --------------------------------------------------------------------------
# Options and a2wsgi compatibility
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lifespan": "maybe"},
        {"asgi_version": "4.0"},
        {"backend": "curio"},
        {"chunk_size": 0},
        {"close_timeout": -1},
        {"shutdown_timeout": -1},
        {"backend_options": {"bogus": 1}},
        {"backend": "trio", "loop": object()},
    ],
)
def test_options_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ASGIToWSGI(respond(), **kwargs)


def test_A2W_LOOP_01_uses_a_given_running_loop() -> None:
    """a2wsgi's ``loop=``: an asyncio loop someone else runs in a thread."""
    import asyncio

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(threading.get_ident())
        await respond()(scope, receive, send)

    try:
        mw = ASGIMiddleware(app, loop=loop, lifespan="off")
        assert call(mw).body == b"hello"
        mw.close()
        assert seen == [thread.ident]
        assert loop.is_running()  # never stopped by us
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_requests_after_close_get_e503(make: Callable[..., ASGIToWSGI]) -> None:
    mw = make(respond())
    call(mw)
    mw.close()
    response = call(mw)
    assert (response.status, response.body) == (
        "503 Service Unavailable",
        b"Service Unavailable",
    )


# --------------------------------------------------------------------------
# A real framework: Starlette / FastAPI
# --------------------------------------------------------------------------


def fastapi_app(tmp_path: Path, events: list[str]) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "hi"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.state.counter = 0
    (tmp_path / "file.txt").write_bytes(b"file contents\n" * 1000)

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, Any]:
        request.app.state.counter += 1
        return {
            "greeting": request.state.greeting,
            "counter": request.app.state.counter,
        }

    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(await request.body())

    @app.get("/sync")
    def sync() -> dict[str, str]:
        return {"thread": "worker"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"line {i}\n".encode()

        return StreamingResponse(gen(), media_type="text/plain")

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(tmp_path / "file.txt")

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "nope")

    @app.get("/crash")
    async def crash() -> None:
        raise Boom("framework crash")

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(events.append, "background")
        return {"ok": "yes"}

    return app


def test_fastapi_app_end_to_end(
    backend: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sgibridge")
    events: list[str] = []
    with ASGIMiddleware(fastapi_app(tmp_path, events), **backend) as mw:
        assert events == []  # nothing before the first request
        response = call(mw, make_environ(path="/hello"))
        assert events == ["startup"]
        assert (response.status, response.body) == (
            "200 OK",
            b'{"greeting":"hi","counter":1}',
        )
        assert call(mw, make_environ(path="/hello")).body.endswith(b'"counter":2}')
        body = os.urandom(200_000)
        environ = make_environ(
            "POST", "/echo", body=body, CONTENT_TYPE="application/octet-stream"
        )
        assert call(mw, environ).body == body
        assert call(mw, make_environ(path="/sync")).body == b'{"thread":"worker"}'
        assert call(mw, make_environ(path="/stream")).body == b"".join(
            f"line {i}\n".encode() for i in range(5)
        )
        response = call(mw, make_environ(path="/file"))
        assert response.body == b"file contents\n" * 1000
        assert response.header("content-length") == str(14 * 1000)
        assert call(mw, make_environ("HEAD", "/file")).body == b""
        assert call(mw, make_environ(path="/missing")).status == "404 Not Found"
        # Starlette sends its own 500 page, then re-raises: A2W-ERR-08 raises it
        # again from close(), after the complete response.
        result, sr = start(mw, make_environ(path="/crash"))
        assert b"Internal Server Error" in b"".join(result)
        with pytest.raises(Boom):
            result.close()  # type: ignore[attr-defined]
        assert sr.calls[-1][0] == "500 Internal Server Error"
        assert call(mw, make_environ(path="/background")).body == b'{"ok":"yes"}'
        assert "background" in events
    assert events[-1] == "shutdown"
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


# --------------------------------------------------------------------------
# Thread hygiene
# --------------------------------------------------------------------------


def test_a_request_is_freed_without_the_cyclic_gc(
    make: Callable[..., ASGIToWSGI],
) -> None:
    """No part of a finished request is in a reference cycle: a cycle per
    request makes the cyclic GC run on small requests and costs them CPU."""
    from sgibridge._a2w_request import Request

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    mw = make(app, chunk_size=4)
    call(mw)  # the loop and its caches exist before the count
    gc.collect()
    gc.disable()
    # Requests other tests left alive are not this test's: held here (so their
    # ids are not reused) and left out of the count.
    before = [o for o in gc.get_objects() if type(o) is Request]
    try:
        for environ in (make_environ(), make_environ("POST", body=b"0123456789")):
            assert call(mw, environ).body == b"ab"

        def live() -> list[object]:
            return [
                o
                for o in gc.get_objects()
                if type(o) is Request and not any(o is b for b in before)
            ]

        wait_for(lambda: not live())
    finally:
        before.clear()
        gc.enable()


def test_no_thread_leak_after_close(backend: dict[str, Any]) -> None:
    before = set(threading.enumerate())
    mw = ASGIToWSGI(respond(), **backend)
    for _ in range(5):
        call(mw)
    mw.close()
    wait_for(lambda: set(threading.enumerate()) <= before)


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX-only test helpers")


def test_A2W_ERR_01_internal_error_is_a_logged_e500(
    make: Callable[..., ASGIToWSGI],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A2W-ERR-01: an unexpected error in sgibridge's own request handling
    becomes E500 with the cause logged, never an exception out of the WSGI
    call (which a server would turn into its own error page)."""

    def broken(self: object) -> Iterable[bytes]:
        raise RuntimeError("internal failure")

    mw = make(respond())
    monkeypatch.setattr(a2w_response.Response, "respond", broken)
    with caplog.at_level(logging.ERROR, logger="sgibridge"):
        response = call(mw)
    assert_e500(response)
    assert response.calls[-1][2] is not None
    assert any(
        "internal failure" in (r.exc_text or "") or r.exc_info for r in caplog.records
    )


def test_exc_info_for_an_exception_without_traceback() -> None:
    """The loop may already have dropped an app exception's traceback; the
    exc_info handed to start_response still carries one."""
    exc = ValueError("no traceback")
    kind, value, tb = a2w_errors.exc_info_of(exc)
    assert (kind, value) == (ValueError, exc) and tb is not None
