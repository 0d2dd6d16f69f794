"""Shared helpers for the reliability tests: scripted clients for both
adapters, close() counting, and leak checks.

Leak checks never compare global thread counts, which other tests' idle pools
change at any time. They look only at what the adapter under test owns:

- W2A: the worker pool is replaced by one that retires idle threads after
  :data:`IDLE` seconds, and its threads are found by their unique name. An
  idle thread retires; a thread blocked for ever does not, so "the pool is back
  to zero threads" (a bounded wait) proves that nothing is stuck.
- A2W: the ASGI app is wrapped by :class:`Tasks`, which counts running app
  calls; the result's ``close()`` must leave it at zero. ``close_a2w`` stops
  the middleware and checks that no thread started during the test is alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from wsgiref.validate import validator

import anyio
import anyio.lowlevel

from sgibridge import ASGIToWSGI, WSGIToASGI
from sgibridge._workers import WorkerPool

if TYPE_CHECKING:
    from sgibridge._types import Environ, StartResponse

from asgi_client import Exchange, make_scope
from wsgi_client import make_environ

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[..., Iterable[bytes]]

#: Seconds after which a test pool's idle thread retires.
IDLE = 0.05
#: Upper bound on every wait in these tests, in seconds.
LIMIT = 10.0

CANNED: dict[int, bytes] = {
    400: b"Bad Request",
    404: b"Not Found",
    413: b"Payload Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
TEXT_PLAIN = b"text/plain; charset=utf-8"
HEALTH_BODY = b"still serving"


def wait_until(predicate: Callable[[], object], timeout: float = LIMIT) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(0.002)


async def wait_until_async(predicate: Callable[[], object]) -> None:
    """:func:`wait_until` on the event loop (for state set by other threads)."""
    with anyio.fail_after(LIMIT):
        while not predicate():  # noqa: ASYNC110 - set from a thread
            await anyio.sleep(0.002)


# --------------------------------------------------------------------------
# Canned responses (CONFORMANCE §0)
# --------------------------------------------------------------------------


def assert_canned_asgi(exchange: Exchange, status: int) -> None:
    """The exchange is exactly the canned response ``status`` (§0)."""
    body = CANNED[status]
    assert exchange.status == status, exchange.messages
    assert exchange.headers == [
        (b"content-type", TEXT_PLAIN),
        (b"content-length", str(len(body)).encode()),
    ]
    assert exchange.body == body
    assert exchange.finished


def assert_raised_unsent(exchange: Exchange, error: type[BaseException]) -> None:
    """W2A-ERR-01: the app failed before its response started: nothing was
    sent, and the ASGI call raised ``error`` for the server to answer, as it
    answers any ASGI app that raises."""
    assert exchange.messages == [], exchange.messages
    assert isinstance(exchange.error, error), exchange.error


def assert_canned_wsgi(result: WSGIResult, status: int) -> None:
    body = CANNED[status]
    assert result.status == f"{status} {body.decode()}", result
    assert result.headers == [
        ("Content-Type", TEXT_PLAIN.decode()),
        ("Content-Length", str(len(body))),
    ]
    assert result.body == body
    assert result.error is None


def assert_raised_from_call(result: WSGIResult, raised: list[BaseException]) -> None:
    """A2W-ERR-01: the WSGI call raised the app's exception (``raised`` holds
    what WSGI middleware outside saw), with nothing handed to
    ``start_response``: the server answers it as it answers any WSGI app
    that raises."""
    assert result.calls == [], result
    assert result.call_error is not None
    assert raised == [result.call_error]


# --------------------------------------------------------------------------
# W2A: a scripted ASGI server side
# --------------------------------------------------------------------------


def request(body: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


DISCONNECT: Message = {"type": "http.disconnect"}


async def drive(
    app: Any,
    scope: Mapping[str, Any] | None = None,
    script: Iterable[Message] = (request(b""),),
    *,
    gone: anyio.Event | None = None,
    on_send: Callable[[Message], Awaitable[None]] | None = None,
    raise_errors: bool = False,
) -> Exchange:
    """Call an ASGI app once like a server: ``receive()`` returns the
    ``script``, then blocks until ``gone`` is set and returns
    ``http.disconnect``. Exceptions are kept in ``error`` unless
    ``raise_errors`` (used for cancellation)."""
    scope = make_scope() if scope is None else scope
    messages = list(script)
    exchange = Exchange()
    gone = gone if gone is not None else anyio.Event()

    async def receive() -> Message:
        await anyio.lowlevel.checkpoint()
        exchange.received += 1
        if messages:
            return messages.pop(0)
        await gone.wait()
        return dict(DISCONNECT)

    async def send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        exchange.messages.append(message)
        if on_send is not None:
            await on_send(message)

    with anyio.fail_after(LIMIT):
        try:
            await app(scope, receive, send)
        except Exception as exc:
            if raise_errors:
                raise
            exchange.error = exc
    return exchange


async def cancel_when(
    call: Callable[[], Awaitable[object]],
    ready: Callable[[], object],
    release: Callable[[], object] | None = None,
) -> bool:
    """Run ``call()`` and cancel it once ``ready()`` is true (a server giving
    up on the task). If ``release`` is given, the cancelled call must still be
    waiting for its thread; ``release()`` then lets the thread go on, from
    outside the cancelled scope. Returns whether the cancellation was caught.
    """
    scope = anyio.CancelScope()
    done = anyio.Event()

    async def runner() -> None:
        with scope:
            await call()
        done.set()

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner)
            await wait_until_async(ready)
            scope.cancel()
            if release is not None:
                for _ in range(20):
                    await anyio.lowlevel.checkpoint()
                assert not done.is_set(), (
                    "the cancelled call did not wait for its thread"
                )
                release()
    return scope.cancelled_caught


class Tracked:
    """A WSGI iterable that counts ``close()`` calls and can misbehave.

    Each step is ``bytes`` (yielded), an exception (raised), or a callable
    (called, then its result is yielded unless it is ``None``).
    """

    def __init__(
        self,
        steps: Iterable[object],
        close_error: BaseException | None = None,
        close_gate: threading.Event | None = None,
    ) -> None:
        self.steps = list(steps)
        self.close_error = close_error
        #: ``close()`` waits for this event first (a slow cleanup).
        self.close_gate = close_gate
        self.closed = 0
        self.yielded = 0
        self.threads: set[int] = set()

    def __iter__(self) -> Iterator[bytes]:
        self.threads.add(threading.get_ident())
        for step in self.steps:
            if isinstance(step, BaseException):
                raise step
            if callable(step):
                step = step()
                if step is None:
                    continue
            assert isinstance(step, bytes)
            self.yielded += 1
            yield step

    def close(self) -> None:
        self.threads.add(threading.get_ident())
        if self.close_gate is not None:
            assert self.close_gate.wait(LIMIT), "close() was never released"
        self.closed += 1
        if self.close_error is not None:
            raise self.close_error


def with_health(app: WSGIApp) -> WSGIApp:
    """Serve ``/health`` with a fixed answer; everything else goes to ``app``."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/health":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [HEALTH_BODY]
        return app(environ, start_response)

    return wrapped


