"""The per-process event loop that ASGIToWSGI runs ASGI apps on.

Theory of operation (docs/architecture.md; docs/behaviour.md A2W-LOOP-01..05)
============================================================================

A WSGI server calls the middleware from its own threads, which have no event
loop. :class:`LoopRunner` owns one loop in one daemon thread (A2W-LOOP-03):
asyncio (uvloop when importable) running a coroutine that waits for the stop
signal, or ``trio.run`` with one nursery. It can also adopt a running asyncio
loop that the caller owns (a2wsgi's ``loop=`` keyword), which it then never
stops.

Tasks are submitted with the cheapest cross-thread call each backend has,
``loop.call_soon_threadsafe`` or the trio token's ``run_sync_soon``: no
blocking portal, whose extra round trip per request would double the cost of
a small request. A task is a :class:`Target`: ``run()`` is awaited, and
``finish(exc)`` is called on the loop however the task ends, even when it was
cancelled before it started, so a WSGI thread waiting on it never hangs.

``stop()`` cancels every task, gives them :data:`CANCEL_GRACE` seconds, then
stops the loop and joins its thread. Fork safety (A2W-LOOP-02) is the
caller's: the middleware keys its runner by ``os.getpid()`` and starts a new
one in a child.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, Protocol

from ._body_bridge import LoopBridge, Waiter
from ._rules import see

__all__ = ("CANCEL_GRACE", "START_TIMEOUT", "AppInterrupted", "LoopRunner", "Target")

logger = logging.getLogger("sgibridge")

#: Seconds to wait for the loop thread to come up.
START_TIMEOUT = 30.0
#: Seconds a task gets to end after it was cancelled, on close() and on stop.
CANCEL_GRACE = 5.0


class AppInterrupted(Exception):
    """The app raised a :class:`BaseException` that is not the loop's
    cancellation (``KeyboardInterrupt``, ``SystemExit``, ...). It is the
    ``__cause__`` here; the task ends with this ordinary exception instead, so
    that one request's interrupt cannot stop the loop that serves them all."""


async def _guarded(target: Target, cancelled: type[BaseException]) -> None:
    """``await target.run()``; a BaseException other than ``cancelled`` (or a
    group of them) becomes :class:`AppInterrupted`."""
    try:
        await target.run()
    except Exception:
        raise
    except BaseException as exc:
        if isinstance(exc, (cancelled, GeneratorExit)):
            raise
        split = getattr(exc, "split", None)
        if split is not None:  # a BaseExceptionGroup: keep a pure cancellation
            rest = split(lambda e: not isinstance(e, cancelled))[0]
            if rest is None:
                raise
        raise AppInterrupted(f"the ASGI app raised {exc!r}") from exc


class Target(Protocol):
    canceller: Callable[[], object] | None

    async def run(self) -> None: ...

    def finish(self, exc: BaseException | None) -> None: ...


