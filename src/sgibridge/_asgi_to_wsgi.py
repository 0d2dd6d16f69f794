"""ASGIToWSGI: a PEP 3333 WSGI application that runs an ASGI application.

Theory of operation (DESIGN §3, CONFORMANCE §3)
===============================================

The loop. Each middleware owns one event loop per process (A2W-LOOP-01),
started lazily by the first call and started again when ``os.getpid()``
changed, so a server that forks after import (gunicorn ``--preload``) never
uses its parent's dead loop thread or a lock its parent held (A2W-LOOP-02).
:class:`~._loop.LoopRunner` runs it in a daemon thread (A2W-LOOP-03): asyncio (uvloop
when importable) with ``run_until_complete`` on a coroutine that waits for the
stop signal, or ``trio.run`` with one nursery. Work is submitted with the
cheapest cross-thread call each backend has, ``loop.call_soon_threadsafe`` or
the trio token's ``run_sync_soon``, not a blocking portal: a portal costs a
second round trip per request. A loop the caller already runs (a2wsgi's
``loop=`` keyword) is used instead of starting one, and is never stopped.

One request, on the WSGI server's thread T:

1. ``environ`` becomes ``scope`` in :mod:`._translate`; a bad
   ``CONTENT_LENGTH`` is answered with E400 there and the app is not called
   (A2W-RECV-02).
2. A body of known length up to ``chunk_size`` is read on T now, unless the
   request says ``Expect: 100-continue`` (A2W-RECV-04): the first
   ``receive()`` returns it with no hand-off. Otherwise each ``receive()``
   posts a *job* through the response pipe that T runs while it waits: read
   at most ``chunk_size`` bytes of ``wsgi.input`` on T (A2W-RECV-03/05) and
   resolve a :class:`~._body.Waiter` with the message. A short body or an
   ``OSError`` becomes ``http.disconnect`` (A2W-RECV-06).
3. The app runs as one task on the loop. Its ``send()`` validates
   ``http.response.start`` on the loop (A2W-SEND-02) and posts
   ``start_response`` as a job, so it runs on T (A2W-SEND-03); ``send()``
   waits for that job, so an exception from ``start_response`` is raised
   into the app from that very ``send()`` (A2W-ERR-05). Body bytes go into
   the :class:`~._body.LoopToThread` pipe, and ``send()`` returns at once
   unless more than the high watermark is unread (A2W-SEND-06). The final
   body closes the pipe; a body short of the declared ``content-length``
   fails it instead (A2W-SEND-11).
4. T takes from the pipe until the first bytes, the end, or a failure.
   A failure before any byte was yielded becomes E500 through
   ``start_response(..., exc_info)`` (A2W-ERR-01/03/04). A response that is
   already complete returns as a one-element list (with a ``close()``); a
   streaming one returns :class:`_Stream`, whose ``__next__`` takes from the
   pipe, so chunks are yielded as soon as they arrive and joined only when
   several arrived while the server was writing.
5. ``close()`` on the result: if the body did not reach its end, the server
   gave up (A2W-ERR-06), so the pipe is aborted (the app's next ``send()``
   raises :class:`~sgibridge.ClientDisconnected`) and pending or later
   ``receive()`` calls get ``http.disconnect``. Either way ``close()`` waits
   up to ``close_timeout`` for the task, then cancels it (A2W-ERR-07); a
   cancellation is never seen as ``CancelledError`` on T.

After the body, ``receive()`` blocks until the response is complete or the
iterable was closed, then returns ``http.disconnect`` for ever
(A2W-RECV-07/08). Every way the task can end (return, raise, cancellation)
reaches T through the pipe and a per-request lock, so T never hangs.

Lifespan (CONFORMANCE §3.7) is :class:`~._lifespan.LifespanClient`: it runs
once per loop before the first request; ``shutdown()`` (alias ``close()``,
the context manager, and an ``atexit`` hook) sends ``lifespan.shutdown`` and
stops the loop; later requests get E503.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from functools import partial
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from asgiref import compatibility
from typing_extensions import Self

from ._body import DEFAULT_HIGH_WATER, LoopToThread, Waiter
from ._exceptions import ASGIProtocolError, ClientDisconnected, SGIBridgeError
from ._lifespan import LifespanClient
from ._loop import CANCEL_GRACE, LoopRunner
from ._rules import see
from ._translate import (
    RequestRejected,
    asgi_response_headers,
    canned_wsgi,
    environ_to_scope,
    request_body_length,
    status_line,
)

if TYPE_CHECKING:
    from ._types import Environ, StartResponse

__all__ = ("ASGIToWSGI",)

logger = logging.getLogger("sgibridge")

Message = dict[str, Any]
ASGIApp = Callable[..., Any]

#: A2W-APP-02: asgiref's detection, in the order the spec lists.
_is_double_callable = cast("Callable[[object], bool]", compatibility.is_double_callable)


#: A2W-EXT-05: extension messages a WSGI server cannot carry; dropped, not an error.
_DROPPED_TYPES = frozenset({"http.response.push", "http.response.debug"})

_BODY_TYPES = frozenset(
    {
        "http.response.start",
        "http.response.body",
        "http.response.pathsend",
        "http.response.trailers",
        "http.response.early_hint",
    }
)


class _AppCancelled(SGIBridgeError):
    """The app task was cancelled (close_timeout or shutdown); stands in for
    ``CancelledError`` so that it never reaches a WSGI thread (A2W-ERR-07)."""


class _IncompleteResponse(ASGIProtocolError):
    """The app ended without a full response (A2W-ERR-03/04, A2W-SEND-11)."""


class _Runtime:
    """What one process holds for one middleware: its loop and lifespan."""

    __slots__ = ("failed", "lifespan", "pid", "ready", "runner", "state")

    def __init__(self, pid: int, runner: LoopRunner) -> None:
        self.pid = pid
        self.runner = runner
        self.lifespan: LifespanClient | None = None
        self.ready = False
        self.failed = False
        self.state: dict[str, Any] = {}


_process_locks: dict[int, threading.Lock] = {}


def _process_lock(pid: int) -> threading.Lock:
    """A lock made in this process: a child never uses one its parent held."""
    lock = _process_locks.get(pid)
    if lock is None:
        lock = _process_locks.setdefault(pid, threading.Lock())
    return lock


# --------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------


class ASGIToWSGI:
    """A WSGI application that runs an ASGI application on an event loop.

    :param app: the ASGI application, single- or double-callable
        (CONFORMANCE A2W-APP-02).
    :param wait_time: a2wsgi's name for ``close_timeout``; accepted so that
        ``from sgibridge import ASGIMiddleware`` is a drop-in switch.
    :param loop: a running asyncio loop (in another thread) to use instead of
        starting one, as a2wsgi accepts. It is never stopped by
        :meth:`shutdown`. After a fork it is dead, so a new loop is started.
    :param lifespan: ``"auto"`` runs the lifespan protocol and carries on
        without it if the app does not support it; ``"on"`` requires it;
        ``"off"`` never sends a lifespan scope (A2W-LIFE-01..05).
    :param asgi_version: ``"2.0"`` or ``"3.0"`` to skip the detection of the
        app style; ``None`` detects it.
    :param chunk_size: the most bytes of ``wsgi.input`` one ``receive()``
        returns, and the block size of a path-sent file.
    :param close_timeout: seconds the result's ``close()`` waits for the app
        once the response is over or the server gave up on it, before the
        task is cancelled; ``None`` waits until it returns.
    :param startup_timeout: seconds requests wait for lifespan startup; past
        it, startup counts as failed (requests get 500 and the reason is
        logged) and the lifespan task is cancelled. ``None`` waits for ever.
    :param shutdown_timeout: seconds :meth:`shutdown` waits for the app to
        answer ``lifespan.shutdown``.
    :param backend: ``"asyncio"`` (uvloop when installed) or ``"trio"``.
    :param backend_options: ``{"use_uvloop": False}`` uses the stock asyncio
        loop even when uvloop is installed.
    """

    def __init__(
        self,
        app: ASGIApp,
        wait_time: float | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        lifespan: Literal["auto", "on", "off"] = "auto",
        asgi_version: Literal["2.0", "3.0"] | None = None,
        chunk_size: int = 65536,
        close_timeout: float | None = None,
        startup_timeout: float | None = 60.0,
        shutdown_timeout: float = 30.0,
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        from ._detect import refuse_wsgi_for_asgi_adapter

        refuse_wsgi_for_asgi_adapter(app)
        if wait_time is not None:
            if close_timeout is not None and close_timeout != wait_time:
                raise ValueError(
                    f"wait_time is a2wsgi's name for close_timeout; got both, "
                    f"wait_time={wait_time!r} and close_timeout={close_timeout!r}"
                )
            close_timeout = wait_time
        for name, value, allowed in (
            ("lifespan", lifespan, ("auto", "on", "off")),
            ("asgi_version", asgi_version, (None, "2.0", "3.0")),
            ("backend", backend, ("asyncio", "trio")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed!r}, got {value!r}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(
                f"chunk_size must be an int of at least 1, got {chunk_size!r}"
            )
        if close_timeout is not None and not close_timeout >= 0:
            raise ValueError(
                f"close_timeout must be >= 0 or None, got {close_timeout!r}"
            )
        if startup_timeout is not None and not startup_timeout >= 0:
            raise ValueError(
                f"startup_timeout must be >= 0 or None, got {startup_timeout!r}"
            )
        if not shutdown_timeout >= 0:
            raise ValueError(f"shutdown_timeout must be >= 0, got {shutdown_timeout!r}")
        if loop is not None and backend != "asyncio":
            raise ValueError(f"loop= needs backend='asyncio', got backend={backend!r}")
        options = dict(backend_options or {})
        use_uvloop = bool(options.pop("use_uvloop", True))
        if options:
            raise ValueError(f"unknown backend_options: {sorted(options)!r}")
        self.app = app
        self.lifespan = lifespan
        self.chunk_size = chunk_size
        self.close_timeout = close_timeout
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.backend = backend
        if asgi_version is None:  # A2W-APP-02, in asgiref's order
            self._double = _is_double_callable(app)
        else:
            self._double = asgi_version == "2.0"
        #: ``scope["asgi"]["version"]`` (A2W-APP-03).
        self.asgi_version = "2.0" if self._double else "3.0"
        self._use_uvloop = use_uvloop
        self._loop = loop
        self._loop_pid = os.getpid()
        self._rt: _Runtime | None = None
        self._closed = False
        self._atexit_pid = 0
        self._high_water = max(DEFAULT_HIGH_WATER, chunk_size)
        #: Extension message types already logged as dropped (A2W-EXT-05).
        self._dropped: set[str] = set()

    # -- WSGI ------------------------------------------------------------

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve one request (PEP 3333; CONFORMANCE A2W-APP-01)."""
        rt = self._rt
        if rt is None or not rt.ready or rt.pid != os.getpid():
            rt = self._runtime()
            if rt is None:
                return _canned(start_response, 503)
        if rt.failed:
            logger.debug("A2W-LIFE-04: lifespan startup failed; answering E500")
            return _canned(start_response, 500)
        try:
            length = request_body_length(environ)
            scope = environ_to_scope(
                environ, asgi_version=self.asgi_version, state=rt.state
            )
        except RequestRejected as exc:
            logger.info("request rejected with %d: %s", exc.status, exc.reason)
            return _canned(start_response, exc.status)
        try:
            return self._serve(rt, environ, start_response, scope, length)
        except Exception as exc:  # a bug here must not become the server's own 500
            logger.exception("sgibridge failed to serve the request")
            line, headers, body = canned_wsgi(500)
            start_response(line, headers, _exc_info(exc))
            return [body]

    def _serve(
        self,
        rt: _Runtime,
        environ: Environ,
        start_response: StartResponse,
        scope: dict[str, Any],
        length: int | None,
    ) -> Iterable[bytes]:
        request = _Request(self, rt.runner, environ, start_response, scope)
        stream = environ.get("wsgi.input")
        if stream is None:
            length = 0  # A2W-RECV-01: a missing input is an empty body
        if length == 0:
            request.pending = {"type": "http.request", "body": b"", "more_body": False}
        else:
            request.input = stream
            request.remaining = length
            if (
                length is not None
                and length <= self.chunk_size
                and environ.get("HTTP_EXPECT", "").lower() != "100-continue"
            ):
                request.pending = request.read_body()  # A2W-RECV-04, on T
        if not rt.runner.spawn(request):
            return _canned(start_response, 503)
        return request.respond()

    # -- the loop and lifespan -------------------------------------------

    def _runtime(self) -> _Runtime | None:
        """This process's runtime, started on first use (A2W-LOOP-02) and
        past lifespan startup (A2W-LIFE-02); ``None`` after shutdown."""
        pid = os.getpid()
        with _process_lock(pid):
            if self._closed:
                return None
            rt = self._rt
            if rt is None or rt.pid != pid:
                rt = self._rt = self._start(pid)
        if not rt.ready:
            lifespan = rt.lifespan
            assert lifespan is not None
            timeout = self.startup_timeout
            if not lifespan.started.wait(timeout):
                assert timeout is not None
                rt.runner.call_soon(partial(lifespan.time_out, timeout))
                if not lifespan.started.wait(CANCEL_GRACE):  # pragma: no cover
                    lifespan.outcome = "failed"  # an app that ignores cancellation
            if lifespan.outcome == "complete":
                rt.state = lifespan.state
            rt.failed = lifespan.outcome == "failed"
            rt.ready = True
        if self._closed:  # shut down while this thread waited for startup
            return None
        return rt

    def _start(self, pid: int) -> _Runtime:
        loop = self._loop
        if loop is not None and pid != self._loop_pid:
            logger.warning(
                "A2W-LOOP-02: the process forked after loop= was given; that loop "
                "runs in the parent, so this process (pid %d) starts its own",
                pid,
            )
            loop = None
        runner = LoopRunner(self.backend, self._use_uvloop, loop)
        runner.start()
        rt = _Runtime(pid, runner)
        if self.lifespan == "off":
            rt.ready = True
        else:
            rt.lifespan = LifespanClient(
                self._call_app, asgi_version=self.asgi_version, mode=self.lifespan
            )
            runner.spawn(rt.lifespan)
        if self._atexit_pid != pid:
            self._atexit_pid = pid
            atexit.register(self.shutdown)
        return rt

    async def _call_app(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if self._double:  # A2W-APP-03: app(scope) runs synchronously on the loop
            await self.app(scope)(receive, send)
        else:
            await self.app(scope, receive, send)

    def shutdown(self) -> None:
        """Send ``lifespan.shutdown``, wait up to ``shutdown_timeout`` for the
        answer, cancel what still runs and stop the loop (A2W-LIFE-06).

        Later requests get E503; calling it again does nothing. It also runs
        from an ``atexit`` hook.
        """
        pid = os.getpid()
        with _process_lock(pid):
            if self._closed:
                return
            self._closed = True
            rt, self._rt = self._rt, None
        atexit.unregister(self.shutdown)
        if rt is None or rt.pid != pid:
            return
        if rt.lifespan is not None:
            rt.lifespan.shutdown(self.shutdown_timeout)
        rt.runner.stop()

    #: The same as :meth:`shutdown`.
    close = shutdown

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def _canned(start_response: StartResponse, status: int) -> list[bytes]:
    line, headers, body = canned_wsgi(status)
    start_response(line, headers)
    return [body]


# --------------------------------------------------------------------------
# One request
# --------------------------------------------------------------------------


class _Request:
    """One request: its loop side (``run``, ``receive``, ``send``,
    ``finish``) and its thread side (``respond``, ``close``, the jobs)."""

    __slots__ = (
        "_end_waiter",
        "_pending",
        "app",
        "body_done",
        "body_sent",
        "bridge",
        "canceller",
        "chunk_size",
        "close_timeout",
        "closed_early",
        "disconnected",
        "done",
        "done_lock",
        "double",
        "dropped",
        "ended",
        "environ",
        "eof",
        "head",
        "headers",
        "input",
        "input_broken",
        "keep_body",
        "late_error",
        "limit",
        "out",
        "path",
        "pending",
        "remaining",
        "runner",
        "scope",
        "sent",
        "start_error",
        "start_response",
        "started",
        "status",
        "warned",
    )

    def __init__(
        self,
        mw: ASGIToWSGI,
        runner: LoopRunner,
        environ: Environ,
        start_response: StartResponse,
        scope: dict[str, Any],
    ) -> None:
        assert runner.bridge is not None
        self.app = mw.app
        self.double = mw._double
        self.chunk_size = mw.chunk_size
        self.close_timeout = mw.close_timeout
        self.dropped = mw._dropped
        self.runner = runner
        self.bridge = runner.bridge
        self.environ = environ
        self.start_response = start_response
        self.scope = scope
        self.out = LoopToThread(runner.bridge, mw._high_water)
        self.done_lock = threading.Lock()
        self.done_lock.acquire()
        self.canceller: Callable[[], object] | None = None
        self.head = scope["method"] == "HEAD"
        # request body
        self.input: IO[bytes] | None = None
        self.remaining: int | None = 0
        self.pending: Message | None = None
        self.body_done = False
        self.input_broken = False
        # response state, written on the loop
        self.started = False
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.ended = False
        self.body_sent = False
        self.keep_body = True
        self.limit: int | None = None
        self.sent = 0
        self.warned = False
        self.path: str | None = None
        self.disconnected = False
        self.done = False
        self._pending: dict[Waiter[Any], object] | None = None
        self._end_waiter: Waiter[None] | None = None
        # thread state
        self.eof = False
        self.closed_early = False
        self.start_error: BaseException | None = None
        self.late_error: BaseException | None = None

    # -- loop side -------------------------------------------------------

    async def run(self) -> None:
        if self.double:
            await self.app(self.scope)(self.receive, self.send)
        else:
            await self.app(self.scope, self.receive, self.send)

    def finish(self, exc: BaseException | None) -> None:
        """The app task ended; tell T, whatever happened."""
        self.canceller = None
        if exc is not None and not isinstance(exc, Exception):
            exc = _AppCancelled(
                "A2W-ERR-07: the ASGI app was cancelled (close_timeout or shutdown)"
            )
        if self.ended or self.closed_early:
            gone = self.disconnected or self.closed_early
            if isinstance(exc, (ClientDisconnected, _AppCancelled)):
                logger.debug("the ASGI app ended after the response: %r", exc)
            elif exc is not None and gone and _after_disconnect(exc):
                # A2W-ERR-06: the app turned the ClientDisconnected from send() into
                # its own error (Starlette raises ClientDisconnect): a routine
                # disconnect, not an app failure worth a traceback.
                logger.info("the ASGI app raised %r after the client disconnected", exc)
            elif exc is not None and not gone:
                # A2W-ERR-08: re-raised from the result's close(), so WSGI
                # middleware outside (an error reporter, a test client) sees it,
                # as WSGIToASGI re-raises in the same situation (W2A-ERR-03).
                logger.error(
                    "the ASGI app raised after its response was complete",
                    exc_info=exc,
                )
                self.late_error = exc
            elif exc is not None:
                logger.error(
                    "the ASGI app raised after the WSGI server closed the response",
                    exc_info=exc,
                )
            if exc is not None and self.late_error is None:
                # Logged and never raised again. An app that re-raises the
                # ClientDisconnected it was given from a helper holds it in a
                # frame of its own traceback, a cycle that would keep the app's
                # frames (and an async generator they iterate) alive until the
                # cyclic GC runs; under gunicorn, until the worker exits.
                _drop_tracebacks(exc)
        elif exc is None:
            if not self.started:
                error: BaseException = _IncompleteResponse(
                    "A2W-ERR-03: the ASGI app returned without sending 'http.response.start'"
                )
            else:
                error = _IncompleteResponse(
                    "A2W-ERR-04: the ASGI app returned before the final "
                    "'http.response.body' (more_body=False)"
                )
            self.out.fail(error)
        else:
            self.out.fail(exc)
        self.ended = True
        self._wake_ended()
        self.done = True
        self.done_lock.release()

    def cancel(self) -> None:
        """On the loop: cancel the task (close_timeout expired)."""
        if self.canceller is not None:
            self.canceller()

    def closed_on_loop(self) -> None:
        """On the loop: the WSGI server closed the iterable early (A2W-ERR-06)."""
        self.disconnected = True
        pending = self._pending
        if pending:
            for waiter, value in list(pending.items()):
                waiter.set(value)
        self._wake_ended()

    def _wake_ended(self) -> None:
        waiter = self._end_waiter
        if waiter is not None:
            self._end_waiter = None
            waiter.set(None)

    async def _on_thread(self, job: Callable[[], object], on_close: object) -> Any:
        """Run ``job`` on T and return its result; ``on_close`` if T gave up."""
        waiter: Waiter[Any] = self.bridge.waiter()
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
        pending[waiter] = on_close
        try:
            self.out.call(partial(_run_job, job, waiter))
            return await waiter.wait()
        finally:
            del pending[waiter]

    async def receive(self) -> Message:
        """ASGI ``receive`` (CONFORMANCE §3.3)."""
        if self.disconnected:
            return {"type": "http.disconnect"}
        pending = self.pending
        if pending is not None:
            self.pending = None
            if pending["type"] == "http.disconnect":
                self.disconnected = True
            elif not pending["more_body"]:
                self.body_done = True
            return pending
        if not self.body_done and not self.ended:
            try:
                message: Message = await self._on_thread(
                    self.read_body, {"type": "http.disconnect"}
                )
            except ClientDisconnected:
                message = {"type": "http.disconnect"}
            if message["type"] == "http.disconnect":
                self.disconnected = True
            elif not message["more_body"]:
                self.body_done = True
            return message
        # A2W-RECV-07: the body is complete; wait for the end of the response.
        if not self.ended and not self.disconnected:
            waiter = self._end_waiter
            if waiter is None:
                waiter = self._end_waiter = self.bridge.waiter()
            await waiter.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        """ASGI ``send`` (CONFORMANCE §3.4, §3.5)."""
        kind = message.get("type")
        if kind not in _BODY_TYPES:
            if kind in _DROPPED_TYPES:
                self._drop(kind)  # A2W-EXT-05
                return
            if isinstance(kind, str) and kind.startswith("websocket."):
                raise ASGIProtocolError(
                    f"A2W-EXT-05: message type {kind!r} has no meaning on an 'http' "
                    f"scope ({see('A2W-EXT-05')})"
                )
            raise ASGIProtocolError(
                f"A2W-SEND-09: unknown ASGI message type {kind!r} on an 'http' scope "
                f"({see('A2W-SEND-09')})"
            )
        if kind == "http.response.trailers":  # A2W-EXT-04: accepted and dropped
            if not self.started:
                raise ASGIProtocolError(
                    "A2W-SEND-01: the first message must be 'http.response.start', "
                    "got 'http.response.trailers'"
                )
            return
        if self.disconnected:
            if self.start_error is not None:
                raise self.start_error  # A2W-ERR-05
            raise ClientDisconnected(
                f"A2W-SEND-08: the client disconnected; cannot send {kind!r}"
            )
        if kind == "http.response.body":
            await self._body(message)
        elif kind == "http.response.start":
            await self._start(message)
        elif not self.started:
            raise ASGIProtocolError(
                f"A2W-SEND-01: the first message must be 'http.response.start', got {kind!r}"
            )
        elif kind == "http.response.pathsend":
            self._pathsend(message)
        else:
            await self._early_hint(message)

    async def _start(self, message: Message) -> None:
        if self.started:
            if self.ended:
                return  # A2W-SEND-08
            raise ASGIProtocolError(
                "A2W-SEND-05: 'http.response.start' was sent a second time"
            )
        status = status_line(message.get("status"))
        headers, length = asgi_response_headers(message.get("headers", ()))
        self.started = True
        code = message["status"]
        self.keep_body = not (self.head or code == 204 or code == 304)  # A2W-SEND-10
        self.limit = length if self.keep_body else None
        # start_response runs on T once, when the first body bytes or the end
        # are known (A2W-SEND-03), so a failure before then is a clean E500
        # with one set of headers. send() does not wait for it: a round trip
        # to T and back would cost every request a second hand-off, for an
        # error that the checks above already rule out for every header a
        # PEP 3333 server rejects. Should the server raise anyway, the client
        # gets E500 and the app's next send() raises the server's error
        # (A2W-ERR-05).
        self.status = status
        self.headers = headers

    async def _body(self, message: Message) -> None:
        if not self.started:
            raise ASGIProtocolError(
                "A2W-SEND-01: the first message must be 'http.response.start', "
                "got 'http.response.body'"
            )
        if self.path is not None:
            raise ASGIProtocolError(
                "A2W-EXT-01: 'http.response.body' after 'http.response.pathsend'"
            )
        if self.ended:
            return  # A2W-SEND-08
        body = message.get("body", b"")
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise ASGIProtocolError(
                    f"A2W-SEND-06: 'body' must be bytes, bytearray or memoryview, got "
                    f"{type(body).__name__} ({see('A2W-SEND-06')})"
                )
            # Liberal in what the app hands us, as Uvicorn and Starlette's
            # TestClient are: a copy, so the app may reuse its buffer.
            body = bytes(body)
        self.body_sent = True
        more = message.get("more_body", False)
        if not more:
            self.ended = True  # before the last put: T relies on the order
        if body and self.keep_body:
            limit = self.limit
            if limit is not None:
                room = limit - self.sent
                if len(body) > room:  # A2W-SEND-11
                    body = body[:room]
                    if not self.warned:
                        self.warned = True
                        logger.warning(
                            "A2W-SEND-11: the ASGI app sent more than its content-length "
                            "%d; the body was cut",
                            limit,
                        )
            if body:
                self.sent += len(body)
                self.out.put(body)
                if more:
                    await self.out.drain()
        if not more:
            self._complete()

    def _pathsend(self, message: Message) -> None:
        if self.path is not None or self.body_sent:
            raise ASGIProtocolError(
                "A2W-EXT-01: 'http.response.pathsend' must be the only body message"
            )
        if self.ended:  # pragma: no cover - ended implies a body or a pathsend
            return
        path = message.get("path")
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise ASGIProtocolError(
                f"A2W-EXT-01: 'path' must be a str path, got {path!r} "
                f"({see('A2W-EXT-01')})"
            )
        # A relative path (Starlette's FileResponse("image.png")) means the
        # process's working directory, as it does to open().
        self.path = os.path.abspath(path)
        self.ended = True
        self._complete()

    def _drop(self, kind: str) -> None:
        """Drop an extension message the WSGI side cannot carry (A2W-EXT-05);
        logged at DEBUG once per message type and middleware."""
        dropped = self.dropped
        if kind not in dropped:
            dropped.add(kind)
            logger.debug(
                "A2W-EXT-05: %r cannot be carried by a WSGI server; dropped (%s)",
                kind,
                see("A2W-EXT-05"),
            )

    async def _early_hint(self, message: Message) -> None:
        hints = self.environ.get("wsgi.early_hints")
        if not callable(hints):
            # A2W-EXT-02: not advertised, so there is nowhere to send it. Hints
            # are advice: dropping them changes nothing the client relies on.
            self._drop("http.response.early_hint")
            return
        if self.ended:
            return  # A2W-SEND-08
        links = message.get("links", ())
        if not all(isinstance(link, bytes) for link in links):
            raise ASGIProtocolError(
                f"A2W-EXT-02: 'links' must be a list of bytes, got {links!r}"
            )
        headers = [("Link", link.decode("latin-1")) for link in links]
        error = await self._on_thread(
            partial(_call_hints, hints, headers),
            ClientDisconnected("A2W-ERR-06: the WSGI server closed the response"),
        )
        if error is not None:
            raise error

    def _complete(self) -> None:
        """The final body message was sent (A2W-SEND-07)."""
        limit = self.limit
        if limit is not None and self.path is None and self.sent < limit:
            self.out.fail(
                _IncompleteResponse(
                    f"A2W-SEND-11: the ASGI app declared content-length {limit} but "
                    f"sent {self.sent} bytes"
                )
            )
        else:
            self.out.close()
        self._wake_ended()

    # -- thread side: jobs -----------------------------------------------

    def read_body(self) -> Message:
        """Read the next body message from ``wsgi.input``, on T (A2W-RECV-01..06)."""
        stream = self.input
        remaining = self.remaining
        assert stream is not None
        if self.input_broken:  # A2W-RECV-06: what arrived was delivered already
            self.disconnected = True
            return {"type": "http.disconnect"}
        size = self.chunk_size if remaining is None else min(remaining, self.chunk_size)
        parts: list[bytes] = []
        try:
            if remaining is None:
                data = stream.read(size)
            else:
                data = _read_exact(stream, size, parts)
        except Exception as exc:  # OSError, or whatever the server raises
            logger.info("A2W-RECV-06: reading wsgi.input failed: %r", exc)
            data = b"".join(parts)
            if not data:
                self.disconnected = True
                return {"type": "http.disconnect"}
            self.input_broken = True
            return {"type": "http.request", "body": data, "more_body": True}
        if type(data) is not bytes:
            data = bytes(data)
        if remaining is None:
            return {"type": "http.request", "body": data, "more_body": bool(data)}
        if len(data) < size:
            logger.info(
                "A2W-RECV-06: wsgi.input ended %d bytes before CONTENT_LENGTH",
                remaining - len(data),
            )
            if not data:
                self.disconnected = True
                return {"type": "http.disconnect"}
            # Deliver what arrived; the next receive() is the disconnect.
            self.input_broken = True
            return {"type": "http.request", "body": data, "more_body": True}
        remaining -= size
        self.remaining = remaining
        return {"type": "http.request", "body": data, "more_body": remaining > 0}

    def _begin(self) -> BaseException | None:
        """Call ``start_response``, once, now that the first body bytes or the
        end are known (A2W-SEND-03); the server's error, if it raised."""
        try:
            self.start_response(self.status, self.headers)
        except Exception as exc:  # A2W-ERR-05: raised into the app by its next send()
            self.start_error = exc
            return exc
        return None

    # -- thread side: the response ---------------------------------------

    def respond(self) -> Iterable[bytes]:
        """Wait for the first bytes, the end or a failure (A2W-SEND-03/06)."""
        out = self.out
        chunks: list[bytes] = []
        try:
            first = out.take()
            if self.ended or not first:
                # Complete: the rest comes without any await in between.
                while first:
                    chunks.append(first)
                    first = out.take()
                self.eof = True
        except Exception as exc:
            return self._fail(exc)
        if self.path is not None and self.keep_body:
            return self._file_response(self.path)
        error = self._begin()
        if error is not None:
            return self._fail(error)
        if not self.eof:
            return _Stream(self, first)
        return _Body(chunks, self)

    def _fail(self, exc: BaseException) -> _Body:
        """The app failed before any byte was yielded: E500 (A2W-ERR-01/03/04)."""
        self.eof = True
        if isinstance(exc, ClientDisconnected) and self.disconnected:
            logger.info("the ASGI app stopped after the client disconnected: %r", exc)
        elif isinstance(exc, _IncompleteResponse):
            logger.error("%s", exc)
        else:
            logger.error(
                "A2W-ERR-01: the ASGI app raised before the response body was sent",
                exc_info=exc,
            )
        self.closed_early = True
        # An app that still runs (it is past a send() whose bytes T never
        # took) stops at its next send(): the server's error or a disconnect.
        self.out.abort(
            self.start_error
            or ClientDisconnected(
                "A2W-ERR-01: the response failed before its first byte"
            )
        )
        self.runner.call_soon(self.closed_on_loop)
        line, headers, body = canned_wsgi(500)
        self.start_response(line, headers, _exc_info(exc))
        return _Body([body], self)

    def _file_response(self, path: str) -> Iterable[bytes]:
        """``http.response.pathsend``: the file is opened and read on T (A2W-EXT-01)."""
        try:
            file = open(path, "rb")  # noqa: SIM115 - the result's close() closes it
        except OSError as exc:
            return self._fail(exc)
        error = self._begin()
        if error is not None:
            file.close()
            return self._fail(error)
        limit = self.limit
        wrapper = self.environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            try:
                size: int | None = os.fstat(file.fileno()).st_size
            except (OSError, ValueError):  # pragma: no cover - not a real file
                size = None
            if limit is None or limit == size:
                # The server may sendfile() it; close() closes it and ends the request.
                result: Iterable[bytes] = wrapper(
                    _PathFile(file, self), self.chunk_size
                )
                return result
        return _FileStream(self, file)

    def close(self) -> None:
        """The result's ``close()`` (A2W-ERR-06/07)."""
        if not self.eof:
            self.eof = True
            self.closed_early = True
            self.out.abort(
                ClientDisconnected(
                    "A2W-ERR-06: the WSGI server closed the response before its end"
                )
            )
            self.runner.call_soon(self.closed_on_loop)
        self.wait_done()
        error, self.late_error = self.late_error, None
        if error is not None:
            raise error  # A2W-ERR-08: the response itself is complete

    def wait_done(self) -> None:
        """Wait up to ``close_timeout`` for the task, then cancel it (A2W-ERR-07)."""
        if self.done:
            return
        timeout = self.close_timeout
        if self.done_lock.acquire(timeout=-1 if timeout is None else timeout):
            return
        logger.warning(
            "A2W-ERR-07: the ASGI app still ran %r seconds after its response; cancelling it",
            timeout,
        )
        self.runner.call_soon(self.cancel)
        if not self.done_lock.acquire(timeout=CANCEL_GRACE):
            logger.error("A2W-ERR-07: the ASGI app did not end after it was cancelled")


def _exc_info(
    exc: BaseException,
) -> tuple[type[BaseException], BaseException, TracebackType]:
    """``exc_info`` for ``exc``. Its traceback may already be gone (the loop
    drops the tracebacks of an app's exceptions once they are logged); then
    ``exc`` is raised once here so that the server still gets one."""
    tb = exc.__traceback__
    if tb is None:
        try:
            raise exc
        except BaseException as raised:
            tb = raised.__traceback__
    assert tb is not None
    return type(exc), exc, tb


def _drop_tracebacks(exc: BaseException) -> None:
    """Clear the tracebacks of ``exc`` and of its cause and context chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__


def _after_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling a :class:`ClientDisconnected`
    (its ``__cause__``/``__context__`` chain holds one)."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ClientDisconnected):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _run_job(job: Callable[[], object], waiter: Waiter[Any]) -> None:
    waiter.set_threadsafe(job())


def _call_hints(hints: Callable[..., object], headers: list[tuple[str, str]]) -> object:
    try:
        hints(headers)
    except Exception as exc:
        return exc
    return None


def _read_exact(stream: IO[bytes], size: int, parts: list[bytes]) -> bytes:
    """Read ``size`` bytes unless the stream ends first; never more. The
    blocks read so far are in ``parts`` should a later read raise."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts.append(data[:size])
    got = len(parts[0])
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more[: size - got])
        got += len(parts[-1])
    return b"".join(parts)


