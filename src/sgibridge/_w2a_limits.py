"""WSGIToASGI's limits and what it is doing now, for operators.

A bounded worker pool must not become a denial of service: hung apps,
clients that never read and clients that trickle an upload each pin a worker
thread. :class:`Limits` holds the options that bound them (W2A-TIME-01..05);
:class:`Registry` the requests in flight and the counters that
``WSGIToASGI.stats()`` reports (W2A-STAT-01).

A call is in flight from the moment the adapter receives it until its ASGI
call returns; the loop adds and removes it, and each is one dict operation,
so the bookkeeping costs a request no lock. A snapshot, taken from any
thread, is a moment's view, not a transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from ._exceptions import ClientDisconnected

if TYPE_CHECKING:
    from ._w2a_call import Call

__all__ = ("Limits", "Registry", "timed_send")

Send = Callable[[Any], Any]


@dataclass(frozen=True)
class Limits:
    """The time and queue limits of one adapter (``None``: no limit)."""

    send_timeout: float | None = None
    body_timeout: float | None = None
    request_timeout: float | None = None
    max_queue: int | None = None
    saturation_warning: float | None = 10.0
    retry_after: int = 1


class Registry:
    """The calls in flight in one adapter, with its counters."""

    __slots__ = ("inflight", "rejected", "requests", "timeouts")

    def __init__(self) -> None:
        self.inflight: dict[int, Call] = {}
        #: HTTP requests received since the adapter was made.
        self.requests = 0
        #: Requests answered 503 because ``max_queue`` was full (W2A-TIME-05).
        self.rejected = 0
        #: How many times each timeout fired (W2A-TIME-01..03).
        self.timeouts = {"send": 0, "body": 0, "request": 0}

    def add(self, call: Call) -> None:
        self.requests += 1
        self.inflight[id(call)] = call

    def discard(self, call: Call) -> None:
        self.inflight.pop(id(call), None)

    def describe(self) -> list[dict[str, Any]]:
        """The calls in flight, oldest first."""
        now = time.monotonic()
        calls = sorted(self.inflight.values(), key=lambda c: c.started_at)
        return [call.describe(now) for call in calls]

    def snapshot(self) -> dict[str, Any]:
        """The requests in flight and the totals."""
        inflight = self.describe()
        return {
            "in_flight": len(inflight),
            "oldest_age": inflight[0]["age"] if inflight else 0.0,
            "bytes_buffered": sum(entry["buffered"] for entry in inflight),
            "requests": self.requests,
            "rejected": self.rejected,
            "timeouts": dict(self.timeouts),
            "requests_in_flight": inflight,
        }


def timed_send(send: Send, timeout: float, fired: Callable[[], None]) -> Send:
    """``send`` that gives up after ``timeout`` seconds without returning:
    a client that reads nothing (W2A-TIME-01). Giving up calls ``fired()`` and
    raises :class:`~sgibridge.ClientDisconnected`, which ends the response as
    a client that left does."""

    async def timed(message: Any) -> None:
        with anyio.move_on_after(timeout) as scope:
            await send(message)
        if scope.cancelled_caught:
            fired()
            raise ClientDisconnected(
                f"send() made no progress for {timeout} s: the client reads "
                "nothing (send_timeout)"
            )

    return timed
