"""The sgibridge error hierarchy (docs/behaviour.md, Conventions).

::

    SGIBridgeError
    ├── ProtocolError
    │   ├── WSGIProtocolError   (also RuntimeError)
    │   └── ASGIProtocolError   (also RuntimeError)
    └── ClientDisconnected      (also OSError)

Messages are sentences that name the rule that was broken and the value that
arrived, so that a traceback alone tells a user what to fix, and end with
``see docs/behaviour.md#<rule>`` (:func:`._rules.see`), where the rule is defined.
"""

from __future__ import annotations

__all__ = (
    "ASGIProtocolError",
    "ClientDisconnected",
    "ProtocolError",
    "SGIBridgeError",
    "WSGIProtocolError",
)


class SGIBridgeError(Exception):
    """Raised for every error that sgibridge itself detects."""


class ProtocolError(SGIBridgeError):
    """Raised when one side broke the WSGI or ASGI protocol."""


class WSGIProtocolError(ProtocolError, RuntimeError):
    """Raised when a WSGI app misuses ``start_response``, ``write`` or its iterable."""


class ASGIProtocolError(ProtocolError, RuntimeError):
    """Raised when an ASGI app or server sends a bad message or a bad scope."""


class ClientDisconnected(SGIBridgeError, OSError):
    """Raised when the HTTP client went away before the request or response ended."""