class _Body(list[bytes]):
    """A complete response: a list (so servers see its length) with the
    ``close()`` that bounds the app's work after the response (A2W-ERR-07)."""

    __slots__ = ("_request",)

    def __init__(self, chunks: list[bytes], request: _Request) -> None:
        super().__init__(chunks)
        self._request: _Request | None = request

    def close(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            request.close()


class _Stream:
    """A streaming response: yields chunks as the app sends them."""

    __slots__ = ("_first", "_request")

    def __init__(self, request: _Request, first: bytes) -> None:
        self._request = request
        self._first: bytes | None = first

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        first = self._first
        if first is not None:
            self._first = None
            return first
        request = self._request
        if request.eof:
            raise StopIteration
        try:
            data = request.out.take()
        except BaseException:
            request.eof = True
            raise  # A2W-ERR-02, A2W-SEND-11: the server aborts the connection
        if not data:
            request.eof = True
            raise StopIteration
        return data

    def close(self) -> None:
        self._request.close()


class _FileStream:
    """A path-sent file read in ``chunk_size`` blocks on T (A2W-EXT-01), cut
    at the declared content-length (A2W-SEND-11)."""

    __slots__ = ("_file", "_left", "_request")

    def __init__(self, request: _Request, file: IO[bytes]) -> None:
        self._request = request
        self._file = file
        self._left = request.limit

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        left = self._left
        size = (
            self._request.chunk_size
            if left is None
            else min(left, self._request.chunk_size)
        )
        data = self._file.read(size) if size else b""
        if not data:
            if left:
                raise ASGIProtocolError(
                    f"A2W-SEND-11: the path-sent file ended {left} bytes before the "
                    f"declared content-length"
                )
            raise StopIteration
        if left is not None:
            self._left = left - len(data)
        return data

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._request.close()


class _PathFile:
    """The path-sent file as handed to ``wsgi.file_wrapper``: a server may
    ``sendfile()`` its descriptor; ``close()`` also ends the request."""

    __slots__ = ("_file", "_request")

    def __init__(self, file: IO[bytes], request: _Request) -> None:
        self._file = file
        self._request = request

    @property
    def name(self) -> str:
        return str(self._file.name)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def fileno(self) -> int:
        return self._file.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._request.close()
