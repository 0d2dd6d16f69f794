"""ASGIToWSGI: a PEP 3333 WSGI application that runs an ASGI application.

Theory of operation (docs/behaviour.md §3; docs/architecture.md)
================================================================

The loop. Each middleware owns one event loop per process (A2W-LOOP-01),
started lazily by the first call and started again when ``os.getpid()``
changed, so a server that forks after import (gunicorn ``--preload``) never
uses its parent's dead loop thread or a lock its parent held (A2W-LOOP-02).
:class:`~._loop.LoopRunner` runs it in a daemon thread (A2W-LOOP-03): asyncio
(uvloop when importable) or trio. Work is submitted with the cheapest
cross-thread call each backend has, not a blocking portal: a portal costs a
second round trip per request. A loop the caller already runs (a2wsgi's
``loop=`` keyword) is used instead of starting one, and is never stopped.

One request, on the WSGI server's thread T, is a
:class:`~._a2w_request.Request` in three parts, each in its own module:

1. ``environ`` becomes ``scope`` in :mod:`._translate`; a bad
   ``CONTENT_LENGTH`` is answered with E400 there and the app is not called
   (A2W-RECV-02).
2. The request body (:mod:`._a2w_input`): a body of known length up to
   ``chunk_size`` is read on T now, unless the request says ``Expect:
   100-continue`` (A2W-RECV-04); every other block is read on T, one per
   ``receive()``, as a job that T runs while it waits for the response.
3. The response (:mod:`._a2w_response`): ``send()`` validates on the loop and
   puts body bytes into a bounded pipe; T takes from it and calls
   ``start_response`` once, with the first bytes or the end (A2W-SEND-03), so
   the app's exception before then is raised from the WSGI call for the
   server to answer (A2W-ERR-01), any other failure there is a clean E500,
   and one after it an abort (A2W-ERR-02). The iterables the server gets are in
   :mod:`._a2w_result`; their ``close()`` waits up to ``close_timeout`` for
   the app, then cancels it (A2W-ERR-06/07), and re-raises an error the app
   raised after a complete response (A2W-ERR-08).

Each task runs in a copy of the calling thread's ``contextvars`` context
(A2W-LOOP-05); a ``KeyboardInterrupt`` or ``SystemExit`` from the app ends
only its own request (A2W-ERR-08).

With ``eager=True`` (A2W-EAGER-01) T steps the app's coroutine itself first
(:meth:`~._a2w_request.Request.run_here`): an app that answers without
awaiting anything but ``receive()``/``send()`` is served with no hand-off at
all; one that awaits something real moves to the loop at that await. Two
hand-offs cost a small request more CPU than the app and the translation
together (docs/benchmarks/issue14-a2w.md), but code that runs on T before
the first real await has no running event loop, so it is opt-in.

Lifespan (A2W-LIFE) is :class:`~._lifespan.LifespanClient`: it runs once per
loop before the first request; ``shutdown()`` (alias ``close()``, the context
manager, and an ``atexit`` hook) sends ``lifespan.shutdown`` and stops the
loop; later requests get E503.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

from asgiref import compatibility
from typing_extensions import Self

from ._a2w_errors import AppRaised, exc_info_of
from ._a2w_options import checked_options
from ._a2w_request import Request
from ._a2w_stats import Registry
from ._body import DEFAULT_HIGH_WATER
from ._lifespan import LifespanClient
from ._loop import CANCEL_GRACE, LoopRunner
from ._rules import see
from ._translate import (
    RequestRejected,
    canned_wsgi,
    environ_to_scope,
    request_body_length,
)

if TYPE_CHECKING:
    from ._types import Environ, StartResponse

__all__ = ("ASGIToWSGI",)

logger = logging.getLogger("sgibridge")

Message = dict[str, Any]
#: An ASGI 3 app ``(scope, receive, send)`` or an ASGI 2 app ``(scope) -> (receive, send)``.
#: Precise enough that mypy refuses a WSGI app ``(environ, start_response)`` (A2W-APP-04).
ASGIApp: TypeAlias = "Callable[[Any, Any, Any], Awaitable[Any]] | Callable[[Any], Callable[[Any, Any], Awaitable[Any]]]"

#: A2W-APP-02: asgiref's detection, in the order the spec lists.
_is_double_callable = cast("Callable[[object], bool]", compatibility.is_double_callable)


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
        (A2W-APP-02).
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
    :param request_timeout: seconds one call of the app may run; past it the
        app's task is cancelled, logged at WARNING, and the client gets E504,
        or an aborted response when its first bytes already went out
        (A2W-TIME-01). ``None`` (the default) never cancels: a long poll or
        an event stream may legitimately run for ever.
    :param eager: start each request on the WSGI server's thread and move it
        to the loop only when the app first awaits something other than
        ``receive()`` or ``send()`` (A2W-EAGER-01). An app that answers
        without such an await is served with no thread hand-off. Only for
        apps that need no running event loop before that first await: no
        ``anyio``/``sniffio`` calls (Starlette's ``BaseHTTPMiddleware``,
        sync endpoints run in a thread pool), no ``asyncio.get_running_loop``,
        no trio calls. Not with ``request_timeout``.
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
        request_timeout: float | None = None,
        eager: bool = False,
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        from ._detect import refuse_wsgi_for_asgi_adapter

        refuse_wsgi_for_asgi_adapter(app)
        close_timeout, use_uvloop = checked_options(
            wait_time=wait_time,
            close_timeout=close_timeout,
            lifespan=lifespan,
            asgi_version=asgi_version,
            backend=backend,
            chunk_size=chunk_size,
            startup_timeout=startup_timeout,
            shutdown_timeout=shutdown_timeout,
            request_timeout=request_timeout,
            eager=eager,
            loop=loop,
            backend_options=backend_options,
        )
        self.app = app
        self.lifespan = lifespan
        self.chunk_size = chunk_size
        self.close_timeout = close_timeout
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.request_timeout = request_timeout
        self.eager = eager
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
        self._registry = Registry()

    # -- WSGI ------------------------------------------------------------

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve one request (PEP 3333; A2W-APP-01)."""
        rt = self._rt
        if rt is None or not rt.ready or rt.pid != os.getpid():
            rt = self._runtime()
            if rt is None:
                return _canned(start_response, 503)
        if rt.failed:
            logger.debug(
                "A2W-LIFE-04: lifespan startup failed; answering E500 (%s)",
                see("A2W-LIFE-04"),
            )
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
        except AppRaised as raised:
            error = raised.error  # A2W-ERR-01, raised below: no context added
        except Exception as exc:  # a bug here must not become the server's own 500
            logger.exception("sgibridge failed to serve the request")
            line, headers, body = canned_wsgi(500)
            start_response(line, headers, exc_info_of(exc))
            return [body]
        raise error

    def _serve(
        self,
        rt: _Runtime,
        environ: Environ,
        start_response: StartResponse,
        scope: dict[str, Any],
        length: int | None,
    ) -> Iterable[bytes]:
        request = Request(
            self.app,
            double=self._double,
            runner=rt.runner,
            environ=environ,
            start_response=start_response,
            scope=scope,
            chunk_size=self.chunk_size,
            high_water=self._high_water,
            close_timeout=self.close_timeout,
            timeout=self.request_timeout,
            dropped=self._dropped,
            registry=self._registry,
        )
        body = request.body
        stream = environ.get("wsgi.input")
        if stream is None:
            length = 0  # A2W-RECV-01: a missing input is an empty body
        if length == 0:
            body.pending = {"type": "http.request", "body": b"", "more_body": False}
        else:
            body.input = stream
            body.remaining = length
            if (
                length is not None
                and length <= self.chunk_size
                and environ.get("HTTP_EXPECT", "").lower() != "100-continue"
            ):
                body.pending = body.read()  # A2W-RECV-04, on T
        self._registry.add(request)
        if self.eager:  # A2W-EAGER-01
            continuation = request.run_here()
            if continuation is not None and not continuation.context.run(
                rt.runner.spawn, continuation
            ):
                continuation.finish(_stopping())
            return request.response.respond()
        if not rt.runner.spawn(request):
            self._registry.discard(request)
            return _canned(start_response, 503)
        return request.response.respond()

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
                "runs in the parent, so this process (pid %d) starts its own (%s)",
                pid,
                see("A2W-LOOP-02"),
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
        app: Any = self.app  # which of the two ASGIApp shapes, _double says
        if self._double:  # A2W-APP-03: app(scope) runs synchronously on the loop
            await app(scope)(receive, send)
        else:
            await app(scope, receive, send)

    def stats(self) -> dict[str, Any]:
        """What this middleware is doing now, in this process (A2W-STAT-01).

        A dict of plain values, ready for ``json.dumps`` or a log line:

        - ``backend``: ``"asyncio"``, ``"uvloop"`` or ``"trio"``;
        - ``loop``: ``"not started"``, ``"running"`` or ``"stopped"``
          (after :meth:`shutdown`, or when the loop thread died);
        - ``lifespan``: ``"off"``, ``"pending"``, ``"complete"``,
          ``"failed"`` or ``"unsupported"``;
        - ``request_timeout``: the option, ``None`` when off;
        - ``in_flight``: requests whose app task has not ended;
          ``oldest_age``: the age in seconds of the oldest of them;
        - ``bytes_buffered``: response bytes the app sent that the WSGI
          server has not taken yet, over all requests in flight;
        - ``requests``: requests handed to the app so far; ``timeouts``: how
          many of them ``request_timeout`` cancelled;
        - ``requests_in_flight``: one dict per request in flight, oldest
          first: ``method``, ``path``, ``age`` (seconds), ``phase``
          (``"app"`` before ``http.response.start``, ``"streaming"``,
          ``"after response"`` while the app runs on after a complete
          response) and ``buffered`` (bytes).

        It reads shared state without a lock: each figure is a moment's
        view, and it never blocks a request. Serve it from a small WSGI
        route in front of the middleware, or log it periodically (see the
        README).
        """
        rt = self._rt
        if rt is None or rt.pid != os.getpid():
            loop = "stopped" if self._closed else "not started"
        else:
            loop = "running" if rt.runner.is_running() else "stopped"
        lifespan: str = self.lifespan
        if rt is not None and rt.lifespan is not None:
            lifespan = rt.lifespan.outcome
        backend: str = self.backend
        if rt is not None and rt.runner.uses_uvloop():
            backend = "uvloop"
        return {
            "backend": backend,
            "loop": loop,
            "lifespan": lifespan,
            "request_timeout": self.request_timeout,
            **self._registry.snapshot(),
        }

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


def _stopping() -> BaseException:
    """Why an eagerly started app could not move to the loop."""
    from ._a2w_request import AppCancelled

    return AppCancelled(
        "A2W-LIFE-06: the event loop is shutting down; the ASGI app could not "
        f"continue on it ({see('A2W-LIFE-06')})"
    )


def _canned(start_response: StartResponse, status: int) -> list[bytes]:
    line, headers, body = canned_wsgi(status)
    start_response(line, headers)
    return [body]
