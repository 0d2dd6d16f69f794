# Theory of operation
# ===================
#
# The canned responses (docs/behaviour.md, Conventions) that an adapter
# sends instead of calling the app, or when the app failed before its first
# byte: a fixed status, a `text/plain` body that is the reason phrase, and its
# length. The reason phrase comes from the table below, not from
# `http.HTTPStatus`, so the bytes on the wire do not change between Python
# versions.
#
# `RequestRejected` is how the other core modules say "answer this request
# with a canned response and never call the app" (a bad Content-Length, a
# header flood, a root path mismatch); the adapter catches it and sends
# `canned_asgi(status)` or `canned_wsgi(status)`.
"""Canned error responses, and the exception that asks for one."""

from __future__ import annotations

from ._exceptions import SGIBridgeError
from ._strings import short

__all__ = ("CANNED_BODIES", "RequestRejected", "canned_asgi", "canned_wsgi")

#: The body of each canned response (docs/behaviour.md, Conventions). The
#: reason phrase of the status line is the body text, so it does not change
#: between Python versions.
CANNED_BODIES: dict[int, bytes] = {
    400: b"Bad Request",
    404: b"Not Found",
    413: b"Payload Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}

_CONTENT_TYPE = "text/plain; charset=utf-8"


def _body(status: int) -> bytes:
    try:
        return CANNED_BODIES[status]
    except (KeyError, TypeError):
        raise ValueError(
            f"§0: there is no canned response for status {short(status)}; "
            f"expected one of {sorted(CANNED_BODIES)!r}"
        ) from None


def canned_wsgi(status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    """Return a canned response (docs/behaviour.md, Conventions) in WSGI form.

    :param status: one of the keys of :data:`CANNED_BODIES`.
    :return: ``(status_line, headers, body)`` ready for ``start_response``; the
        header list is a new list on every call.
    :raises ValueError: if there is no canned response for ``status``.
    """
    body = _body(status)
    return (
        f"{status} {body.decode('ascii')}",
        [("Content-Type", _CONTENT_TYPE), ("Content-Length", str(len(body)))],
        body,
    )


def canned_asgi(status: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Return a canned response (docs/behaviour.md, Conventions) in ASGI form.

    :param status: one of the keys of :data:`CANNED_BODIES`.
    :return: ``(headers, body)`` with lowercase byte header names; the header
        list is a new list on every call.
    :raises ValueError: if there is no canned response for ``status``.
    """
    body = _body(status)
    return (
        [
            (b"content-type", _CONTENT_TYPE.encode("ascii")),
            (b"content-length", str(len(body)).encode("ascii")),
        ],
        body,
    )


class RequestRejected(SGIBridgeError):
    """Raised when a request must be answered with a canned error and the app not called.

    :ivar status: the canned status to send (400, 404, 413 or 431).
    :ivar reason: a sentence for the log that names the rule and the value.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