def w2a(app: WSGIApp, *, workers: int = 2, **kwargs: Any) -> WSGIToASGI:
    """A WSGIToASGI around ``with_health(app)`` whose idle threads retire fast."""
    mw = WSGIToASGI(with_health(app), workers=workers, **kwargs)
    mw._pool = WorkerPool(workers, idle_timeout=IDLE)
    return mw


def pool_threads(mw: WSGIToASGI) -> list[threading.Thread]:
    name = mw._pool._name
    return [t for t in threading.enumerate() if t.name == name]


def _pool_idle(stats: Mapping[str, Any]) -> bool:
    return bool(stats["busy"] == 0 and stats["queued"] == 0)


async def assert_w2a_recovers(mw: WSGIToASGI) -> None:
    """Once the pool is idle, the next request is served, then every worker
    thread retires.

    A response can reach the client before its worker is back in the pool, so
    ``/health`` waits (bounded) until ``stats()`` shows no busy worker and no
    queued request: with ``max_queue`` it would otherwise be refused."""
    await wait_until_async(lambda: _pool_idle(mw.stats()))
    health = await drive(mw, make_scope(path="/health"))
    assert health.error is None, health.error
    assert (health.status, health.body, health.finished) == (200, HEALTH_BODY, True)
    await wait_until_async(lambda: mw._pool.threads == 0 and not pool_threads(mw))


# --------------------------------------------------------------------------
# A2W: a scripted WSGI server side
# --------------------------------------------------------------------------


@dataclass
class WSGIResult:
    """How a WSGI call went, as the server saw it."""

    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: int = 0
    #: The exception that iteration raised (the server aborts the connection).
    error: BaseException | None = None
    #: The exception the WSGI call itself raised (the server answers it with
    #: a 500 of its own; nothing was handed to ``start_response``).
    call_error: BaseException | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)


def serve_wsgi(
    app: Any,
    environ: dict[str, Any],
    *,
    close_after: int | None = None,
    validate: bool = True,
    start_error: BaseException | None = None,
    on_chunk: Callable[[], object] | None = None,
) -> WSGIResult:
    """Call a WSGI app like a server: iterate, then always ``close()``.

    :param close_after: stop after this many chunks, as a server does when the
        client is gone.
    :param start_error: ``start_response`` raises this for a call without
        ``exc_info`` (a server rejecting the headers).
    :param on_chunk: called after each chunk was taken.
    """
    out = WSGIResult()

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        out.calls.append((status, exc_info))
        if start_error is not None and exc_info is None:
            raise start_error
        out.status, out.headers = status, headers
        return lambda data: None

    try:
        result = (validator(app) if validate else app)(environ, start_response)
    except Exception as exc:  # the server answers with its own 500
        out.call_error = exc
        return out
    parts: list[bytes] = []
    try:
        iterator = iter(result)
        while close_after is None or out.chunks < close_after:
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # the server aborts the connection
                out.error = exc
                break
            parts.append(chunk)
            out.chunks += 1
            if on_chunk is not None:
                on_chunk()
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    out.body = b"".join(parts)
    return out


class Tasks:
    """Wraps an ASGI app: serves ``/health`` and counts running app calls."""

    def __init__(self) -> None:
        self.active = 0
        self.calls = 0
        self.outcomes: list[str] = []

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/health":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": HEALTH_BODY})
                return
            self.active += 1
            self.calls += 1
            outcome = "returned"
            try:
                await app(scope, receive, send)
            except BaseException as exc:
                outcome = type(exc).__name__
                raise
            finally:
                self.outcomes.append(outcome)
                self.active -= 1

        return wrapped


def assert_a2w_recovers(mw: ASGIToWSGI, tasks: Tasks) -> None:
    """No app task is left running, and the next request is served."""
    assert tasks.active == 0, "an ASGI app task outlived its response's close()"
    health = serve_wsgi(mw, make_environ(path="/health"))
    assert (health.status, health.body, health.error) == ("200 OK", HEALTH_BODY, None)


def close_a2w(mw: ASGIToWSGI, before: set[threading.Thread]) -> None:
    """Shut the middleware down; no thread started since ``before`` survives."""
    rt = mw._rt
    mw.close()
    if rt is not None and rt.runner._thread is not None:
        rt.runner._thread.join(LIMIT)
    wait_until(lambda: not [t for t in threading.enumerate() if t not in before])