class LoopRunner:
    """One event loop in one daemon thread, or a running asyncio loop given
    by the caller. Tasks are :class:`Target` objects; ``finish(exc)`` is
    called on the loop however the task ends, even when it was cancelled
    before it started."""

    def __init__(
        self,
        backend: Literal["asyncio", "trio"],
        use_uvloop: bool,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.backend = backend
        self.bridge: LoopBridge | None = None
        self._use_uvloop = use_uvloop
        self._loop = loop
        self._owned = loop is None
        self._lock = threading.Lock()
        self._accepting = False
        self._ready = threading.Event()
        self._stop: Waiter[None] | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._nursery: Any = None
        self._token: Any = None

    # -- thread side -----------------------------------------------------

    def start(self) -> None:
        if self.backend == "trio":
            self._thread = threading.Thread(
                target=self._run_trio, name="sgibridge-loop", daemon=True
            )
        elif self._loop is None:
            self._loop = self._new_loop()
            self._thread = threading.Thread(
                target=self._run_asyncio, name="sgibridge-loop", daemon=True
            )
        else:
            self._loop.call_soon_threadsafe(self._capture)
        if self._thread is not None:
            self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self.bridge is None:
            raise RuntimeError(
                f"A2W-LOOP-01: the {self.backend} event loop did not start within "
                f"{START_TIMEOUT!r} seconds (is the loop given as loop= running?) "
                f"({see('A2W-LOOP-01')})"
            )
        self._accepting = True

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        if self._use_uvloop:
            try:
                import uvloop
            except ImportError:
                pass
            else:
                return uvloop.new_event_loop()
        return asyncio.new_event_loop()

    def spawn(self, target: Target) -> bool:
        """Start ``target.run()`` as a task, in a copy of the calling thread's
        :mod:`contextvars` context; False once the loop is stopping."""
        # A2W-LOOP-05: the app runs in a copy of the calling thread's context, on every
        # backend alike: a trio task would otherwise copy the loop thread's.
        context = contextvars.copy_context()
        with self._lock:
            if not self._accepting:
                return False
            try:
                if self._token is not None:
                    self._token.run_sync_soon(
                        context.run, self._nursery.start_soon, self._trio_task, target
                    )
                else:
                    assert self._loop is not None
                    self._loop.call_soon_threadsafe(
                        self._asyncio_start, target, context=context
                    )
            except RuntimeError:  # the loop is closed; trio's RunFinishedError too
                self._accepting = False
                return False
        return True

    def is_running(self) -> bool:
        """Whether the loop accepts tasks (started, not stopped, thread alive)."""
        thread = self._thread
        return self._accepting and (thread is None or thread.is_alive())

    def uses_uvloop(self) -> bool:
        """Whether the loop is a uvloop loop."""
        loop = self._loop
        return loop is not None and type(loop).__module__.startswith("uvloop")

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop soon; nothing if the loop is gone."""
        assert self.bridge is not None
        try:
            self.bridge.call_soon_threadsafe(callback)
        except RuntimeError:
            pass

    def stop(self) -> None:
        """Cancel every task and, for a loop we own, stop it and join it."""
        with self._lock:
            accepting, self._accepting = self._accepting, False
        if not accepting:
            return
        if self._owned:
            assert self._stop is not None and self._thread is not None
            self._stop.set_threadsafe(None)
            if self._thread is not threading.current_thread():
                self._thread.join(CANCEL_GRACE * 2)
                if self._thread.is_alive():  # pragma: no cover - an app ignoring cancel
                    logger.warning("the sgibridge event loop thread did not stop")
        else:
            assert self._loop is not None
            future = asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop)
            try:
                future.result(CANCEL_GRACE * 2)
            except Exception:  # pragma: no cover - a loop that stopped under us
                logger.warning(
                    "could not cancel the tasks on the given loop", exc_info=True
                )

    # -- asyncio ---------------------------------------------------------

    def _capture(self) -> None:
        self.bridge = LoopBridge()
        self._ready.set()

    def _run_asyncio(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._asyncio_main())
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:  # pragma: no cover - the loop itself broke
            logger.exception("the sgibridge asyncio loop failed")
        finally:
            self._ready.set()
            asyncio.set_event_loop(None)
            loop.close()

    async def _asyncio_main(self) -> None:
        self.bridge = LoopBridge()
        self._stop = self.bridge.waiter()
        self._ready.set()
        await self._stop.wait()
        await self._cancel_all()

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_GRACE)

    def _asyncio_start(self, target: Target) -> None:
        assert self._loop is not None
        task = self._loop.create_task(_guarded(target, asyncio.CancelledError))
        target.canceller = task.cancel
        self._tasks.add(task)
        task.add_done_callback(partial(self._asyncio_done, target))

    def _asyncio_done(self, target: Target, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        target.finish(
            asyncio.CancelledError() if task.cancelled() else task.exception()
        )

    # -- trio ------------------------------------------------------------

    def _run_trio(self) -> None:
        import trio

        try:
            trio.run(self._trio_main)
        except BaseException:  # pragma: no cover - the loop itself broke
            logger.exception("the sgibridge trio loop failed")
        finally:
            self._ready.set()

    async def _trio_main(self) -> None:
        import trio

        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.bridge = LoopBridge()
            self._stop = self.bridge.waiter()
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    async def _trio_task(self, target: Target) -> None:
        import trio

        exc: BaseException | None = None
        with trio.CancelScope() as scope:
            target.canceller = scope.cancel
            try:
                await _guarded(target, trio.Cancelled)
            except BaseException as error:
                exc = error
                if not isinstance(error, Exception):
                    raise  # Cancelled: caught by the scope that was cancelled
            finally:
                target.finish(exc)
                # The caught exception's traceback holds this frame: do not let the
                # frame hold it back, or the app's frames live until the cyclic GC.
                exc = None
