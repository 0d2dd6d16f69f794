"""ASGIToWSGI's request-body side: ``wsgi.input`` becomes ``receive()`` messages.

Theory of operation (docs/behaviour.md, A2W-RECV-01..08)
========================================================

:class:`RequestBody` holds the request-body state of one request and nothing
else. Two threads touch it, never at the same time:

- The WSGI server's thread T runs :meth:`RequestBody.read`: the first block
  before the app starts, when the body has a known length of at most
  ``chunk_size`` and no ``Expect: 100-continue`` (A2W-RECV-04), and every
  later block as a *job* that the response pipe runs on T while T waits for
  the response (A2W-RECV-05). A read never asks for more than ``chunk_size``
  bytes nor past ``CONTENT_LENGTH`` (A2W-RECV-01/03).
- The loop runs :meth:`RequestBody.receive`, the app's ``receive()``: the
  block read ahead, else one job per call, then, once the body is complete,
  a wait for the end of the response before ``http.disconnect``
  (A2W-RECV-07/08).

A body that ends short, or an input that raises, delivers the bytes that did
arrive first; the next ``receive()`` is ``http.disconnect`` (A2W-RECV-06).
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, Any

from ._exceptions import ClientDisconnected
from ._rules import see

if TYPE_CHECKING:
    from ._a2w_exchange import Exchange
    from ._a2w_response import Response

__all__ = ("RequestBody",)

logger = logging.getLogger("sgibridge")

Message = dict[str, Any]

_DISCONNECT: Message = {"type": "http.disconnect"}


class RequestBody:
    """The request body of one request (A2W-RECV-01..08)."""

    __slots__ = ("broken", "chunk_size", "complete", "input", "pending", "remaining")

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        #: ``wsgi.input``; ``None`` for an empty body.
        self.input: IO[bytes] | None = None
        #: Bytes still to read; ``None`` reads to EOF (``wsgi.input_terminated``).
        self.remaining: int | None = 0
        #: The message the next ``receive()`` returns without reading.
        self.pending: Message | None = None
        #: The final ``http.request`` message was returned.
        self.complete = False
        #: The input ended short or raised after some bytes (A2W-RECV-06).
        self.broken = False

    # -- loop side -------------------------------------------------------

    async def receive(self, exchange: Exchange, response: Response) -> Message:
        """ASGI ``receive`` (A2W-RECV-03..08)."""
        if exchange.disconnected:
            return {"type": "http.disconnect"}
        message = self.pending
        if message is not None:
            self.pending = None
        elif not self.complete and not response.ended:
            try:
                message = await exchange.on_thread(self.read, _DISCONNECT)
            except ClientDisconnected:
                message = {"type": "http.disconnect"}
        else:
            # A2W-RECV-07: the body is complete; wait for the end of the response.
            await exchange.wait_ended(response.ended)
            return {"type": "http.disconnect"}
        assert message is not None
        if message["type"] == "http.disconnect":
            exchange.disconnected = True
            return {"type": "http.disconnect"}
        if not message["more_body"]:
            self.complete = True
        return message

    # -- thread side -----------------------------------------------------

    def read(self) -> Message:
        """Read the next body message from ``wsgi.input``, on T (A2W-RECV-01..06)."""
        stream = self.input
        remaining = self.remaining
        assert stream is not None
        if self.broken:  # A2W-RECV-06: what arrived was delivered already
            return _DISCONNECT
        size = self.chunk_size if remaining is None else min(remaining, self.chunk_size)
        parts: list[bytes] = []
        try:
            if remaining is None:
                data = stream.read(size)
            else:
                data = _read_exact(stream, size, parts)
        except Exception as exc:  # OSError, or whatever the server raises
            logger.info(
                "A2W-RECV-06: reading wsgi.input failed: %r (%s)",
                exc,
                see("A2W-RECV-06"),
            )
            return self._short(b"".join(parts))
        if type(data) is not bytes:
            data = bytes(data)
        if remaining is None:
            return {"type": "http.request", "body": data, "more_body": bool(data)}
        if len(data) < size:
            logger.info(
                "A2W-RECV-06: wsgi.input ended %d bytes before CONTENT_LENGTH (%s)",
                remaining - len(data),
                see("A2W-RECV-06"),
            )
            return self._short(data)
        remaining -= size
        self.remaining = remaining
        return {"type": "http.request", "body": data, "more_body": remaining > 0}

    def _short(self, data: bytes) -> Message:
        """The input ended early: deliver ``data``, then the disconnect."""
        if not data:
            return _DISCONNECT
        self.broken = True
        return {"type": "http.request", "body": data, "more_body": True}


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
