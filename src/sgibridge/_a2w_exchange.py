"""The :class:`Exchange` one ASGIToWSGI request's two halves share.

Theory of operation (docs/behaviour.md §3; docs/architecture.md)
================================================================

The loop side of a :class:`~._a2w_request.Request` (the app's task, its
``receive()`` and ``send()``) and the WSGI server's thread T meet here: the
:class:`~._body_loop_to_thread.LoopToThread` pipe (bytes to T, and *jobs*
that T runs while it waits, such as ``wsgi.input`` reads), ``disconnected``
(the client or the server gave up: A2W-RECV-06, A2W-ERR-06), the waiters of
jobs in flight, and the end of the task (``done_lock``, A2W-ERR-07). The
exchange refers to neither half and neither half refers to the request, so a
finished request is freed by reference counting alone.

During an eager step (A2W-EAGER-01) the exchange's ``eager`` flag is up: a
job runs inline, since T is the thread that would run it anyway, and an await
that would wait for the loop or for T first yields :data:`HAND_OFF`, which
moves the app to the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any

from ._body_loop_to_thread import LoopToThread
from ._loop import CANCEL_GRACE
from ._rules import see

if TYPE_CHECKING:
    from ._body_bridge import Waiter
    from ._loop import LoopRunner

__all__ = ("HAND_OFF", "Exchange")

logger = logging.getLogger("sgibridge")

#: What our own awaits yield during an eager step to move the app to the loop.
HAND_OFF = object()


class _HandOff:
    """Awaited on T during an eager step: suspends the app so that T hands it
    to the loop, which resumes it at once (A2W-EAGER-01)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield HAND_OFF


_hand_off = _HandOff()


class Exchange:
    """What the loop side and the WSGI thread T share in one request: the
    pipe, the disconnect, the jobs in flight and the end of the task.

    It refers to neither half of the request, so no request is a reference
    cycle: each is freed the moment its last user lets go, never by the
    cyclic GC (a cycle per request cost small requests about a fifth of
    their CPU time in collections).
    """

    __slots__ = (
        "_end_waiter",
        "_jobs",
        "app_error",
        "bridge",
        "canceller",
        "close_timeout",
        "disconnected",
        "done",
        "done_lock",
        "eager",
        "high_water",
        "late_error",
        "out",
        "runner",
    )

    def __init__(
        self, runner: LoopRunner, high_water: int, close_timeout: float | None
    ) -> None:
        bridge = runner.bridge
        assert bridge is not None
        self.runner = runner
        self.bridge = bridge
        self.close_timeout = close_timeout
        self.high_water = high_water
        self.out = LoopToThread(bridge, high_water)
        self.done_lock = threading.Lock()
        self.done_lock.acquire()
        #: Set by the loop runner while the task runs: cancels it, on the loop.
        self.canceller: Callable[[], object] | None = None
        self.disconnected = False
        self.done = False
        #: The app is being stepped on T (A2W-EAGER-01): our awaits must not block.
        self.eager = False
        self.late_error: BaseException | None = None
        #: What the app raised before its response ended, for T: raised from
        #: the WSGI call before the first byte (A2W-ERR-01), or from close()
        #: after a response the server took whole (A2W-ERR-06/08).
        self.app_error: BaseException | None = None
        self._jobs: dict[Waiter[Any], object] | None = None
        self._end_waiter: Waiter[None] | None = None

    # -- loop side -------------------------------------------------------

    def cancel(self) -> None:
        """On the loop: cancel the task (close_timeout expired)."""
        if self.canceller is not None:
            self.canceller()

    def closed_on_loop(self) -> None:
        """On the loop: the WSGI server closed the iterable early (A2W-ERR-06)."""
        self.disconnected = True
        self.released_on_loop()

    def released_on_loop(self) -> None:
        """On the loop: T takes no more jobs; each waiting one gets its
        on-close value, and a ``receive()`` waiting for the end wakes."""
        jobs = self._jobs
        if jobs:
            for waiter, value in list(jobs.items()):
                waiter.set(value)
        self.wake_ended()

    def wake_ended(self) -> None:
        """On the loop: the response is over; wake a ``receive()`` waiting for it."""
        waiter = self._end_waiter
        if waiter is not None:
            self._end_waiter = None
            waiter.set(None)

    async def wait_ended(self, ended: bool) -> None:
        """Wait until the response is complete (``ended`` says whether it is
        already) or the server closed it (A2W-RECV-07)."""
        if ended or self.disconnected:
            return
        if self.eager:  # only the loop can wait for the end
            await _hand_off
            if self.disconnected:
                return
        waiter = self._end_waiter
        if waiter is None:
            waiter = self._end_waiter = self.bridge.waiter()
        await waiter.wait()

    async def drain(self) -> None:
        """Wait while more than the high watermark of the response is unread."""
        if self.eager and self.out.buffered > self.high_water:
            await _hand_off  # T must take the bytes: wait on the loop
        await self.out.drain()

    async def on_thread(self, job: Callable[[], object], on_close: object) -> Any:
        """Run ``job`` on T and return its result; ``on_close`` if T gave up."""
        if self.eager:  # this is T: run it here (A2W-EAGER-01)
            return job()
        waiter: Waiter[Any] = self.bridge.waiter()
        jobs = self._jobs
        if jobs is None:
            jobs = self._jobs = {}
        jobs[waiter] = on_close
        try:
            self.out.call(partial(_run_job, job, waiter))
            return await waiter.wait()
        finally:
            del jobs[waiter]

    # -- thread side -----------------------------------------------------

    def end(self, whole: bool = False) -> None:
        """On T, from the result's ``close()``: wait for the task (A2W-ERR-07),
        then raise what the app raised after a complete response (A2W-ERR-08),
        or after the server took the whole declared body (``whole``,
        A2W-ERR-06)."""
        self.wait_done()
        # Its traceback holds the app's frames: no cycle is kept.
        app_error, self.app_error = self.app_error, None
        error, self.late_error = self.late_error, None
        if error is None and whole and app_error is not None:
            logger.error(
                "A2W-ERR-08: the ASGI app raised after its response was complete (%s)",
                see("A2W-ERR-08"),
                exc_info=app_error,
            )
            error = app_error
        if error is not None:
            raise error

    def wait_done(self) -> None:
        """Wait up to ``close_timeout`` for the task, then cancel it (A2W-ERR-07)."""
        if self.done:
            return
        timeout = self.close_timeout
        if self.done_lock.acquire(timeout=-1 if timeout is None else timeout):
            return
        logger.warning(
            "A2W-ERR-07: the ASGI app still ran %r seconds after its response; "
            "cancelling it (%s)",
            timeout,
            see("A2W-ERR-07"),
        )
        self.runner.call_soon(self.cancel)
        if not self.done_lock.acquire(timeout=CANCEL_GRACE):
            logger.error(
                "A2W-ERR-07: the ASGI app did not end after it was cancelled (%s)",
                see("A2W-ERR-07"),
            )


def _run_job(job: Callable[[], object], waiter: Waiter[Any]) -> None:
    waiter.set_threadsafe(job())
