"""The body-streaming buffer: bytes between one thread and one event loop.

Theory of operation
===================

Both adapters move request and response bodies between a *thread* (the WSGI
side: a worker thread in WSGIToASGI, the server's thread in ASGIToWSGI) and a
*task on an event loop* (the ASGI side). This module owns that hand-off, and
nothing about HTTP (docs/architecture.md, the buffer's contract):

- :class:`ThreadToLoop` carries bytes written on a thread to a task that reads
  them on the loop (WSGIToASGI's response body).
- :class:`LoopToThread` carries bytes put by the loop to a thread that takes
  them (WSGIToASGI's request body, ASGIToWSGI's response body). The loop can
  also post small *jobs* that the thread runs while it waits, which is how
  ASGIToWSGI gets ``wsgi.input`` reads and ``start_response`` onto the WSGI
  thread (A2W-RECV-05, A2W-SEND-03).
- :class:`InputStream` is ``wsgi.input`` (PEP 3333 §Input and Error Streams)
  on top of a :class:`LoopToThread`, or of the first body message alone.

The contract, which the tests in ``tests/test_body.py`` hold:

1. **Bytes, not messages.** A pipe is bounded by a byte *high watermark*. The
   producer blocks (thread) or awaits (loop) only while more than that many
   unread bytes wait, so memory is bounded by the watermark plus one chunk,
   whatever the body size (SEC-10). Writes that pile up while the consumer is
   busy are coalesced into one read (up to 64 KiB); a chunk of 16 KiB or more
   is handed over alone, as the same ``bytes`` object, never copied. A
   blocked producer is woken once the backlog is down to half the
   watermark, so a fast pair trades one wake-up per half buffer, not one per
   chunk.
2. **Wake only a waiter.** Each side records whether it is waiting: the loop
   side as a :class:`Waiter`, the thread side as a flag under the lock. A
   producer that runs ahead of a consumer that is not waiting makes no system
   call at all; at most one wake-up is issued per wait. A thread that waits in
   ``wsgi.input.read(n)`` is woken once ``n`` bytes (at most the low
   watermark) are buffered, or at the end, not for every chunk that arrives:
   ``read(n)`` would only go back to sleep. Wake-ups cost far more than bytes
   (each one is a futex and a GIL hand-off between two threads), so this is
   what a streamed upload pays per MiB beyond the copies.
3. **End, error and abort travel with the bytes.** ``close()`` is EOF,
   ``fail(exc)`` makes the consumer raise ``exc`` itself, with the producer's
   traceback, after the bytes before it; and ``abort(exc)`` (from the
   consumer: client gone, iterator closed) makes the producer's next write
   raise a fresh copy of ``exc`` each time. Every wait also ends on an abort,
   so no side can hang on a peer that went away.
4. **Reads of any shape are O(bytes).** :class:`InputStream` keeps one current
   chunk and an offset; ``read(n)``, ``readline()`` and iteration slice from
   it and never rescan or re-join what they already returned
   (W2A-IN-10). A read that spans chunks copies each byte once:
   the pieces are memoryviews, joined into the one ``bytes`` it returns.

The loop side is backend-neutral: :class:`LoopBridge` is captured on the
running loop and uses ``call_soon_threadsafe`` on asyncio or the trio token's
``run_sync_soon`` on trio, the cheapest cross-thread wake-up each offers.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

from ._exceptions import SGIBridgeError

__all__ = (
    "DEFAULT_HIGH_WATER",
    "BodyTooLarge",
    "InputStream",
    "LoopBridge",
    "LoopToThread",
    "ThreadToLoop",
    "Waiter",
)

#: Unread bytes above which a producer waits. The first design suggested 64-256 KiB;
#: measured here (benchmarks/, in-process, 10 MiB in 64 KiB chunks), the cost
#: of a stream is its wake-ups, not its bytes: 256 KiB made a download 1.9x and
#: an upload 1.3x slower than an unbounded queue, 1 MiB made both faster than
#: it, and 4 MiB gained nothing more. Memory stays bounded at 1 MiB plus one
#: chunk per direction per request.
DEFAULT_HIGH_WATER = 1024 * 1024

T = TypeVar("T")


class BodyTooLarge(SGIBridgeError):
    """Raised by ``wsgi.input`` when a request body exceeds ``max_body_size``."""


# --------------------------------------------------------------------------
# The loop side: one-shot waiters that a thread can resolve.
# --------------------------------------------------------------------------


class Waiter(Generic[T]):
    """A one-shot value that a task awaits on the loop and any thread sets."""

    __slots__ = ()

    def set_threadsafe(self, value: T) -> None:
        """Resolve from any thread. Later calls, and calls after a cancelled
        wait, are ignored."""
        raise NotImplementedError

    def set(self, value: T) -> None:
        """Resolve from the loop thread."""
        raise NotImplementedError

    async def wait(self) -> T:
        """Wait on the loop for the value."""
        raise NotImplementedError


class _AsyncioWaiter(Waiter[T]):
    # A task cancelled while awaiting a future cancels that future too, so the
    # value is kept here as well and a later wait (the shielded one that
    # waits for the thread after a cancellation) gets a fresh future. Both
    # resolving and waiting run on the loop thread, so they cannot race.
    __slots__ = ("_done", "_future", "_loop", "_value")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[T] = loop.create_future()
        self._done = False
        self._value: T | None = None

    def set_threadsafe(self, value: T) -> None:
        try:
            self._loop.call_soon_threadsafe(self.set, value)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def set(self, value: T) -> None:
        if self._done:
            return
        self._done = True
        self._value = value
        if not self._future.done():
            self._future.set_result(value)

    async def wait(self) -> T:
        if self._done:
            return self._value  # type: ignore[return-value]
        if self._future.cancelled():
            self._future = self._loop.create_future()
        return await self._future


class _TrioWaiter(Waiter[T]):
    __slots__ = ("_event", "_token", "_value")

    def __init__(self, token: Any) -> None:
        import trio

        self._token = token
        self._event = trio.Event()
        self._value: T | None = None

    def set_threadsafe(self, value: T) -> None:
        import trio

        self._value = value
        try:
            self._token.run_sync_soon(self._event.set)
        except trio.RunFinishedError:  # the run ended: nobody is waiting
            pass

    def set(self, value: T) -> None:
        self._value = value
        self._event.set()

    async def wait(self) -> T:
        await self._event.wait()
        return self._value  # type: ignore[return-value]


class LoopBridge:
    """The running event loop, captured so that threads can wake its tasks.

    Create it on the loop (inside a coroutine). asyncio (and uvloop) is used
    directly; otherwise the loop must be trio's.
    """

    __slots__ = ("_loop", "_token")

    def __init__(self) -> None:
        self._token: Any = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            import trio

            self._loop = None
            self._token = trio.lowlevel.current_trio_token()

    def waiter(self) -> Waiter[Any]:
        """A new one-shot :class:`Waiter` bound to this loop."""
        if self._loop is not None:
            return _AsyncioWaiter(self._loop)
        return _TrioWaiter(self._token)

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop thread soon; callable from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)
        else:
            self._token.run_sync_soon(callback)

    def run_from_thread(self, func: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``await func(*args)`` on the loop from another thread and block
        until it returns. For rare calls only: each one is a full round trip."""
        if self._loop is not None:
            future = asyncio.run_coroutine_threadsafe(_call(func, *args), self._loop)
            return future.result()
        import trio

        return trio.from_thread.run(func, *args, trio_token=self._token)


