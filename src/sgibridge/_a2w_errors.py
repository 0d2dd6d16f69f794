"""What ASGIToWSGI's response side raises and hands to the WSGI server
(docs/behaviour.md, A2W-ERR, A2W-TIME-01): the app's exception carried out of
the WSGI call, an incomplete response, a timed-out request, and ``exc_info``
for ``start_response``.
"""

from __future__ import annotations

from types import TracebackType

from ._exceptions import ASGIProtocolError, SGIBridgeError

__all__ = ("AppRaised", "IncompleteResponse", "RequestTimedOut", "exc_info_of")


class IncompleteResponse(ASGIProtocolError):
    """The app ended without a full response (A2W-ERR-03/04, A2W-SEND-11)."""


class AppRaised(Exception):
    """Carries the app's exception out of ``respond()``: the WSGI call raises
    it, with nothing handed to ``start_response`` (A2W-ERR-01)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class RequestTimedOut(SGIBridgeError):
    """``request_timeout`` cancelled the app: E504 before the first byte, an
    abort after it (A2W-TIME-01)."""


def exc_info_of(
    exc: BaseException,
) -> tuple[type[BaseException], BaseException, TracebackType]:
    """``exc_info`` for ``exc``. Its traceback may already be gone (the loop
    drops the tracebacks of an app's exceptions once they are logged); then
    ``exc`` is raised once here so that the server still gets one."""
    tb = exc.__traceback__
    if tb is None:
        try:
            raise exc
        except BaseException as raised:
            tb = raised.__traceback__
    assert tb is not None
    return type(exc), exc, tb
