"""One ASGIToWSGI request: the app's task, its two halves, and what they share.

Theory of operation (docs/behaviour.md §3; docs/architecture.md)
================================================================

A :class:`Request` is one call of the ASGI app, spawned on the middleware's
loop by :class:`~._loop.LoopRunner`. It runs the task; the two halves of the
call keep their own state:

- :class:`~._a2w_input.RequestBody` turns ``wsgi.input`` into ``receive()``
  messages (A2W-RECV);
- :class:`~._a2w_response.Response` turns ``send()`` messages into the WSGI
  response (A2W-SEND, A2W-EXT, A2W-ERR).

What both share is an :class:`~._a2w_exchange.Exchange` (its own module): the
:class:`~._body_loop_to_thread.LoopToThread` pipe (bytes to the WSGI thread T,
and *jobs* that T runs while it waits, such as ``wsgi.input`` reads),
``disconnected`` (the client or the server gave up: A2W-RECV-06, A2W-ERR-06),
the waiters of jobs in flight, and the end of the task. The exchange refers to
neither half and neither half refers to the request, so a finished request is
freed by reference counting alone.

However the task ends (return, raise, cancellation, ``request_timeout``),
:meth:`Request.finish` runs on the loop and tells T through the pipe and the
exchange's ``done_lock``, so T never hangs (A2W-ERR-01..04, A2W-ERR-07,
A2W-TIME-01). An error raised after a complete response is kept and raised
from the result's ``close()`` (A2W-ERR-08).

Eager start (``eager=True``, A2W-EAGER-01): :meth:`Request.run_here` steps the
app's coroutine on T itself, in a copy of T's context, while the exchange's
``eager`` flag is up. Our own awaits never block there: a body read runs
inline (T is the thread that would run it anyway), and an await that would
wait for the loop or for T (a response past the watermark, ``receive()``
after the whole body) first yields :data:`~._a2w_exchange.HAND_OFF`. Whatever the app yields
ends the step: T hands the suspended coroutine to the loop as a
:class:`Continuation`, which resumes it there, and goes on to wait for the
response as usual. An app that completes in the step never touches the loop
thread: no hand-off at all. Code the app runs before its first real await
has no running event loop; that is the option's contract.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

import anyio

from ._a2w_errors import IncompleteResponse, RequestTimedOut
from ._a2w_exchange import HAND_OFF, Exchange
from ._a2w_input import RequestBody
from ._a2w_response import Response
from ._exceptions import ClientDisconnected, SGIBridgeError
from ._loop import AppInterrupted
from ._rules import see

if TYPE_CHECKING:
    from ._a2w_stats import Registry
    from ._body_loop_to_thread import LoopToThread
    from ._loop import LoopRunner
    from ._types import Environ, StartResponse

__all__ = ("Request",)

logger = logging.getLogger("sgibridge")

Message = dict[str, Any]
ASGIApp = Callable[..., Any]


#: The messages of errors that mean "this code needs a running event loop".
_NO_LOOP = (
    "no running event loop",
    "not currently running on any asynchronous event loop",
    "must be called from async context",
    "no current event loop",
    "is bound to a different event loop",
)


class AppCancelled(SGIBridgeError):
    """The app task was cancelled (close_timeout or shutdown); stands in for
    ``CancelledError`` so that it never reaches a WSGI thread (A2W-ERR-07)."""


class Request:
    """One request: the app's task on the loop, with its two halves."""

    __slots__ = (
        "app",
        "body",
        "double",
        "environ",
        "exchange",
        "registry",
        "response",
        "scope",
        "started_at",
        "timeout",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        double: bool,
        runner: LoopRunner,
        environ: Environ,
        start_response: StartResponse,
        scope: dict[str, Any],
        chunk_size: int,
        high_water: int,
        close_timeout: float | None,
        timeout: float | None,
        dropped: set[str],
        registry: Registry,
    ) -> None:
        self.app = app
        self.double = double
        self.environ = environ
        self.scope = scope
        self.timeout = timeout
        self.registry = registry
        self.started_at = time.monotonic()
        exchange = self.exchange = Exchange(runner, high_water, close_timeout)
        self.body = RequestBody(chunk_size)
        self.response = Response(
            exchange,
            environ,
            start_response,
            scope["method"] == "HEAD",
            chunk_size,
            dropped,
        )

    @property
    def canceller(self) -> Callable[[], object] | None:
        """Set by the loop runner: cancels the task (kept by the exchange)."""
        return self.exchange.canceller

    @canceller.setter
    def canceller(self, value: Callable[[], object] | None) -> None:
        self.exchange.canceller = value

    @property
    def out(self) -> LoopToThread:
        """The response pipe."""
        return self.exchange.out

    # -- loop side -------------------------------------------------------

    async def run(self) -> None:
        timeout = self.timeout
        if timeout is None:
            await self._call()
            return
        with anyio.move_on_after(timeout) as scope:
            await self._call()
        if scope.cancelled_caught:  # A2W-TIME-01
            self.registry.timeouts += 1
            logger.warning(
                "A2W-TIME-01: %s %s ran past request_timeout=%r seconds; the ASGI "
                "app was cancelled (%s)",
                self.scope["method"],
                self.scope["path"],
                timeout,
                see("A2W-TIME-01"),
            )
            raise RequestTimedOut(
                f"A2W-TIME-01: the ASGI app ran past request_timeout={timeout!r} "
                f"seconds ({see('A2W-TIME-01')})"
            )

    def run_here(self) -> Continuation | None:
        """On T: step the app until it completes or first waits for something
        (A2W-EAGER-01). ``None`` when it finished here (``finish`` was called);
        else the :class:`Continuation` to spawn on the loop, in ``context``."""
        context = contextvars.copy_context()  # A2W-LOOP-05, as the task's would be
        coro = self._call()
        exchange = self.exchange
        exchange.eager = True
        try:
            yielded = context.run(coro.send, None)
        except StopIteration:
            exchange.eager = False
            self.finish(None)
            return None
        except BaseException as exc:
            exchange.eager = False
            self.finish(self._eager_error(exc))
            return None
        exchange.eager = False
        return Continuation(self, coro, yielded, context)

    def _eager_error(self, exc: BaseException) -> BaseException:
        if not isinstance(exc, Exception):  # as the loop runner does (A2W-ERR-08)
            interrupted = AppInterrupted(f"the ASGI app raised {exc!r}")
            interrupted.__cause__ = exc
            return interrupted
        text = str(exc).lower()
        if any(marker in text for marker in _NO_LOOP):
            logger.error(
                "A2W-EAGER-01: with eager=True the ASGI app ran on the WSGI server's "
                "thread and needed the event loop before its first await (%r); this "
                "app needs eager=False (%s)",
                exc,
                see("A2W-EAGER-01"),
            )
        return exc

    async def _call(self) -> None:
        if self.double:
            await self.app(self.scope)(self.receive, self.response.send)
        else:
            await self.app(self.scope, self.receive, self.response.send)

    async def receive(self) -> Message:
        """ASGI ``receive`` (A2W-RECV-03..08)."""
        return await self.body.receive(self.exchange, self.response)

    def finish(self, exc: BaseException | None) -> None:
        """The app task ended; tell T, whatever happened."""
        exchange = self.exchange
        exchange.canceller = None
        self.registry.discard(self)
        if exc is not None and not isinstance(exc, Exception):
            exc = AppCancelled(
                "A2W-ERR-07: the ASGI app was cancelled (close_timeout or shutdown) "
                f"({see('A2W-ERR-07')})"
            )
        response = self.response
        if response.ended or response.closed_early:
            if exc is not None:
                self._after_response(exc)
        elif exc is None:
            if not response.started:
                error: BaseException = IncompleteResponse(
                    "A2W-ERR-03: the ASGI app returned without sending "
                    f"'http.response.start' ({see('A2W-ERR-03')})"
                )
            else:
                error = IncompleteResponse(
                    "A2W-ERR-04: the ASGI app returned before the final "
                    f"'http.response.body' (more_body=False) ({see('A2W-ERR-04')})"
                )
            exchange.out.fail(error)
        else:
            if not isinstance(exc, (ClientDisconnected, AppCancelled, RequestTimedOut)):
                exchange.app_error = exc  # T raises it (A2W-ERR-01/08)
            exchange.out.fail(exc)
        response.ended = True
        exchange.wake_ended()
        exchange.done = True
        exchange.done_lock.release()

    def _after_response(self, exc: BaseException) -> None:
        """The app raised ``exc`` after its response was complete, or after
        the server closed it early."""
        gone = self.exchange.disconnected or self.response.closed_early
        if isinstance(exc, (ClientDisconnected, AppCancelled, RequestTimedOut)):
            logger.debug("the ASGI app ended after the response: %r", exc)
        elif gone and _after_disconnect(exc):
            # A2W-ERR-06: the app turned the ClientDisconnected from send() into
            # its own error (Starlette raises ClientDisconnect): a routine
            # disconnect, not an app failure worth a traceback.
            logger.info("the ASGI app raised %r after the client disconnected", exc)
        elif not gone:
            # A2W-ERR-08: re-raised from the result's close(), so WSGI
            # middleware outside (an error reporter, a test client) sees it,
            # as WSGIToASGI re-raises in the same situation (W2A-ERR-03).
            logger.error(
                "A2W-ERR-08: the ASGI app raised after its response was complete (%s)",
                see("A2W-ERR-08"),
                exc_info=exc,
            )
            self.exchange.late_error = exc
            return
        else:
            logger.error(
                "the ASGI app raised after the WSGI server closed the response",
                exc_info=exc,
            )
        # Logged and never raised again. An app that re-raises the
        # ClientDisconnected it was given from a helper holds it in a frame of
        # its own traceback, a cycle that would keep the app's frames (and an
        # async generator they iterate) alive until the cyclic GC runs; under
        # gunicorn, until the worker exits.
        _drop_tracebacks(exc)


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