async def _call(func: Callable[..., Awaitable[T]], *args: object) -> T:
    return await func(*args)


# --------------------------------------------------------------------------
# The pipes.
# --------------------------------------------------------------------------


#: Chunks at least this large are handed over alone, never copied; smaller
#: ones are joined, up to :data:`COALESCE_LIMIT` bytes, into one read.
PASS_THROUGH = 16 * 1024
COALESCE_LIMIT = 64 * 1024


def _fresh(exc: BaseException) -> BaseException:
    """A new exception like ``exc``, to raise once more.

    Raising one stored exception object at every call would grow its
    traceback with each raise and keep every frame it passed through alive
    (and, through them, the request and the app's objects) until the cyclic
    garbage collector runs."""
    try:
        return copy.copy(exc)
    except Exception:  # pragma: no cover - an exception type that cannot be copied
        return exc


def _coalesce(first: bytes, chunks: deque[bytes]) -> bytes:
    """Join ``first`` and the small chunks after it, up to COALESCE_LIMIT."""
    parts = [first]
    total = len(first)
    while chunks and total + len(chunks[0]) <= COALESCE_LIMIT:
        chunk = chunks.popleft()
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


class _Pipe:
    """State shared by both directions; see the module docstring."""

    __slots__ = (
        "_aborted",
        "_bridge",
        "_chunks",
        "_closed",
        "_cond",
        "_failed",
        "_high",
        "_lock",
        "_loop_waiter",
        "_low",
        "_size",
        "_thread_waiting",
    )

    def __init__(
        self, bridge: LoopBridge, high_water: int = DEFAULT_HIGH_WATER
    ) -> None:
        if high_water < 1:
            raise ValueError(f"high_water must be at least 1 byte, got {high_water!r}")
        self._bridge = bridge
        self._high = high_water
        # A writer blocked above the high watermark is woken only once the
        # reader brought the backlog down to the low one: one wake-up per
        # half buffer, not one per chunk.
        self._low = high_water // 2
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._closed = False
        self._failed: BaseException | None = None
        self._aborted: BaseException | None = None
        self._loop_waiter: Waiter[None] | None = None
        self._thread_waiting = False

    @property
    def buffered(self) -> int:
        """Bytes written and not yet taken by the consumer."""
        return self._size

    # Called with the lock held.
    def _wake_loop(self) -> Waiter[None] | None:
        waiter = self._loop_waiter
        self._loop_waiter = None
        return waiter

    def _wake_thread(self) -> None:
        if self._thread_waiting:
            # Once per wait: the flag is set again only if the thread waits again.
            self._thread_waiting = False
            self._cond.notify()

    def _wait_thread(self) -> None:
        self._thread_waiting = True
        try:
            self._cond.wait()
        finally:
            self._thread_waiting = False

    async def _wait_loop(self, waiter: Waiter[None]) -> None:
        try:
            await waiter.wait()
        finally:
            with self._lock:
                if self._loop_waiter is waiter:
                    self._loop_waiter = None


