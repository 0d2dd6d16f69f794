"""Lifespan as ASGIToWSGI drives it (CONFORMANCE §3.7, A2W-LIFE-01..07).

Each test runs on every loop backend (uvloop, stock asyncio, trio), calls the
middleware through :func:`wsgiref.validate.validator`, and closes the
middleware so that its loop thread is gone by the end.
"""

from __future__ import annotations

import atexit
import io
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import anyio
import pytest

from sgibridge import ASGIProtocolError, ASGIToWSGI
from wsgi_client import A2W_BACKENDS, middlewares

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


@pytest.fixture(params=A2W_BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., ASGIToWSGI]]:
    with middlewares(request.param) as factory:
        yield factory


def get(mw: ASGIToWSGI) -> tuple[str, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = validator(cast("Any", mw))(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]
    return statuses[-1], body


class LifespanApp:
    """A scripted ASGI app: ``on_startup``/``on_shutdown`` list the messages
    to send, or an exception to raise; every call is recorded."""

    def __init__(
        self,
        on_startup: list[Message] | BaseException | None = None,
        on_shutdown: list[Message] | BaseException | None = None,
        startup_delay: float = 0.0,
    ) -> None:
        self.on_startup = (
            on_startup
            if on_startup is not None
            else [{"type": "lifespan.startup.complete"}]
        )
        self.on_shutdown = (
            on_shutdown
            if on_shutdown is not None
            else [{"type": "lifespan.shutdown.complete"}]
        )
        self.startup_delay = startup_delay
        self.events: list[str] = []
        self.scopes: list[Scope] = []
        self.errors: list[BaseException] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            self.events.append("http")
            state = scope["state"]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": repr(state).encode()})
            return
        message = await receive()
        self.events.append(message["type"])
        await anyio.sleep(self.startup_delay)
        scope["state"]["ready"] = True
        await self._play(self.on_startup, send)
        message = await receive()
        self.events.append(message["type"])
        await self._play(self.on_shutdown, send)

    async def _play(self, script: list[Message] | BaseException, send: Send) -> None:
        if isinstance(script, BaseException):
            raise script
        for message in script:
            try:
                await send(message)
            except ASGIProtocolError as exc:
                self.errors.append(exc)
                raise


def test_A2W_LIFE_01_startup_once_before_the_first_request(
    make: Callable[..., ASGIToWSGI],
) -> None:
    app = LifespanApp()
    mw = make(app)
    assert app.events == []  # nothing at construction
    get(mw)
    get(mw)
    assert app.events == ["lifespan.startup", "http", "http"]
    scope = app.scopes[0]
    assert scope["type"] == "lifespan"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.0"}
    assert scope["state"] == {"ready": True}


def test_A2W_LIFE_01_double_callable_lifespan(make: Callable[..., ASGIToWSGI]) -> None:
    inner = LifespanApp()

    class Legacy:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            await inner(self.scope, receive, send)

    get(make(Legacy))
    assert inner.scopes[0]["asgi"] == {"version": "2.0", "spec_version": "2.0"}


def test_A2W_LIFE_02_concurrent_first_requests_share_one_startup(
    make: Callable[..., ASGIToWSGI],
) -> None:
    app = LifespanApp(startup_delay=0.05)
    mw = make(app)
    barrier = threading.Barrier(8)
    results: list[tuple[str, bytes]] = []

    def worker() -> None:
        barrier.wait(5)
        results.append(get(mw))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert app.events.count("lifespan.startup") == 1
    assert results == [("200 OK", b"{'ready': True}")] * 8


def test_A2W_LIFE_03_state_kept_and_copied(make: Callable[..., ASGIToWSGI]) -> None:
    app = LifespanApp()
    mw = make(app)
    assert get(mw) == ("200 OK", b"{'ready': True}")
    lifespan_state = app.scopes[0]["state"]
    request_state = app.scopes[1]["state"]
    assert request_state == lifespan_state and request_state is not lifespan_state


def test_A2W_LIFE_04_startup_failed_gives_e500(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sgibridge")
    app = LifespanApp(
        on_startup=[{"type": "lifespan.startup.failed", "message": "no db"}]
    )
    mw = make(app)
    for _ in range(2):
        assert get(mw) == ("500 Internal Server Error", b"Internal Server Error")
    assert "http" not in app.events
    assert any(
        r.levelno == logging.ERROR and "no db" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_A2W_LIFE_04_startup_that_hangs_times_out_to_e500(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """A2W-LIFE-04: a startup that never answers holds requests for at most
    startup_timeout seconds; then startup counts as failed (in every lifespan
    mode), the reason is logged at ERROR, the task is cancelled, and every
    request gets E500 instead of waiting for ever."""
    caplog.set_level(logging.INFO, logger="sgibridge")
    cancelled: list[bool] = []

    async def hang(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan", "the app must not be called"
        await receive()
        try:
            await anyio.sleep(30)  # never answers lifespan.startup
        except BaseException:
            cancelled.append(True)
            raise

    mw = make(hang, lifespan=mode, startup_timeout=0.05)
    for _ in range(2):
        assert get(mw) == ("500 Internal Server Error", b"Internal Server Error")
    assert cancelled == [True]
    assert any(
        r.levelno == logging.ERROR and "startup_timeout=0.05" in r.getMessage()
        for r in caplog.records
    )
    with pytest.raises(ValueError, match="startup_timeout"):
        make(hang, startup_timeout=-1)


def test_A2W_LIFE_05_auto_unsupported_carries_on(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sgibridge")
    app = LifespanApp(on_startup=RuntimeError("lifespan? what lifespan?"))
    mw = make(app, lifespan="auto")
    assert get(mw) == ("200 OK", b"{}")  # no state when unsupported
    mw.close()
    assert app.events == ["lifespan.startup", "http"]  # shutdown never sent
    assert any(
        r.levelno == logging.INFO and "unsupported" in r.getMessage()
        for r in caplog.records
    )


def test_A2W_LIFE_05_auto_app_returning_early_is_unsupported(
    make: Callable[..., ASGIToWSGI],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await LifespanApp()(scope, receive, send)

    assert get(make(app))[0] == "200 OK"


def test_A2W_LIFE_05_on_failure_gives_e500(make: Callable[..., ASGIToWSGI]) -> None:
    app = LifespanApp(on_startup=RuntimeError("boom"))
    assert get(make(app, lifespan="on"))[0] == "500 Internal Server Error"
    assert "http" not in app.events


def test_A2W_LIFE_05_off_never_sends_lifespan(make: Callable[..., ASGIToWSGI]) -> None:
    app = LifespanApp()
    mw = make(app, lifespan="off")
    assert get(mw) == ("200 OK", b"{}")
    mw.close()
    assert [s["type"] for s in app.scopes] == ["http"]


def test_A2W_LIFE_06_shutdown(
    make: Callable[..., ASGIToWSGI], monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks: list[Callable[[], object]] = []
    monkeypatch.setattr(atexit, "register", hooks.append)
    app = LifespanApp()
    mw = make(app)
    get(mw)
    assert hooks == [mw.shutdown]  # the atexit hook, registered at startup
    rt = mw._rt
    assert rt is not None and rt.runner._thread is not None
    mw.shutdown()
    assert app.events == ["lifespan.startup", "http", "lifespan.shutdown"]
    rt.runner._thread.join(5)
    assert not rt.runner._thread.is_alive()  # the loop is stopped
    mw.shutdown()  # again: nothing
    assert app.events.count("lifespan.shutdown") == 1
    assert get(mw) == ("503 Service Unavailable", b"Service Unavailable")


def test_A2W_LIFE_06_context_manager(make: Callable[..., ASGIToWSGI]) -> None:
    app = LifespanApp()
    with make(app) as mw:
        get(mw)
    assert app.events[-1] == "lifespan.shutdown"


def test_A2W_LIFE_06_shutdown_failed_is_logged(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sgibridge")
    app = LifespanApp(
        on_shutdown=[{"type": "lifespan.shutdown.failed", "message": "leak"}]
    )
    mw = make(app)
    get(mw)
    mw.shutdown()
    assert any("leak" in r.getMessage() for r in caplog.records)


def test_A2W_LIFE_06_shutdown_timeout(
    make: Callable[..., ASGIToWSGI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sgibridge")

    async def hang(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await LifespanApp()(scope, receive, send)
            return
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await anyio.sleep(30)  # never answers shutdown; cancelled when the loop stops

    mw = make(hang, shutdown_timeout=0.05)
    get(mw)
    mw.shutdown()
    assert any("shutdown_timeout" in r.getMessage() for r in caplog.records)


def test_A2W_LIFE_06_shutdown_before_any_request(
    make: Callable[..., ASGIToWSGI],
) -> None:
    app = LifespanApp()
    mw = make(app)
    mw.shutdown()
    assert app.events == []
    assert get(mw)[0] == "503 Service Unavailable"


@pytest.mark.parametrize(
    ("on_startup", "expect_status"),
    [
        (
            [
                {"type": "lifespan.startup.complete"},
                {"type": "lifespan.startup.complete"},
            ],
            "200 OK",
        ),
        ([{"type": "lifespan.shutdown.complete"}], "500 Internal Server Error"),
        ([{"type": "lifespan.bogus"}], "500 Internal Server Error"),
    ],
)
def test_A2W_LIFE_07_out_of_order_is_an_error(
    make: Callable[..., ASGIToWSGI],
    caplog: pytest.LogCaptureFixture,
    on_startup: list[Message],
    expect_status: str,
) -> None:
    caplog.set_level(logging.ERROR, logger="sgibridge")
    app = LifespanApp(on_startup=on_startup)
    mw = make(app, lifespan="on")
    assert get(mw)[0] == expect_status
    assert len(app.errors) == 1 and "A2W-LIFE-07" in str(app.errors[0])
    assert any("A2W-LIFE-07" in r.getMessage() for r in caplog.records)


def blind_app(read_first: bool) -> Any:
    """An app that never looks at ``scope["type"]``: it answers every scope,
    the lifespan scope too, as if it were a request."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if read_first:
            await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"blind"})

    return app


@pytest.mark.parametrize("read_first", [False, True], ids=["sends", "receives-sends"])
def test_A2W_LIFE_08_app_without_lifespan_serves_under_auto(
    make: Callable[..., ASGIToWSGI],
    caplog: pytest.LogCaptureFixture,
    read_first: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="sgibridge")
    mw = make(blind_app(read_first), lifespan="auto")
    assert get(mw) == ("200 OK", b"blind")
    assert get(mw) == ("200 OK", b"blind")
    assert any(
        r.levelno == logging.INFO
        and "A2W-LIFE-08" in r.getMessage()
        and "see docs/behaviour.md#a2w-life-08" in r.getMessage()
        for r in caplog.records
    )
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


def test_A2W_LIFE_08_starlette_response_as_the_app(
    make: Callable[..., ASGIToWSGI],
) -> None:
    from starlette.responses import PlainTextResponse

    assert get(make(PlainTextResponse("plain"))) == ("200 OK", b"plain")


def test_A2W_LIFE_08_app_without_lifespan_fails_startup_under_on(
    make: Callable[..., ASGIToWSGI],
) -> None:
    assert get(make(blind_app(False), lifespan="on"))[0] == "500 Internal Server Error"
