"""WSGIToASGI: the worker thread's one answer to the loop, and how a call ends.

A call's :class:`~._w2a_response.Response` answers the loop once (PEP 3333
§Buffering and Streaming; docs/architecture.md, "One answer back"):

- :class:`Complete`: the whole response is known (a list or tuple result, an
  empty body, a ``pathsend`` file), or an error before the headers, which
  :func:`raised` marks to be raised with nothing sent (W2A-ERR-01); the loop
  sends it and the thread is done;
- :class:`Streaming`: the headers and the body's first chunk; the rest follows
  through a :class:`~._body_thread_to_loop.ThreadToLoop` pipe, which
  :class:`StreamAborted` ends when the thread stops mid-stream.

:func:`canned`, :func:`close_result` and :func:`chain` are how both the
thread and the loop end a call: a canned response, the result's ``close()``
(W2A-CLOSE-01), and which exception is raised when two arrive (W2A-CLOSE-04).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, overload

from ._translate import canned_asgi

if TYPE_CHECKING:
    from ._body_thread_to_loop import ThreadToLoop

__all__ = (
    "Complete",
    "StreamAborted",
    "Streaming",
    "canned",
    "chain",
    "close_result",
    "raised",
)

logger = logging.getLogger("sgibridge")


class Complete:
    """The whole response, handed to the loop in one piece."""

    __slots__ = ("body", "final", "headers", "path", "raise_after", "send", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: Sequence[bytes] = (),
        *,
        final: bool = True,
        path: str | None = None,
        raise_after: BaseException | None = None,
        send: bool = True,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.final = final
        self.path = path
        self.raise_after = raise_after
        #: ``False``: nothing is sent; ``raise_after`` is raised at once and
        #: the server answers it (W2A-ERR-01).
        self.send = send


class Streaming:
    """Headers are ready, with the body's first chunk; the rest follows
    through the response pipe.

    ``first`` travels with the headers, outside the pipe, so a disconnect seen
    before it cannot stop it: the app handed it over with the headers
    (W2A-IN-14). ``b""`` when the body starts in the pipe (``write()``).
    """

    __slots__ = ("first", "headers", "out", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        out: ThreadToLoop,
        first: bytes = b"",
    ) -> None:
        self.status = status
        self.headers = headers
        self.out = out
        self.first = first


class StreamAborted(Exception):
    """Ends the response pipe when the thread stops mid-stream."""


def canned(status: int, raise_after: BaseException | None = None) -> Complete:
    """A canned response (400, 413, 500, ...) with an error to raise after it."""
    headers, body = canned_asgi(status)
    return Complete(status, headers, (body,), raise_after=raise_after)


def raised(error: BaseException) -> Complete:
    """The app failed before its response started: no message is sent, the
    ASGI call raises ``error``, and the server (or ASGI middleware outside)
    answers it, as it answers an ASGI app that raises (W2A-ERR-01)."""
    return Complete(500, [], raise_after=error, send=False)


def close_result(result: Iterable[bytes] | None) -> BaseException | None:
    """Call the result's ``close()``, if any (W2A-CLOSE-01); return what it raised."""
    close = getattr(result, "close", None)
    if close is None:
        return None
    try:
        close()
    except BaseException as exc:
        logger.exception("the WSGI iterable's close() raised")
        return exc
    return None


@overload
def chain(first: BaseException, then: BaseException | None) -> BaseException: ...
@overload
def chain(
    first: BaseException | None, then: BaseException | None
) -> BaseException | None: ...
def chain(
    first: BaseException | None, then: BaseException | None
) -> BaseException | None:
    """The exception to raise: ``first``, with ``then`` as its context (W2A-CLOSE-04).

    The same exception may arrive both ways (an app that reports it with
    ``exc_info`` and raises it again from ``close()``): a context chain that
    loops back to ``first`` would hang whoever walks it, so none is made."""
    if first is None:
        return then
    if then is None or first.__context__ is not None or _reaches(then, first):
        return first
    first.__context__ = then
    return first


def _reaches(start: BaseException, target: BaseException) -> bool:
    """Is ``target`` on ``start``'s context chain (``start`` included)?"""
    seen: set[int] = set()
    current: BaseException | None = start
    while current is not None and id(current) not in seen:
        if current is target:
            return True
        seen.add(id(current))
        current = current.__context__
    return False