class ThreadToLoop(_Pipe):
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
                raise _fresh(self._aborted)
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
                raise _fresh(self._aborted)

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
                raise _fresh(self._aborted)

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
                        data = _coalesce(data, chunks)
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


class LoopToThread(_Pipe):
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
                raise _fresh(self._aborted)
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
                raise _fresh(self._aborted)
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
                    raise _fresh(self._aborted)
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
                    raise _fresh(self._aborted)
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
                        data = _coalesce(data, chunks)
                    size = self._size = self._size - len(data)
                    if self._loop_waiter is not None and size <= self._low:
                        self._notify_loop()
                    return data
                if self._aborted is not None:
                    raise _fresh(self._aborted)
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


# --------------------------------------------------------------------------
# wsgi.input
# --------------------------------------------------------------------------


#: What ``read()`` to EOF waits for per wake-up: as much as the pipe holds
#: (take() caps it at the low watermark).
_READ_ALL = 1 << 62


def _joined(parts: list[bytes | memoryview]) -> bytes:
    if len(parts) == 1:
        part = parts[0]
        return part if type(part) is bytes else bytes(part)
    return b"".join(parts)


class InputStream:
    """``wsgi.input``: the request body as a PEP 3333 input stream.

    :param initial: the body of the first ``http.request`` message.
    :param source: the pipe that the rest of the body arrives through, or
        ``None`` when ``initial`` is the whole body.
    :param length: the valid ``CONTENT_LENGTH``; no byte past it is ever
        returned (W2A-IN-07).
    :param max_size: raise :class:`BodyTooLarge` once more than this many
        bytes arrived.
    """

    __slots__ = (
        "_buf",
        "_eof",
        "_error",
        "_max_size",
        "_pos",
        "_received",
        "_remaining",
        "_source",
    )

    def __init__(
        self,
        initial: bytes = b"",
        source: LoopToThread | None = None,
        *,
        length: int | None = None,
        max_size: int | None = None,
    ) -> None:
        self._source = source
        self._remaining = length
        self._max_size = max_size
        self._received = 0
        self._error: BaseException | None = None
        self._buf = b""
        self._pos = 0
        self._eof = False
        try:
            self._accept(initial)
        except BodyTooLarge:  # raised again by the first read
            pass
        if source is None:
            self._eof = True

    # -- filling ---------------------------------------------------------

    def _accept(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._max_size is not None and self._received > self._max_size:
            self._error = BodyTooLarge(
                f"the request body is larger than max_body_size={self._max_size!r} bytes"
            )
            raise self._error
        remaining = self._remaining
        if remaining is not None:
            if len(chunk) >= remaining:
                chunk = chunk[:remaining]
                self._eof = True
            self._remaining = remaining - len(chunk)
        self._buf = chunk
        self._pos = 0

    def _fill(self, need: int = 1) -> bool:
        """Load the next chunk once the current one is used up; False at EOF.

        ``need`` is how many bytes the caller will wait for anyway: the pipe
        wakes this thread once that many arrived, not for every chunk."""
        if self._error is not None:
            raise _fresh(self._error)
        remaining = self._remaining
        if remaining is not None and need > remaining:
            need = remaining
        while not self._eof:
            assert self._source is not None
            try:
                chunk = self._source.take(need)
            except BaseException as exc:
                self._error = exc
                raise
            if not chunk:
                self._eof = True
                break
            self._accept(chunk)
            if self._buf:
                return True
        return False

    # -- PEP 3333 methods ------------------------------------------------

    def read(self, size: int | None = -1) -> bytes:
        """Read ``size`` bytes, or to EOF when ``size`` is ``None`` or
        negative (W2A-IN-03)."""
        # Pieces of chunks are memoryviews, so that a read spanning chunks
        # copies each byte once, in the join, and never slices first.
        parts: list[bytes | memoryview]
        if size is None or size < 0:
            buf, pos = self._buf, self._pos
            parts = [memoryview(buf)[pos:] if pos else buf] if pos < len(buf) else []
            self._buf, self._pos = b"", 0
            while self._fill(_READ_ALL):
                parts.append(self._buf)
                self._buf = b""
            return _joined(parts)
        if size == 0:
            return b""
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail >= size:  # the common case: served from the current chunk
            self._pos = pos + size
            return buf[pos : pos + size]
        parts = [memoryview(buf)[pos:] if pos else buf] if avail else []
        need = size - avail
        self._buf, self._pos = b"", 0
        while need and self._fill(need):
            buf = self._buf
            if len(buf) > need:
                parts.append(memoryview(buf)[:need])
                self._pos = need
                break
            parts.append(buf)
            need -= len(buf)
            self._buf = b""
        return _joined(parts)

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, including its ``b"\\n"``, at most ``size`` bytes when
        ``size`` is not negative (W2A-IN-04)."""
        limit = -1 if size is None else size
        if limit == 0:
            return b""
        parts: list[bytes] = []
        got = 0
        while True:
            buf, pos = self._buf, self._pos
            if pos >= len(buf):
                if not self._fill():
                    break
                continue
            end = buf.find(b"\n", pos) + 1
            stop = end if end else len(buf)
            if limit >= 0 and got + (stop - pos) >= limit:
                stop = pos + (limit - got)
                parts.append(buf[pos:stop])
                self._pos = stop
                break
            parts.append(buf[pos:stop])
            got += stop - pos
            self._pos = stop
            if end:
                break
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """Read lines until EOF, or until their total size reaches ``hint``
        bytes when ``hint`` is positive (W2A-IN-05)."""
        lines: list[bytes] = []
        total = 0
        limit = -1 if hint is None else hint
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < limit <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        """Yield lines until EOF (W2A-IN-06)."""
        while line := self.readline():
            yield line

    def readable(self) -> bool:
        """Always ``True`` (W2A-IN-11)."""
        return True

    def close(self) -> None:
        """Does nothing: the adapter owns the stream (W2A-IN-11)."""
