"""The thread→loop pipe: :class:`ThreadToLoop`, WSGIToASGI's response body.

Part of the body-streaming buffer; its contract is in :mod:`._body`.
"""

from __future__ import annotations

from ._body import PASS_THROUGH, Pipe, coalesce, fresh

__all__ = ("ThreadToLoop",)


class ThreadToLoop(Pipe):
    """Bytes written on a thread and read by one task on the loop.

    The thread calls :meth:`write`, :meth:`flush`, :meth:`close` and
    :meth:`fail`; the loop calls :meth:`read` and :meth:`abort`.
    """

    __slots__ = ()

    def write(self, data: bytes) -> None:
        """Append ``data``; block while more than the high watermark is unread.

        :raises BaseException: the exception given to :meth:`abort`, once the
            consumer has given up.
        """
        with self._lock:
            if self._aborted is not None:
                raise fresh(self._aborted)
            self._chunks.append(data)
            self._size += len(data)
            waiter = self._loop_waiter
            if waiter is not None:
                self._loop_waiter = None
                waiter.set_threadsafe(None)
            if self._size > self._high:
                while self._size > self._low and self._aborted is None:
                    self._wait_thread()
            if self._aborted is not None:
                raise fresh(self._aborted)

    def flush(self) -> None:
        """Block until the consumer has taken every byte and come back for
        more, which means it has finished handling them.

        :raises BaseException: the exception given to :meth:`abort`.
        """
        with self._lock:
            while self._aborted is None and (self._size or self._loop_waiter is None):
                if self._closed:  # pragma: no cover - flush after close is a caller bug
                    return
                self._wait_thread()
            if self._aborted is not None:
                raise fresh(self._aborted)

    def close(self) -> None:
        """Mark the end of the bytes: the consumer reads ``b""`` after them."""
        self._finish(None)

    def fail(self, exc: BaseException) -> None:
        """End abnormally: the consumer's read raises ``exc`` after the bytes."""
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        with self._lock:
            self._closed = True
            self._failed = exc
            waiter = self._wake_loop()
        if waiter is not None:
            waiter.set_threadsafe(None)

    async def read(self) -> bytes:
        """Take the next bytes, waiting for some; ``b""`` at the end. A large
        chunk comes alone and uncopied; small ones come joined.

        :raises BaseException: the exception given to :meth:`fail`.
        """
        chunks = self._chunks
        while True:
            with self._lock:
                if chunks:
                    data = chunks.popleft()
                    if len(data) < PASS_THROUGH and chunks:
                        data = coalesce(data, chunks)
                    size = self._size = self._size - len(data)
                    if self._thread_waiting and size <= self._low:
                        self._wake_thread()
                    return data
                if self._closed:
                    if self._failed is not None:
                        raise self._failed
                    return b""
                waiter = self._loop_waiter = self._bridge.waiter()
                self._wake_thread()  # a flush() may be waiting for exactly this
            await self._wait_loop(waiter)

    def abort(self, exc: BaseException) -> None:
        """Give up reading: the writer's current or next call raises ``exc``."""
        with self._lock:
            if self._aborted is None:
                self._aborted = exc
            self._cond.notify_all()
