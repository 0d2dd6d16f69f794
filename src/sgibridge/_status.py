# Theory of operation
# ===================
#
# Status codes and protocol versions, both directions (docs/behaviour.md §1.4;
# PEP 3333 §The start_response() Callable; the ASGI www spec §Response Start
# and §WSGI Compatibility; RFC 9110 §15).
#
# * A WSGI app gives a status line such as "200 OK"; ASGI wants the int. The
#   common, already valid lines are looked up in one dict (`_KNOWN_STATUS_LINES`)
#   before any parsing, so the usual case costs one hash (CORE-STAT-01/03).
# * An ASGI app gives an int; WSGI wants a line. Every valid code maps to its
#   line through one precomputed dict (CORE-STAT-02), with RFC 9110's reason
#   phrases where `HTTPStatus` before Python 3.13 still has the older ones, so
#   the line is the same on every Python.
# * A valid final status is any three digits from 200 to 999, as h11 and
#   Gunicorn put on the wire (RFC 9112 §4: `status-code = 3DIGIT`); a 1xx is
#   never final.
# * `SERVER_PROTOCOL` and the scope's `http_version` map through two small
#   tables (CORE-VER-01, W2A-ENV-07, A2W-SCOPE-02).
"""Status lines and protocol versions, WSGI ⇄ ASGI (docs/behaviour.md §1.4)."""

from __future__ import annotations

from http import HTTPStatus

from ._canned import CANNED_BODIES
from ._exceptions import ASGIProtocolError, WSGIProtocolError
from ._rules import see
from ._strings import short

__all__ = ("http_version", "parse_status_line", "server_protocol", "status_line")

#: ``str.translate`` table deleting the control characters a reason phrase must
#: not hold: all C0 but HTAB, and DEL (RFC 9112 §4 reason-phrase).
_CTL_BUT_HTAB = dict.fromkeys([*range(0x09), *range(0x0A, 0x20), 0x7F])


_SERVER_PROTOCOLS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2", "3": "HTTP/3"}
_HTTP_VERSIONS = {
    "HTTP/0.9": "1.0",
    "HTTP/1.0": "1.0",
    "HTTP/1.1": "1.1",
    "HTTP/2": "2",
    "HTTP/2.0": "2",
    "HTTP/3": "3",
    "HTTP/3.0": "3",
}


def server_protocol(http_version: str | None) -> str:
    """Map a scope ``http_version`` to ``SERVER_PROTOCOL`` (CORE-VER-01, W2A-ENV-07).

    ``None`` means ``"1.1"``. A version that is not in the table but is made of
    digits and dots (such as ``"2.0"``) is passed through as ``"HTTP/<v>"``.

    :raises ASGIProtocolError: for any other value.
    """
    if http_version is None:
        return "HTTP/1.1"
    if isinstance(http_version, str):
        known = _SERVER_PROTOCOLS.get(http_version)
        if known is not None:
            return known
        if http_version.isascii() and http_version.replace(".", "").isdigit():
            return "HTTP/" + http_version
    raise ASGIProtocolError(
        f"W2A-ENV-07: scope['http_version'] must be a version such as '1.1' or '2', "
        f"got {short(http_version)} ({see('W2A-ENV-07')})"
    )


def http_version(server_protocol: str | None) -> str:
    """Map ``SERVER_PROTOCOL`` to a scope ``http_version`` (CORE-VER-01, A2W-SCOPE-02).

    Case-insensitive; ``HTTP/2.0`` gives ``"2"``, ``HTTP/0.9`` gives ``"1.0"``,
    and a missing or unknown value gives ``"1.1"``.
    """
    if isinstance(server_protocol, str):
        return _HTTP_VERSIONS.get(server_protocol.strip().upper(), "1.1")
    return "1.1"


# ---------------------------------------------------------------------------
# CORE-STAT-* Status
# ---------------------------------------------------------------------------

#: The lowest and highest final status codes (CORE-STAT-01/02, as amended).
_MIN_STATUS = 200
_MAX_STATUS = 999

