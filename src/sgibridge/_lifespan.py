"""The server side of the ASGI lifespan protocol, as ASGIToWSGI drives it.

Theory of operation (docs/behaviour.md §3.7 A2W-LIFE; ASGI Lifespan spec 2.0)
=============================================================================

A WSGI server has no lifespan of its own, so ASGIToWSGI plays the ASGI
server: once per process, on the same event loop as every request
(A2W-LOOP-01), it calls the app with a ``lifespan`` scope and speaks the
protocol to it through :class:`LifespanClient`.

Two threads are involved. The *loop* runs the app's lifespan task (the
:meth:`LifespanClient.run` coroutine, spawned like a request). *WSGI threads*
wait for its outcome: the first requests block on :attr:`LifespanClient.started`
(a :class:`threading.Event`), so concurrent first requests all wait for the
same single startup (A2W-LIFE-02); ``shutdown()`` wakes the task through a
:class:`~._body_bridge.Waiter` and blocks on :attr:`LifespanClient.stopped` for at
most ``shutdown_timeout`` seconds (A2W-LIFE-06).

The protocol is a small state machine, ``phase``::

    startup --complete--> running --(shutdown sent)--> shutdown --complete/failed--> done
       |--failed / app raised / app returned--> done

- ``startup.complete`` makes :attr:`outcome` ``"complete"``; the ``state``
  dict is kept and shallow-copied into every request scope (A2W-LIFE-03,
  A2W-SCOPE-11).
- ``startup.failed`` makes it ``"failed"``: the message is logged at ERROR and
  every request gets E500 (A2W-LIFE-04).
- The app raising (or returning) before it answers ``startup`` means
  ``"unsupported"`` under ``lifespan="auto"`` (logged at INFO, as uvicorn
  does; ``shutdown`` is then never sent) and ``"failed"`` under ``"on"``
  (A2W-LIFE-05).
- A message that is not ``lifespan.*`` during startup under ``"auto"`` (an
  app that never looks at ``scope["type"]`` answers with
  ``http.response.start``) also means ``"unsupported"``: it is logged at INFO,
  raised into the app, and requests are served without lifespan
  (A2W-LIFE-08). Under ``"on"`` it is a startup failure.
- Any other message that does not fit the phase, such as ``startup.complete`` twice
  or ``shutdown.complete`` before ``shutdown`` was sent, is logged at ERROR,
  ends the phase it arrived in as a failure, and raises
  :class:`~sgibridge.ASGIProtocolError` into the app (A2W-LIFE-07).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ._body_bridge import LoopBridge, Waiter
from ._exceptions import ASGIProtocolError
from ._rules import see

__all__ = ("LifespanClient",)

logger = logging.getLogger("sgibridge")

Outcome = Literal["pending", "complete", "failed", "unsupported"]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AppCall = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class LifespanClient:
    """Run one ASGI app's lifespan protocol on the loop; report to threads.

    :param call_app: ``await call_app(scope, receive, send)`` runs the app in
        the single-callable style, whatever its own style is.
    :param asgi_version: ``scope["asgi"]["version"]`` (A2W-APP-03).
    :param mode: ``"auto"`` or ``"on"`` (see A2W-LIFE-05).
    """

    __slots__ = (
        "_call_app",
        "_phase",
        "_receives",
        "_shutdown",
        "_timed_out",
        "asgi_version",
        "canceller",
        "mode",
        "outcome",
        "started",
        "state",
        "stopped",
    )

    def __init__(
        self, call_app: AppCall, *, asgi_version: str, mode: Literal["auto", "on"]
    ) -> None:
        self._call_app = call_app
        self.asgi_version = asgi_version
        self.mode = mode
        #: The lifespan ``state`` dict (lifespan spec §Lifespan State).
        self.state: dict[str, Any] = {}
        #: How startup ended; read by WSGI threads once :attr:`started` is set.
        self.outcome: Outcome = "pending"
        #: Set once startup is resolved, whatever the outcome.
        self.started = threading.Event()
        #: Set once shutdown is resolved or the lifespan task has ended.
        self.stopped = threading.Event()
        #: Set by the loop runner: cancels the task, on the loop thread.
        self.canceller: Callable[[], object] | None = None
        self._phase = "startup"
        self._timed_out: float | None = None
        self._receives = 0
        self._shutdown: Waiter[None] | None = None

    # -- loop side -------------------------------------------------------

    async def run(self) -> None:
        """The lifespan task (A2W-LIFE-01)."""
        self._shutdown = LoopBridge().waiter()
        scope = {
            "type": "lifespan",
            "asgi": {"version": self.asgi_version, "spec_version": "2.0"},
            "state": self.state,
        }
        await self._call_app(scope, self._receive, self._send)

    def finish(self, exc: BaseException | None) -> None:
        """The lifespan task ended (called on the loop by the runner)."""
        phase = self._phase
        self._phase = "done"
        cancelled = exc is not None and not isinstance(exc, Exception)
        if phase == "startup":
            if exc is None:
                why = "the app returned without answering 'lifespan.startup'"
            elif self._timed_out is not None:
                why = f"it did not finish within startup_timeout={self._timed_out!r} seconds"
            elif cancelled:
                why = "the lifespan task was cancelled during startup"
            else:
                why = f"the app raised {exc!r}"
            if self.mode == "auto" and not cancelled:
                logger.info(
                    "ASGI 'lifespan' protocol appears unsupported (A2W-LIFE-05): %s (%s)",
                    why,
                    see("A2W-LIFE-05"),
                )
                self.outcome = "unsupported"
            else:
                logger.error(
                    "A2W-LIFE-05: lifespan startup failed: %s (%s)",
                    why,
                    see("A2W-LIFE-05"),
                    exc_info=None if cancelled else exc,
                )
                self.outcome = "failed"
        elif phase == "shutdown":
            if exc is None:
                logger.error(
                    "A2W-LIFE-06: the app returned without answering "
                    "'lifespan.shutdown' (%s)",
                    see("A2W-LIFE-06"),
                )
            elif not cancelled:
                logger.error("the app raised during lifespan shutdown", exc_info=exc)
        elif phase == "running" and exc is not None and not cancelled:
            logger.error("the lifespan task raised after startup", exc_info=exc)
        self.started.set()
        self.stopped.set()

    def time_out(self, timeout: float) -> None:
        """On the loop: startup took longer than ``timeout`` seconds. Cancel
        the task; :meth:`finish` records the failure, so requests get E500
        rather than waiting for ever (A2W-LIFE-04)."""
        if self._phase == "startup" and self.canceller is not None:
            self._timed_out = timeout
            self.canceller()

    async def _receive(self) -> Message:
        count = self._receives
        self._receives = count + 1
        if count == 0:
            return {"type": "lifespan.startup"}
        assert self._shutdown is not None
        if count == 1:
            await self._shutdown.wait()
            if self._phase == "running":
                self._phase = "shutdown"
            return {"type": "lifespan.shutdown"}
        # The protocol is over: wait until the loop stops and cancels us.
        await LoopBridge().waiter().wait()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        phase = self._phase
        if phase == "startup" and kind == "lifespan.startup.complete":
            self._phase = "running"
            self.outcome = "complete"
            self.started.set()
            return
        if phase == "startup" and kind == "lifespan.startup.failed":
            self._phase = "done"
            logger.error(
                "A2W-LIFE-04: lifespan startup failed: %s (%s)",
                message.get("message", ""),
                see("A2W-LIFE-04"),
            )
            self.outcome = "failed"
            self.started.set()
            return
        if phase == "shutdown" and kind in (
            "lifespan.shutdown.complete",
            "lifespan.shutdown.failed",
        ):
            self._phase = "done"
            if kind == "lifespan.shutdown.failed":
                logger.error(
                    "A2W-LIFE-06: lifespan shutdown failed: %s (%s)",
                    message.get("message", ""),
                    see("A2W-LIFE-06"),
                )
            self.stopped.set()
            return
        if (
            phase == "startup"
            and self.mode == "auto"
            and not (isinstance(kind, str) and kind.startswith("lifespan."))
        ):
            # A2W-LIFE-08: an app that does not look at scope["type"] answered the
            # lifespan scope as if it were a request: it does not speak lifespan.
            self._phase = "done"
            self.outcome = "unsupported"
            logger.info(
                "ASGI 'lifespan' protocol appears unsupported (A2W-LIFE-08): the app "
                "answered the lifespan scope with %r (%s)",
                kind,
                see("A2W-LIFE-08"),
            )
            self.started.set()
            raise ASGIProtocolError(
                f"A2W-LIFE-08: {kind!r} is not a lifespan message; lifespan is "
                f"treated as unsupported ({see('A2W-LIFE-08')})"
            )
        # A2W-LIFE-07: out of order, or not a lifespan message at all.
        error = ASGIProtocolError(
            f"A2W-LIFE-07: lifespan message {kind!r} is out of order in phase "
            f"{phase!r} ({see('A2W-LIFE-07')})"
        )
        logger.error("%s", error)
        self._phase = "done"
        if phase == "startup":
            self.outcome = "failed"
        self.started.set()
        if phase == "shutdown":
            self.stopped.set()
        raise error

    # -- thread side -----------------------------------------------------

    def shutdown(self, timeout: float | None) -> None:
        """Send ``lifespan.shutdown`` and wait up to ``timeout`` seconds for
        the answer (A2W-LIFE-06). Does nothing unless startup completed and
        the task is still running; call from a thread, never the loop."""
        if self.outcome != "complete" or self.stopped.is_set():
            return
        assert self._shutdown is not None
        self._shutdown.set_threadsafe(None)
        if not self.stopped.wait(timeout):
            logger.warning(
                "A2W-LIFE-06: the app did not answer 'lifespan.shutdown' within "
                "shutdown_timeout=%r seconds (%s)",
                timeout,
                see("A2W-LIFE-06"),
            )
