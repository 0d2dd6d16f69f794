"""The body-streaming buffer: bytes between one thread and one event loop.

Theory of operation
===================

Both adapters move request and response bodies between a *thread* (the WSGI
side: a worker thread in WSGIToASGI, the server's thread in ASGIToWSGI) and a
*task on an event loop* (the ASGI side). The buffer owns that hand-off, and
nothing about HTTP (docs/architecture.md, the buffer's contract). Each part
has its own module; they import only one another and :mod:`._exceptions`:

- :class:`~._body_thread_to_loop.ThreadToLoop` carries bytes written on a
  thread to a task that reads them on the loop (WSGIToASGI's response body).
- :class:`~._body_loop_to_thread.LoopToThread` carries bytes put by the loop
  to a thread that takes them (WSGIToASGI's request body, ASGIToWSGI's
  response body). The loop can also post small *jobs* that the thread runs
  while it waits, which is how ASGIToWSGI gets ``wsgi.input`` reads and
  ``start_response`` onto the WSGI thread (A2W-RECV-05, A2W-SEND-03).
- :class:`~._body_input.InputStream` is ``wsgi.input`` (PEP 3333 §Input and
  Error Streams) on top of a ``LoopToThread``, or of the first body message
  alone; it raises :class:`~._body_input.BodyTooLarge`.
- :class:`~._body_bridge.LoopBridge` and :class:`~._body_bridge.Waiter` are
  how a thread wakes a task on the loop, on asyncio or trio.
- This module holds what both pipes share: :class:`Pipe` (the lock, the
  chunks, the waiting flags), the watermarks and the joining of small chunks.

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
   side as a :class:`~._body_bridge.Waiter`, the thread side as a flag under
   the lock. A producer that runs ahead of a consumer that is not waiting
   makes no system call at all; at most one wake-up is issued per wait. A thread that waits in
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
4. **Reads of any shape are O(bytes).** ``InputStream`` keeps one current
   chunk and an offset; ``read(n)``, ``readline()`` and iteration slice from
   it and never rescan or re-join what they already returned
   (W2A-IN-10). A read that spans chunks copies each byte once:
   the pieces are memoryviews, joined into the one ``bytes`` it returns.

The loop side is backend-neutral: :class:`~._body_bridge.LoopBridge` is
captured on the running loop and uses ``call_soon_threadsafe`` on asyncio or
the trio token's ``run_sync_soon`` on trio, the cheapest cross-thread wake-up each offers.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._body_bridge import LoopBridge, Waiter

__all__ = (
    "COALESCE_LIMIT",
    "DEFAULT_HIGH_WATER",
    "PASS_THROUGH",
    "Pipe",
    "coalesce",
    "fresh",
)

#: Unread bytes above which a producer waits. The first design suggested 64-256 KiB;
#: measured here (benchmarks/, in-process, 10 MiB in 64 KiB chunks), the cost
#: of a stream is its wake-ups, not its bytes: 256 KiB made a download 1.9x and
#: an upload 1.3x slower than an unbounded queue, 1 MiB made both faster than
#: it, and 4 MiB gained nothing more. Memory stays bounded at 1 MiB plus one
#: chunk per direction per request.
DEFAULT_HIGH_WATER = 1024 * 1024

#: Chunks at least this large are handed over alone, never copied; smaller
#: ones are joined, up to :data:`COALESCE_LIMIT` bytes, into one read.
PASS_THROUGH = 16 * 1024
COALESCE_LIMIT = 64 * 1024


def fresh(exc: BaseException) -> BaseException:
    """A new exception like ``exc``, to raise once more.

    Raising one stored exception object at every call would grow its
    traceback with each raise and keep every frame it passed through alive
    (and, through them, the request and the app's objects) until the cyclic
    garbage collector runs."""
    try:
        return copy.copy(exc)
    except Exception:  # pragma: no cover - an exception type that cannot be copied
        return exc


def coalesce(first: bytes, chunks: deque[bytes]) -> bytes:
    """Join ``first`` and the small chunks after it, up to COALESCE_LIMIT."""
    parts = [first]
    total = len(first)
    while chunks and total + len(chunks[0]) <= COALESCE_LIMIT:
        chunk = chunks.popleft()
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


class Pipe:
    """State shared by both directions; see the module docstring. The two
    directions subclass it: ``_body_thread_to_loop``, ``_body_loop_to_thread``."""

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
