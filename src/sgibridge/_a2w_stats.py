"""What ASGIToWSGI is doing right now, for operators (A2W-STAT-01).

:class:`Registry` keeps the requests in flight in one middleware and two
counters. A request is in flight from the moment the middleware hands it to
the loop until its task has ended; the WSGI server's thread adds it, the loop
removes it, and each is one dict operation, atomic under the GIL, so the
bookkeeping costs a request no lock. :meth:`Registry.snapshot` reads it from
any thread; its figures are a moment's view, not a transaction.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._a2w_request import Request

__all__ = ("Registry",)


class Registry:
    """The in-flight requests of one middleware, with its counters."""

    __slots__ = ("inflight", "requests", "timeouts")

    def __init__(self) -> None:
        self.inflight: dict[int, Request] = {}
        #: Requests handed to the app since the middleware was made.
        self.requests = 0
        #: Requests whose app task ``request_timeout`` cancelled (A2W-TIME-01).
        self.timeouts = 0

    def add(self, request: Request) -> None:
        self.requests += 1
        self.inflight[id(request)] = request

    def discard(self, request: Request) -> None:
        self.inflight.pop(id(request), None)

    def snapshot(self) -> dict[str, Any]:
        """The requests in flight, oldest first, and the totals."""
        now = time.monotonic()
        # One C-level copy of the values, atomic under the GIL: the loop may
        # remove a request meanwhile.
        requests = sorted(self.inflight.values(), key=lambda r: r.started_at)
        inflight = [_describe(request, now) for request in requests]
        return {
            "in_flight": len(inflight),
            "oldest_age": inflight[0]["age"] if inflight else 0.0,
            "bytes_buffered": sum(entry["buffered"] for entry in inflight),
            "requests": self.requests,
            "timeouts": self.timeouts,
            "requests_in_flight": inflight,
        }


def _describe(request: Request, now: float) -> dict[str, Any]:
    response = request.response
    if not response.started:
        phase = "app"  # the app has not sent http.response.start
    elif not response.ended:
        phase = "streaming"
    else:
        phase = "after response"  # complete; the app still runs
    scope = request.scope
    return {
        "method": scope["method"],
        "path": scope["path"],
        "age": round(now - request.started_at, 3),
        "phase": phase,
        "buffered": request.out.buffered,
    }
