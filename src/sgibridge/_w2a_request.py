"""WSGIToASGI, the request side of one call, on the event loop.

:class:`RequestPump` is a task that receives the request body into a
:class:`~._body_loop_to_thread.LoopToThread` pipe ahead of the app's reads (``wsgi.input``
reads from the other end, on the worker thread), then keeps watching
``receive()`` for ``http.disconnect``. :func:`watch` is the watcher alone, for
a request whose body came whole in the first message.

The pump's one hard problem is the client that leaves. Uvicorn and Hypercorn
do not raise from ``send()`` after a disconnect, so ``receive()`` is the only
signal; but before the response starts, the pump must sometimes not call it:

- with ``Expect: 100-continue`` until the app first reads (a server sends
  ``100 Continue`` on the first ``receive()``, W2A-IN-12);
- while the pipe is over the high watermark (bounded read-ahead, W2A-IN-01).

Once a streamed response started, both reasons lapse for an app that has not
read at all: the pump stops parking and goes on receiving, keeping at most
twice the watermark of unread body and failing the app's read past it
(W2A-IN-14). An app that reads keeps its backpressure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from ._body_input import BodyTooLarge
from ._exceptions import ASGIProtocolError, ClientDisconnected
from ._rules import see

if TYPE_CHECKING:
    from ._body_loop_to_thread import LoopToThread

__all__ = ("RequestPump", "watch")

logger = logging.getLogger("sgibridge")

Receive = Callable[[], Any]


async def watch(receive: Receive, gone: Callable[[], None]) -> None:
    """After the body: call ``gone()`` once the client left (W2A-ERR-07)."""
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
    except Exception as exc:
        logger.debug("receive() raised while watching for a disconnect: %r", exc)
    gone()


class RequestPump:
    """Feeds one request body into ``pipe``, then watches for a disconnect.

    :param pipe: the pipe that ``wsgi.input`` reads from.
    :param buffer_size: the pipe's high watermark.
    :param gone: called on the loop when the request ends before its body did
        (the client left, ``receive()`` failed, ``body_timeout``).
    :param left: called on the loop when the client left after the whole
        body arrived (W2A-IN-14); ``gone`` when not given.
    :param body_timeout: seconds a ``receive()`` for more body may take before
        the request ends as a disconnect (W2A-TIME-02); ``None`` for no limit.
    :param timed_out: called when ``body_timeout`` fired.
    """

    def __init__(
        self,
        pipe: LoopToThread,
        buffer_size: int,
        gone: Callable[[], None],
        *,
        left: Callable[[], None] | None = None,
        body_timeout: float | None = None,
        timed_out: Callable[[], None] | None = None,
    ) -> None:
        self.pipe = pipe
        self.buffer_size = buffer_size
        self.gone = gone
        self.left = gone if left is None else left
        self.body_timeout = body_timeout
        self.timed_out = timed_out
        #: Set once http.response.start of a streamed response went out.
        self.streaming = False
        self._parked: anyio.CancelScope | None = None
        self._discarding = False

    def response_started(self) -> None:
        """The streamed response's headers went out: stop parking."""
        self.streaming = True
        if self._parked is not None:
            self._parked.cancel()

    async def run(self, receive: Receive, expect: bool) -> None:
        """Feed the request body ahead of the reader, then watch for a disconnect."""
        try:
            if await self._feed(receive, expect):
                await watch(receive, self.left)
        except Exception as exc:  # receive() itself failed: treat the client as gone
            logger.debug("receive() raised while reading the request body: %r", exc)
            self.gone()

    async def _feed(self, receive: Receive, expect: bool) -> bool:
        """Receive the body; True once it is complete, False if it ended otherwise."""
        pipe = self.pipe
        if expect:
            await self._park(pipe.wait_demand)
        while True:
            await self._wait_room()
            if self.body_timeout is None:
                message = await receive()
            else:
                message = await self._receive_in_time(receive)
                if message is None:
                    return False
            kind = message["type"]
            if kind == "http.request":
                self._put(message.get("body", b""))
                if not message.get("more_body", False):
                    pipe.close()
                    return True
            elif kind == "http.disconnect":
                self.gone()
                return False
            else:
                pipe.fail(
                    ASGIProtocolError(
                        f"W2A-IN-09: expected an 'http.request' message, got {kind!r} "
                        f"({see('W2A-IN-09')})"
                    )
                )
                return False

    async def _receive_in_time(self, receive: Receive) -> dict[str, Any] | None:
        """``receive()``, or ``None`` once it took ``body_timeout`` seconds:
        the body ends as a disconnect (W2A-TIME-02)."""
        timeout = self.body_timeout
        with anyio.move_on_after(timeout):
            message: dict[str, Any] = await receive()
            return message
        if self.timed_out is not None:
            self.timed_out()
        self.pipe.fail(
            ClientDisconnected(
                f"the request body delivered no byte for {timeout} s (body_timeout)"
            )
        )
        self.gone()
        return None

    async def _park(self, wait: Callable[[], Awaitable[None]]) -> None:
        """Await ``wait()``, but no longer than until the response streams."""
        if self.streaming:
            return
        with anyio.CancelScope() as scope:
            self._parked = scope
            await wait()
        self._parked = None

    async def _wait_room(self) -> None:
        pipe = self.pipe
        while pipe.buffered > self.buffer_size:
            if not self.streaming:
                await self._park(pipe.drain)
            elif pipe.demanded:
                await pipe.drain()  # an app that reads: backpressure as usual
            else:
                return  # an app that never read: keep watching (W2A-IN-14)

    def _put(self, body: bytes) -> None:
        if self._discarding:
            return
        pipe = self.pipe
        limit = 2 * self.buffer_size
        # Only an unread body that arrives while the response streams can
        # outgrow the watermark (_wait_room holds it otherwise).
        if body and self.streaming and pipe.buffered >= limit and not pipe.demanded:
            self._discarding = True
            pipe.fail(
                BodyTooLarge(
                    f"W2A-IN-14: the app left more than {limit} bytes of the request "
                    "body unread while its response streamed; the rest was discarded "
                    f"({see('W2A-IN-14')})"
                )
            )
            return
        pipe.put(body)
