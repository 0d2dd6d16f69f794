# Theory of operation
# ===================
#
# The byte classes and small helpers that every part of the translation core
# shares. Nothing here knows a direction (WSGI -> ASGI or back); the modules
# that do import from here, and this module imports nothing of sgibridge.
#
# * Tokens (RFC 9110 §5.6.2). A header name is valid when it is non-empty and
#   nothing is left after `bytes.translate(None, TCHARS)` deletes every tchar:
#   one C-level pass, faster than a regex.
# * Forbidden bytes (CORE-HDR-06/08, SEC-01). The
#   same trick with a small delete set finds CR/LF/NUL or control characters
#   with one length compare.
# * Lengths (W2A-ENV-08, W2A-SR-05, A2W-SEND-02, A2W-RECV-02). A length is
#   `^[0-9]+$`; `parse_length` also refuses more digits than `int()` converts
#   (`sys.get_int_max_str_digits()`), so the limit is a 400, not a crash.
# * Logging. Messages show the offending value with `!r`, cut by
#   `short` so that a hostile 64 KiB header cannot flood the log.
# * Caches. The header-name caches of the other core modules stop growing at
#   `CACHE_MAX` entries, so random names from a client cannot grow memory
#   (SEC-06).
"""Byte classes and helpers shared by the translation core's modules."""

from __future__ import annotations

__all__ = (
    "CACHE_MAX",
    "CR_LF_NUL",
    "CTL_BUT_HTAB",
    "TCHARS",
    "is_token",
    "parse_length",
    "short",
)

#: Upper bound on each header-name cache of the core (SEC-06).
CACHE_MAX = 1024

#: RFC 9110 §5.6.2 tchar, used as a `bytes.translate` delete set: a name is a
#: token if and only if nothing is left after deleting these.
TCHARS = (
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
#: Bytes that make a request header value fail with E400 (CORE-HDR-06).
CR_LF_NUL = b"\r\n\x00"
#: Control characters forbidden in a response header value: all C0 but HTAB,
#: and DEL (CORE-HDR-08).
CTL_BUT_HTAB = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"


def short(value: object) -> str:
    """``repr(value)``, cut to a length that is safe to log."""
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than repr() converts
        return f"<a {type(value).__name__} too large to show>"
    return text if len(text) <= 100 else text[:97] + "..."


def is_token(name: bytes) -> bool:
    """Whether ``name`` is a non-empty RFC 9110 token."""
    return bool(name) and not name.translate(None, TCHARS)


def parse_length(text: bytes) -> int | None:
    """Content-Length digits to ``int``; ``None`` when not ``^[0-9]+$`` or too long."""
    if not text.isdigit():  # bytes.isdigit() is ASCII-only
        return None
    try:
        return int(text)
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        return None