class _Resume:
    """Awaitable that continues a coroutine suspended on T: it yields what the
    coroutine yielded there to the loop's task runner, then forwards every
    value, exception and close, as ``await`` would."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, None], first: object) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, None]:
        coro, value = self.coro, self.first
        self.first = None
        if value is HAND_OFF:
            try:
                value = coro.send(None)
            except StopIteration:
                return
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    value = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    value = coro.send(sent)
                except StopIteration:
                    return


class Continuation:
    """The loop's half of an eagerly started request (A2W-EAGER-01): a
    :class:`~._loop.Target` that resumes the app where T left it."""

    __slots__ = ("context", "request", "resume", "started")

    def __init__(
        self,
        request: Request,
        coro: Coroutine[Any, Any, None],
        first: object,
        context: contextvars.Context,
    ) -> None:
        self.request = request
        self.resume = _Resume(coro, first)
        self.context = context
        self.started = False

    @property
    def canceller(self) -> Callable[[], object] | None:
        return self.request.exchange.canceller

    @canceller.setter
    def canceller(self, value: Callable[[], object] | None) -> None:
        self.request.exchange.canceller = value

    async def run(self) -> None:
        self.started = True
        await self.resume

    def finish(self, exc: BaseException | None) -> None:
        if not self.started:  # cancelled before it resumed: end the app here
            try:
                self.resume.coro.close()
            except Exception:  # an app that awaits in its GeneratorExit handler
                logger.exception("the ASGI app failed to close")
        self.request.finish(exc)