#: RFC 9110 §15 reason phrases that ``HTTPStatus`` has only from Python 3.13.
_RFC_9110_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def _phrase(code: int) -> str:
    phrase = _RFC_9110_PHRASES.get(code)
    if phrase is not None:
        return phrase
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


#: Every valid ASGI status mapped to its WSGI status line (CORE-STAT-02).
_STATUS_LINES: dict[int, str] = {
    code: f"{code} {_phrase(code)}" for code in range(_MIN_STATUS, _MAX_STATUS + 1)
}
#: Fast path for parse_status_line: the common status lines, already valid,
#: with both RFC 9110's phrases and those of this Python's ``HTTPStatus``.
_KNOWN_STATUS_LINES: dict[str, int] = {
    line: code for code, line in _STATUS_LINES.items() if not line.endswith(" Unknown")
}
_KNOWN_STATUS_LINES.update(
    {f"{s.value} {s.phrase}": s.value for s in HTTPStatus if s.value >= _MIN_STATUS}
)
_KNOWN_STATUS_LINES.update(
    {f"{code} {body.decode('ascii')}": code for code, body in CANNED_BODIES.items()}
)


def parse_status_line(status: object) -> int:
    """Validate a WSGI status (CORE-STAT-01) and return its code (CORE-STAT-03).

    Besides ``"200 OK"``, accepts what Gunicorn or Werkzeug serve and whose
    meaning is plain: an ``int`` (not a ``bool``), three digits alone, SP/HTAB
    around the line or between code and phrase, and a reason phrase that is
    not latin-1. The phrase is dropped, so only the code reaches the wire.

    :param status: what the app passed to ``start_response``.
    :return: the integer code.
    :raises WSGIProtocolError: naming the rule and ``status!r`` when the status
        is neither a ``str`` nor an ``int``, does not start with three ASCII
        digits followed by SP, HTAB or nothing, has a code outside 200-999, or
        has a reason phrase with a control character other than HTAB.
    """
    if type(status) is str:
        code = _KNOWN_STATUS_LINES.get(status)
        if code is not None:
            return code
    elif isinstance(status, int) and not isinstance(status, bool):
        return _code_in_range(int(status), status)
    if not isinstance(status, str):
        raise WSGIProtocolError(
            f"CORE-STAT-01: the status must be a str such as '200 OK', got {short(status)}"
            f" ({see('CORE-STAT-01')})"
        )
    line = status.strip(" \t")
    digits = line[:3]
    if not (len(digits) == 3 and digits.isascii() and digits.isdigit()) or (
        len(line) > 3 and line[3] not in " \t"
    ):
        raise WSGIProtocolError(
            "CORE-STAT-01: the status must start with three ASCII digits and a space, "
            f"such as '200 OK', got {short(status)} ({see('CORE-STAT-01')})"
        )
    code = _code_in_range(int(digits), status)
    reason = line[4:]
    if len(reason.translate(_CTL_BUT_HTAB)) != len(reason):
        raise WSGIProtocolError(
            "CORE-STAT-01: the reason phrase must not contain control characters, "
            f"got {short(status)} ({see('CORE-STAT-01')})"
        )
    return code


def _code_in_range(code: int, status: object) -> int:
    if _MIN_STATUS <= code <= _MAX_STATUS:
        return code
    raise WSGIProtocolError(
        f"CORE-STAT-01: the status code must be in the range 200-999, got {short(status)}"
        f" ({see('CORE-STAT-01')})"
    )


def status_line(status: object) -> str:
    """Validate an ASGI status (CORE-STAT-02) and return the WSGI status line.

    :return: ``"<code> <phrase>"`` with the RFC 9110 phrase (the
        :class:`http.HTTPStatus` one of Python 3.13, on every Python), or
        ``"Unknown"`` for a code it does not know, such as ``"723 Unknown"``.
    :raises ASGIProtocolError: unless ``status`` is an ``int`` (not a ``bool``)
        in the range 200-999.
    """
    if isinstance(status, int) and not isinstance(status, bool):
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
    raise ASGIProtocolError(
        f"CORE-STAT-02: the response status must be an int in the range 200-999, "
        f"got {short(status)} ({see('CORE-STAT-02')})"
    )
