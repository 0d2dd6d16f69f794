"""The loop→thread pipe: :class:`LoopToThread`, with jobs for the thread.

WSGIToASGI's request body and ASGIToWSGI's response body. Part of the
body-streaming buffer; its contract is in :mod:`._body`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._body import DEFAULT_HIGH_WATER, PASS_THROUGH, Pipe, coalesce, fresh

if TYPE_CHECKING:
    from ._body_bridge import LoopBridge

__all__ = ("LoopToThread",)


class LoopToThread(Pipe):
    """Bytes put by the loop and taken by one thread, plus jobs for the thread.

    The loop calls :meth:`put`, :meth:`drain`, :meth:`wait_demand`,
    :meth:`call`, :meth:`close` and :meth:`fail`; the thread calls
    :meth:`take` and :meth:`abort`.
    """

    __slots__ = ("_demanded", "_jobs", "_want")

    def __init__(
        self, bridge: LoopBridge, high_water: int = DEFAULT_HIGH_WATER
    ) -> None:
        super().__init__(bridge, high_water)
        self._jobs: deque[Callable[[], object]] = deque()
        self._demanded = False
        # What the waiting thread needs before a put() wakes it (see take()).
        self._want = 1

    @property
    def aborted(self) -> BaseException | None:
        """The exception given to :meth:`abort`, if the consumer gave up."""
        return self._aborted

    @property
    def demanded(self) -> bool:
        """Whether the thread has asked for bytes (called :meth:`take`) yet."""
        return self._demanded

    def put(self, data: bytes) -> None:
        """Append ``data`` without waiting; call :meth:`drain` to respect the
        high watermark.

        :raises BaseException: the exception given to :meth:`abort`.
        """
        with self._lock:
            if self._aborted is not None:
                raise fresh(self._aborted)
            if data:
                self._chunks.append(data)
                size = self._size = self._size + len(data)
                if self._thread_waiting and size >= self._want:
                    self._wake_thread()

    def call(self, job: Callable[[], object]) -> None:
        """Run ``job`` on the consuming thread, in order with the bytes.

        :raises BaseException: the exception given to :meth:`abort`.
        """
        with self._lock:
            if self._aborted is not None:
                raise fresh(self._aborted)
            self._jobs.append(job)
            self._wake_thread()

    async def drain(self) -> None:
        """Wait while more than the high watermark is unread.

        :raises BaseException: the exception given to :meth:`abort`.
        """
        limit = self._high
        while True:
            with self._lock:
                if self._aborted is not None:
                    raise fresh(self._aborted)
                if self._size <= limit:
                    return
                limit = self._low  # once waiting, resume at the low watermark
                waiter = self._loop_waiter = self._bridge.waiter()
            await self._wait_loop(waiter)

    async def wait_demand(self) -> None:
        """Wait until the thread has asked for bytes at least once (used to
        send nothing before an ``Expect: 100-continue`` body is wanted).

        :raises BaseException: the exception given to :meth:`abort`.
        """
        while True:
            with self._lock:
                if self._aborted is not None:
                    raise fresh(self._aborted)
                if self._demanded:
                    return
                waiter = self._loop_waiter = self._bridge.waiter()
            await self._wait_loop(waiter)

    def close(self) -> None:
        """Mark the end of the bytes: :meth:`take` returns ``b""`` after them."""
        with self._lock:
            self._closed = True
            self._wake_thread()

    def fail(self, exc: BaseException) -> None:
        """End abnormally: :meth:`take` raises ``exc`` after the bytes. Once
        :meth:`close` declared the end, the bytes are complete and this does
        nothing: a request body that fully arrived is never turned into an
        error by a disconnect that came after it (W2A-IN-08)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._failed = exc
            self._wake_thread()

    def take(self, want: int = 1) -> bytes:
        """Take the next bytes (as :meth:`ThreadToLoop.read` does), running
        posted jobs while waiting for some; ``b""`` at the end.

        ``want`` is how many bytes the caller needs before it can return
        (``wsgi.input.read(n)`` blocks until ``n`` bytes or EOF anyway): a
        waiting thread is woken once that many are buffered, capped at the low
        watermark so that a producer held at the high one always wakes it, or
        at the end, an error or a job; not for every chunk that arrives. What
        it returns is still one chunk (or small ones joined), possibly shorter
        than ``want``; the next call takes the rest without waiting.

        :raises BaseException: the exception given to :meth:`fail`, or the one
            given to :meth:`abort` if this side already gave up.
        """
        want = max(1, min(want, self._low))
        lock = self._lock
        lock.acquire()
        try:
            if not self._demanded:
                self._demanded = True
                self._notify_loop()
            while True:
                if self._jobs:
                    job = self._jobs.popleft()
                    lock.release()
                    try:
                        job()
                    finally:
                        lock.acquire()
                    continue
                chunks = self._chunks
                if chunks and (
                    self._size >= want or self._closed or self._aborted is not None
                ):
                    data = chunks.popleft()
                    if len(data) < PASS_THROUGH and chunks:
                        data = coalesce(data, chunks)
                    size = self._size = self._size - len(data)
                    if self._loop_waiter is not None and size <= self._low:
                        self._notify_loop()
                    return data
                if self._aborted is not None:
                    raise fresh(self._aborted)
                if self._closed:
                    if self._failed is not None:
                        raise self._failed
                    return b""
                self._want = want
                try:
                    self._wait_thread()
                finally:
                    self._want = 1
        finally:
            lock.release()

    def _notify_loop(self) -> None:
        waiter = self._wake_loop()
        if waiter is not None:
            waiter.set_threadsafe(None)

    def abort(self, exc: BaseException) -> None:
        """Give up taking: the loop's current or next put, call, drain or
        wait_demand raises ``exc``."""
        with self._lock:
            if self._aborted is None:
                self._aborted = exc
            self._notify_loop()
            self._cond.notify_all()
