# Theory of operation
# ===================
#
# This module is the sans-I/O core shared by both adapters (CONFORMANCE §1).
# Every function is pure: no threads, no event loop, no I/O, and no input is
# ever mutated (CORE-STR-04). The adapters call it once per request, so the
# request path is written for speed:
#
# * WSGI -> ASGI (W2A, CONFORMANCE §2.2). `environ_template` builds the
#   constant keys once per adapter (W2A-ENV-10/13/14/15/17); `scope_to_environ`
#   starts from `template.copy()` and sets only the per-request keys. Header
#   names are mapped through a dict cache from the raw name bytes to the
#   environ key (CORE-HDR-01/02/04/05). The cache is bounded by `_CACHE_MAX`:
#   once it is full, new names are computed every time and never stored, so a
#   client sending random names cannot grow memory. Values are checked for
#   CR/LF/NUL with one `bytes.translate(None, delete)` length compare
#   (CORE-HDR-06, SEC-01), which is faster than a regex or three `in` scans.
#   Repeated fields are collected into lists and joined once at the end, so a
#   flood of duplicates costs linear time and is capped by
#   `max_duplicate_headers` (CORE-HDR-03/12, SEC-06, the CVE-2025-14550 class
#   of bug).
#
# * Paths (CORE-PATH-*, PEP 3333 §Unicode Issues, www §WSGI encoding
#   differences). WSGI paths are octets held as latin-1 `str`; ASGI paths are
#   UTF-8-decoded `str`. An ASCII path converts to itself, so the conversions
#   short-circuit on `str.isascii()`. The `raw_path` preference of CORE-PATH-06
#   only changes the result when the server had to replace undecodable octets
#   with U+FFFD: if the chosen path contains no U+FFFD, a matching `raw_path`
#   decodes losslessly and gives exactly the CORE-PATH-01 result, so
#   `raw_path` is only unquoted when U+FFFD is present.
#
# * ASGI -> WSGI (A2W, CONFORMANCE §3.2). `environ_to_scope` builds a new scope
#   dict; header keys are mapped back through a second bounded cache
#   (CORE-HDR-07). `request_body_length` decides how much of `wsgi.input` the
#   adapter may read (A2W-RECV-01/02).
#
# * Responses (CORE-HDR-08..11, CORE-STAT-*, W2A-SR-03..05, A2W-SEND-02..04).
#   Header lists are validated in one pass; order and duplicates are kept,
#   except that hop-by-hop fields are removed and an identical repeated
#   Content-Length collapses to one line.
#
# Errors. A broken ASGI scope or message raises `ASGIProtocolError`; a broken
# WSGI status, header list or environ raises `WSGIProtocolError`. A request
# that the app must not see raises `RequestRejected` carrying the status of the
# canned response (§0) the adapter must send. Every message names the rule and
# shows the offending value with `!r` (STYLE.md §3), truncated so that a
# hostile 64 KiB header cannot flood the log.
"""The shared, I/O-free translation core between WSGI and ASGI (CONFORMANCE §1)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, Literal, TextIO, cast
from urllib.parse import quote_from_bytes, unquote_to_bytes

from ._exceptions import ASGIProtocolError, SGIBridgeError, WSGIProtocolError
from ._version import __version__

__all__ = (
    "CANNED_BODIES",
    "HOP_BY_HOP",
    "RequestRejected",
    "asgi_response_headers",
    "asgi_to_wsgi_path",
    "canned_asgi",
    "canned_wsgi",
    "environ_template",
    "environ_to_scope",
    "has_prefix",
    "http_version",
    "normalize_root_path",
    "parse_status_line",
    "request_body_length",
    "scope_to_environ",
    "server_protocol",
    "status_line",
    "wsgi_response_headers",
    "wsgi_to_asgi_path",
)

_logger = logging.getLogger("sgibridge")

#: Upper bound on each header-name cache; see the theory block.
_CACHE_MAX = 1024

#: RFC 9110 §5.6.2 tchar, used as a `bytes.translate` delete set: a name is a
#: token if and only if nothing is left after deleting these.
_TCHARS = (
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
#: Bytes that make a request header value fail with E400 (CORE-HDR-06).
_CR_LF_NUL = b"\r\n\x00"
#: Control characters forbidden in a response header value: all C0 but HTAB,
#: and DEL (CORE-HDR-08).
_CTL_BUT_HTAB = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
#: Control characters forbidden in a reason phrase (CORE-STAT-01).
_CTL = bytes(range(0x20)) + b"\x7f"


def _short(value: object) -> str:
    """``repr(value)``, cut to a length that is safe to log."""
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


# ---------------------------------------------------------------------------
# §0 Canned responses
# ---------------------------------------------------------------------------

#: The body of each canned response (CONFORMANCE §0). The reason phrase of the
#: status line is the body text, so it does not change between Python versions.
CANNED_BODIES: dict[int, bytes] = {
    400: b"Bad Request",
    404: b"Not Found",
    413: b"Payload Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}

_CANNED_CONTENT_TYPE = "text/plain; charset=utf-8"


def _canned_status(status: int) -> bytes:
    try:
        return CANNED_BODIES[status]
    except (KeyError, TypeError):
        raise ValueError(
            f"§0: there is no canned response for status {_short(status)}; "
            f"expected one of {sorted(CANNED_BODIES)!r}"
        ) from None


def canned_wsgi(status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    """Return a canned response (CONFORMANCE §0) in WSGI form.

    :param status: one of the keys of :data:`CANNED_BODIES`.
    :return: ``(status_line, headers, body)`` ready for ``start_response``; the
        header list is a new list on every call.
    :raises ValueError: if there is no canned response for ``status``.
    """
    body = _canned_status(status)
    return (
        f"{status} {body.decode('ascii')}",
        [("Content-Type", _CANNED_CONTENT_TYPE), ("Content-Length", str(len(body)))],
        body,
    )


def canned_asgi(status: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Return a canned response (CONFORMANCE §0) in ASGI form.

    :param status: one of the keys of :data:`CANNED_BODIES`.
    :return: ``(headers, body)`` with lowercase byte header names; the header
        list is a new list on every call.
    :raises ValueError: if there is no canned response for ``status``.
    """
    body = _canned_status(status)
    return (
        [
            (b"content-type", _CANNED_CONTENT_TYPE.encode("ascii")),
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


# ---------------------------------------------------------------------------
# CORE-VER-01 Protocol versions
# ---------------------------------------------------------------------------

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
        f"got {_short(http_version)}"
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


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


#: Every valid ASGI status mapped to its WSGI status line (CORE-STAT-02).
_STATUS_LINES: dict[int, str] = {
    code: f"{code} {_phrase(code)}" for code in range(200, 600)
}
#: Fast path for parse_status_line: the common status lines, already valid.
_KNOWN_STATUS_LINES: dict[str, int] = {
    line: code for code, line in _STATUS_LINES.items() if not line.endswith(" Unknown")
}
_KNOWN_STATUS_LINES.update(
    {f"{code} {body.decode('ascii')}": code for code, body in CANNED_BODIES.items()}
)


def parse_status_line(status: object) -> int:
    """Validate a WSGI status line (CORE-STAT-01) and return its code (CORE-STAT-03).

    :param status: what the app passed to ``start_response``.
    :return: the integer code; the reason phrase is dropped.
    :raises WSGIProtocolError: naming the rule and ``status!r`` when the line is
        not a ``str``, does not start with three ASCII digits and a space, has
        a code outside 200-599, or has a reason phrase that is not latin-1 or
        contains a control character.
    """
    if type(status) is str:
        code = _KNOWN_STATUS_LINES.get(status)
        if code is not None:
            return code
    if not isinstance(status, str):
        raise WSGIProtocolError(
            f"CORE-STAT-01: the status must be a str such as '200 OK', got {_short(status)}"
        )
    digits = status[:3]
    if (
        len(status) < 4
        or status[3] != " "
        or not (digits.isascii() and digits.isdigit())
    ):
        raise WSGIProtocolError(
            "CORE-STAT-01: the status must start with three ASCII digits and a space, "
            f"such as '200 OK', got {_short(status)}"
        )
    code = int(digits)
    if not 200 <= code <= 599:
        raise WSGIProtocolError(
            f"CORE-STAT-01: the status code must be in the range 200-599, got {_short(status)}"
        )
    try:
        reason = status[4:].encode("latin-1")
    except UnicodeEncodeError:
        raise WSGIProtocolError(
            f"CORE-STAT-01: the reason phrase must be latin-1, got {_short(status)}"
        ) from None
    if len(reason.translate(None, _CTL)) != len(reason):
        raise WSGIProtocolError(
            "CORE-STAT-01: the reason phrase must not contain control characters, "
            f"got {_short(status)}"
        )
    return code


def status_line(status: object) -> str:
    """Validate an ASGI status (CORE-STAT-02) and return the WSGI status line.

    :return: ``"<code> <phrase>"`` with the :class:`http.HTTPStatus` phrase, or
        ``"Unknown"`` for a code it does not know, such as ``"599 Unknown"``.
    :raises ASGIProtocolError: unless ``status`` is an ``int`` (not a ``bool``)
        in the range 200-599.
    """
    if isinstance(status, int) and not isinstance(status, bool):
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
    raise ASGIProtocolError(
        f"CORE-STAT-02: the response status must be an int in the range 200-599, "
        f"got {_short(status)}"
    )


# ---------------------------------------------------------------------------
# Response headers (CORE-HDR-08..11, W2A-SR-03..05, A2W-SEND-02..04)
# ---------------------------------------------------------------------------

#: The hop-by-hop field names of ``wsgiref.util.is_hop_by_hop`` (CORE-HDR-11).
HOP_BY_HOP: frozenset[str] = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_HOP_BY_HOP_BYTES = frozenset(name.encode("ascii") for name in HOP_BY_HOP)

# The kind of a response header name, stored in the name caches.
_PLAIN, _HOP, _LENGTH = 0, 1, 2

#: WSGI response name (app spelling) -> (lowercase ASGI name, kind).
_WSGI_NAMES: dict[str, tuple[bytes, int]] = {}
#: ASGI response name bytes -> (latin-1 name in the app's spelling, kind).
_ASGI_NAMES: dict[bytes, tuple[str, int]] = {}


def _kind(lower: bytes) -> int:
    if lower == b"content-length":
        return _LENGTH
    return _HOP if lower in _HOP_BY_HOP_BYTES else _PLAIN


def _is_token(name: bytes) -> bool:
    return bool(name) and not name.translate(None, _TCHARS)


def _wsgi_name(name: str) -> tuple[bytes, int]:
    raw = name.encode("latin-1") if name.isascii() else b""
    if not _is_token(raw):
        raise WSGIProtocolError(
            f"CORE-HDR-08: a response header name must be a non-empty RFC 9110 token, "
            f"got {_short(name)}"
        )
    lower = raw.lower()
    entry = (lower, _kind(lower))
    if len(_WSGI_NAMES) < _CACHE_MAX:
        _WSGI_NAMES[name] = entry
    return entry


def _asgi_name(name: bytes) -> tuple[str, int]:
    if not _is_token(name):
        raise ASGIProtocolError(
            f"CORE-HDR-08: a response header name must be a non-empty RFC 9110 token, "
            f"got {_short(name)}"
        )
    entry = (name.decode("latin-1"), _kind(name.lower()))
    if len(_ASGI_NAMES) < _CACHE_MAX:
        _ASGI_NAMES[name] = entry
    return entry


def _parse_length(text: bytes) -> int | None:
    """Content-Length digits to ``int``; ``None`` when not ``^[0-9]+$`` or too long."""
    if not text.isdigit():  # bytes.isdigit() is ASCII-only
        return None
    try:
        return int(text)
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        return None


def wsgi_response_headers(
    headers: object, *, hop_by_hop: Literal["drop", "error"] = "drop"
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Validate a WSGI response header list and convert it to ASGI headers.

    Implements W2A-SR-03/04/05 and CORE-HDR-08/09/10: names are lowercase
    latin-1 bytes, values are stripped of SP/HTAB, order and duplicates are
    kept, except that an identical repeated ``Content-Length`` collapses into
    its first line.

    :param headers: what the app passed to ``start_response``: a ``list`` of
        ``(str, str)`` tuples.
    :param hop_by_hop: ``"drop"`` removes hop-by-hop fields (CORE-HDR-11) and
        logs each name once per call at WARNING; ``"error"`` raises.
    :return: ``(asgi_headers, content_length)``; the length is ``None`` when the
        app declared none.
    :raises WSGIProtocolError: for any violation, naming the rule and value.
    """
    if hop_by_hop == "drop":
        strict = False
    elif hop_by_hop == "error":
        strict = True
    else:
        raise ValueError(f"hop_by_hop must be 'drop' or 'error', got {hop_by_hop!r}")
    if not isinstance(headers, list):
        raise WSGIProtocolError(
            f"W2A-SR-03: response headers must be a list of (str, str) tuples, "
            f"got {_short(headers)}"
        )
    result: list[tuple[bytes, bytes]] = []
    length: int | None = None
    warned: set[bytes] = set()
    for item in headers:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], str)
        ):
            raise WSGIProtocolError(
                f"W2A-SR-03: each response header must be a (str, str) tuple, got {_short(item)}"
            )
        name, value = item
        entry = _WSGI_NAMES.get(name)
        if entry is None:
            entry = _wsgi_name(name)
        lower, kind = entry
        if kind == _HOP:
            if strict:
                raise WSGIProtocolError(
                    f"W2A-SR-04: hop-by-hop header {name!r} is not allowed in a WSGI "
                    "response (PEP 3333 §Other HTTP Features)"
                )
            if lower not in warned:
                warned.add(lower)
                _logger.warning(
                    "W2A-SR-04: dropped hop-by-hop response header %r set by the WSGI app",
                    name,
                )
            continue
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError:
            raise WSGIProtocolError(
                f"CORE-HDR-08: response header {name!r} has a value that is not latin-1: "
                f"{_short(value)}"
            ) from None
        if len(data.translate(None, _CTL_BUT_HTAB)) != len(data):
            raise WSGIProtocolError(
                f"CORE-HDR-08: response header {name!r} has a value containing a control "
                f"character: {_short(value)}"
            )
        data = data.strip(b" \t")
        if kind == _LENGTH:
            declared = _parse_length(data)
            if declared is None:
                raise WSGIProtocolError(
                    f"W2A-SR-05: Content-Length must match ^[0-9]+$, got {_short(value)}"
                )
            if length is not None:
                if declared != length:
                    raise WSGIProtocolError(
                        f"W2A-SR-05: conflicting Content-Length headers: {length!r} and "
                        f"{declared!r}"
                    )
                continue
            length = declared
        result.append((lower, data))
    return result, length


def asgi_response_headers(headers: object) -> tuple[list[tuple[str, str]], int | None]:
    """Validate the headers of ``http.response.start`` and convert them for WSGI.

    Implements A2W-SEND-02/03/04 and CORE-HDR-08/09/10: names keep the app's
    spelling (latin-1 decoded), values are stripped of SP/HTAB, hop-by-hop
    fields are removed, and order and duplicates are kept, except that an
    identical repeated ``content-length`` collapses into its first line.

    :param headers: an iterable of 2-item sequences of ``bytes``.
    :return: ``(wsgi_headers, content_length)``; ``wsgi_headers`` is a ``list``
        of ``tuple[str, str]`` and the length is ``None`` when none was declared.
    :raises ASGIProtocolError: for any violation, including an invalid or
        conflicting ``content-length``.
    """
    try:
        items = iter(cast("Iterable[Any]", headers))
    except TypeError:
        raise ASGIProtocolError(
            f"A2W-SEND-02: 'headers' must be an iterable of [name, value] byte pairs, "
            f"got {_short(headers)}"
        ) from None
    result: list[tuple[str, str]] = []
    length: int | None = None
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise ASGIProtocolError(
                f"A2W-SEND-02: each header must be a [name, value] pair, got {_short(item)}"
            ) from None
        if not (isinstance(name, bytes) and isinstance(value, bytes)):
            raise ASGIProtocolError(
                f"A2W-SEND-02: header names and values must be bytes, got {_short(item)}"
            )
        entry = _ASGI_NAMES.get(name)
        if entry is None:
            entry = _asgi_name(name)
        text_name, kind = entry
        if kind == _HOP:
            continue  # A2W-SEND-04
        if len(value.translate(None, _CTL_BUT_HTAB)) != len(value):
            raise ASGIProtocolError(
                f"CORE-HDR-08: response header {name!r} has a value containing a control "
                f"character: {_short(value)}"
            )
        value = value.strip(b" \t")
        if kind == _LENGTH:
            declared = _parse_length(value)
            if declared is None:
                raise ASGIProtocolError(
                    f"A2W-SEND-02: content-length must match ^[0-9]+$, got {_short(value)}"
                )
            if length is not None:
                if declared != length:
                    raise ASGIProtocolError(
                        f"A2W-SEND-02: conflicting content-length headers: {length!r} and "
                        f"{declared!r}"
                    )
                continue
            length = declared
        result.append((text_name, value.decode("latin-1")))
    return result, length


# ---------------------------------------------------------------------------
# CORE-PATH-* Paths
# ---------------------------------------------------------------------------


def normalize_root_path(rp: str) -> str:
    """Normalise a ``root_path`` or ``SCRIPT_NAME`` (CORE-PATH-03).

    Trailing ``/`` are removed (so ``"/"`` becomes ``""``), and a non-empty
    result that does not start with ``/`` gets one, so the result is always
    ``""`` or starts with ``/`` and does not end with ``/``.
    """
    if rp.endswith("/"):
        rp = rp.rstrip("/")
    if rp and rp[0] != "/":
        rp = "/" + rp
    return rp


def has_prefix(path: str, rp: str) -> bool:
    """Whether ``rp`` is a prefix of ``path`` on a segment boundary (CORE-PATH-04).

    ``/app`` is a prefix of ``/app`` and ``/app/x`` but not of ``/application``.
    """
    if not rp:
        return True
    return path.startswith(rp) and (len(path) == len(rp) or path[len(rp)] == "/")


def asgi_to_wsgi_path(path: str) -> str:
    """Convert an ASGI path (UTF-8 text) to WSGI bytes-as-latin-1 (CORE-PATH-01).

    :raises UnicodeEncodeError: if ``path`` holds a lone surrogate.
    """
    return path if path.isascii() else path.encode("utf-8").decode("latin-1")


def wsgi_to_asgi_path(path: str) -> str:
    """Convert a WSGI path (bytes-as-latin-1) to ASGI UTF-8 text (CORE-PATH-01).

    Invalid UTF-8 becomes U+FFFD.

    :raises UnicodeEncodeError: if ``path`` holds a code point above U+00FF.
    """
    return path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace")


def _split_raw_path(
    raw_path: bytes, script: str, path_info: str
) -> tuple[str, str] | None:
    """CORE-PATH-06: ``SCRIPT_NAME``/``PATH_INFO`` from the raw octets, or ``None``.

    The octets are used only if they decode to the chosen full path. The split
    point is found by counting ``/``: byte 0x2F only ever decodes to ``/`` in
    UTF-8, and U+FFFD never stands for it, so ``script`` and the octets hold the
    same number of slashes before the boundary.
    """
    octets = unquote_to_bytes(raw_path)
    if octets.decode("utf-8", "replace") != script + path_info:
        return None
    if not path_info:
        cut = len(octets)
    elif path_info[0] == "/":
        cut = -1
        for _ in range(script.count("/") + 1):
            cut = octets.find(b"/", cut + 1)
    else:
        return None
    text = octets.decode("latin-1")
    return text[:cut], text[cut:]


# ---------------------------------------------------------------------------
# W2A-ENV-* Scope to environ
# ---------------------------------------------------------------------------


def environ_template(
    *, errors: TextIO, multithread: bool, multiprocess: bool, file_wrapper: object
) -> dict[str, Any]:
    """Build the constant environ keys, once per adapter.

    Covers W2A-ENV-10 (``wsgi.version``), W2A-ENV-13 (``wsgi.errors``),
    W2A-ENV-14 (the three flags, as real ``bool``), W2A-ENV-15
    (``wsgi.input_terminated``), W2A-ENV-16 (``wsgi.file_wrapper``) and
    W2A-ENV-17 (``SERVER_SOFTWARE``). :func:`scope_to_environ` copies it.
    """
    return {
        "wsgi.version": (1, 0),
        "wsgi.errors": errors,
        "wsgi.multithread": bool(multithread),
        "wsgi.multiprocess": bool(multiprocess),
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": file_wrapper,
        "SERVER_SOFTWARE": f"sgibridge/{__version__}",
    }


#: Marks ``:authority`` while headers are collected (CORE-HDR-05); never left
#: in an environ.
_AUTHORITY = ":authority"

#: Request header name bytes -> environ key ("" = drop). One cache per
#: ``underscore_headers`` mode.
_REQUEST_KEYS_DROP: dict[bytes, str] = {}
_REQUEST_KEYS_KEEP: dict[bytes, str] = {}


def _request_key(name: bytes, drop_underscore: bool) -> str:
    """CORE-HDR-01/02/04/05: the environ key of a request header name; "" drops it."""
    if type(name) is not bytes:
        raise TypeError(name)
    if not _is_token(name):
        return _AUTHORITY if name.lower() == b":authority" else ""
    if drop_underscore and b"_" in name:
        return ""
    key = "HTTP_" + name.upper().replace(b"-", b"_").decode("ascii")
    if key == "HTTP_CONTENT_TYPE" or key == "HTTP_CONTENT_LENGTH":
        # Only the real names map to CONTENT_*; "content_type" (under "keep")
        # would alias them and is dropped in both modes (CORE-HDR-04, SEC-12).
        return "" if b"_" in name else key[5:]
    return key


_COMMON_REQUEST_HEADERS = (
    b"accept",
    b"accept-encoding",
    b"accept-language",
    b"authorization",
    b"cache-control",
    b"connection",
    b"content-length",
    b"content-type",
    b"cookie",
    b"host",
    b"if-modified-since",
    b"if-none-match",
    b"origin",
    b"pragma",
    b"range",
    b"referer",
    b"sec-fetch-dest",
    b"sec-fetch-mode",
    b"sec-fetch-site",
    b"te",
    b"transfer-encoding",
    b"upgrade",
    b"upgrade-insecure-requests",
    b"user-agent",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-real-ip",
    b"x-request-id",
    b":authority",
)
for _name in _COMMON_REQUEST_HEADERS:
    _REQUEST_KEYS_DROP[_name] = _request_key(_name, True)
    _REQUEST_KEYS_KEEP[_name] = _request_key(_name, False)
del _name


def _join_cookies(values: list[str]) -> str:
    """CORE-HDR-03: pieces lose trailing ``"; "`` and are joined with ``"; "``."""
    return "; ".join([piece for piece in (v.rstrip("; ") for v in values) if piece])


def _native(value: object, rule: str, what: str) -> str:
    """A scope value that must become a latin-1 native string (CORE-STR-01)."""
    if type(value) is str and value.isascii():
        return value
    if isinstance(value, str):
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            pass
        else:
            return value
    raise ASGIProtocolError(
        f"{rule}: {what} must be a latin-1 str, got {_short(value)}"
    )


def _parse_host(host: str | None, default_port: str) -> tuple[str, str]:
    """W2A-ENV-05: ``[v6]:port``, ``name:port`` or ``name`` from a Host header."""
    if not host:
        return "localhost", default_port
    if host[0] == "[":
        end = host.find("]")
        if end < 0:
            name, port = host, ""
        else:
            name, rest = host[: end + 1], host[end + 1 :]
            port = rest[1:] if rest[:1] == ":" else ""
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, ""
    if not (port.isascii() and port.isdigit()):
        port = default_port
    return name or "localhost", port


def _server_name_port(server: object, host: str | None, https: bool) -> tuple[str, str]:
    """W2A-ENV-05: ``SERVER_NAME`` and ``SERVER_PORT``, neither ever empty."""
    default_port = "443" if https else "80"
    if server is None:
        return _parse_host(host, default_port)
    if isinstance(server, (tuple, list)) and len(server) == 2:
        name, port = server
        if port is None:  # a Unix socket
            return _parse_host(host, default_port)
        if (
            type(port) is int
            and port >= 0
            and type(name) is str
            and name
            and name.isascii()
        ):
            return name, str(port)
    return "localhost", default_port


def scope_to_environ(
    scope: Mapping[str, Any],
    template: dict[str, Any],
    *,
    root_path_mode: Literal["auto", "included", "excluded"] = "auto",
    underscore_headers: Literal["drop", "keep"] = "drop",
    max_duplicate_headers: int | None = 100,
) -> dict[str, Any]:
    """Translate an ASGI HTTP scope into a WSGI environ (CONFORMANCE §2.2).

    Implements W2A-ENV-01..11 and 17..19 with CORE-HDR-01..06/12 and
    CORE-PATH-*. Every key is set except ``wsgi.input`` and
    ``wsgi.early_hints``, which the adapter adds. ``asgi.scope`` is ``scope``
    itself; the scope is never modified.

    :param scope: the ASGI ``http`` connection scope.
    :param template: from :func:`environ_template`; copied, never modified.
    :param root_path_mode: how ``path`` relates to ``root_path`` (W2A-ENV-02).
    :param underscore_headers: drop or keep header names with ``_`` (CORE-HDR-04).
    :param max_duplicate_headers: most field lines one environ key may
        receive (CORE-HDR-12); ``None`` is unlimited.
    :raises ASGIProtocolError: when ``method`` is missing or the scope is malformed.
    :raises RequestRejected: 400 for CR/LF/NUL in a header value, a bad or
        conflicting Content-Length, or Content-Length with Transfer-Encoding;
        404 for a root path mismatch under ``"included"``; 431 when a key gets
        more than ``max_duplicate_headers`` lines.
    :raises ValueError: for an invalid knob value.
    """
    if underscore_headers == "drop":
        cache, drop_underscore = _REQUEST_KEYS_DROP, True
    elif underscore_headers == "keep":
        cache, drop_underscore = _REQUEST_KEYS_KEEP, False
    else:
        raise ValueError(
            f"underscore_headers must be 'drop' or 'keep', got {underscore_headers!r}"
        )
    if max_duplicate_headers is None:
        limit = sys.maxsize
    elif max_duplicate_headers >= 1:
        limit = max_duplicate_headers
    else:
        raise ValueError(
            f"max_duplicate_headers must be None or at least 1, got {max_duplicate_headers!r}"
        )

    environ = template.copy()

    # W2A-ENV-01
    try:
        method = scope["method"]
    except KeyError:
        raise ASGIProtocolError(
            "W2A-ENV-01: the HTTP scope has no 'method' key; "
            f"got keys {_short(sorted(map(str, scope)))}"
        ) from None
    environ["REQUEST_METHOD"] = _native(method, "W2A-ENV-01", "scope['method']")

    # CORE-HDR-01..06, CORE-HDR-12, W2A-ENV-08/09: one pass, join once.
    duplicates: dict[str, list[str]] | None = None
    item: Any = None
    try:
        for item in scope.get("headers") or ():
            name, value = item
            key = cache.get(name)
            if key is None:
                key = _request_key(name, drop_underscore)
                if len(cache) < _CACHE_MAX:
                    cache[name] = key
            if len(value.translate(None, _CR_LF_NUL)) != len(value):
                raise RequestRejected(
                    400,
                    f"CORE-HDR-06: request header {_short(name)} has a value containing "
                    f"CR, LF or NUL: {_short(value)}",
                )
            if not key:
                continue
            text = value.strip(b" \t").decode("latin-1")
            first = environ.get(key)
            if first is None:
                environ[key] = text
                continue
            if duplicates is None:
                duplicates = {}
            values = duplicates.get(key)
            if values is None:
                values = duplicates[key] = [first, text]
            else:
                values.append(text)
            if len(values) > limit:
                raise RequestRejected(
                    431,
                    f"CORE-HDR-12: more than max_duplicate_headers={limit!r} request "
                    f"field lines map to {key!r}",
                )
    except (TypeError, ValueError, AttributeError):
        raise ASGIProtocolError(
            "W2A-ENV-09: scope['headers'] must be an iterable of [name, value] byte "
            f"pairs, got item {_short(item)}"
        ) from None
    if duplicates is not None:
        for key, values in duplicates.items():
            if key == "CONTENT_LENGTH":
                if len(set(values)) != 1:
                    raise RequestRejected(
                        400,
                        f"W2A-ENV-08: conflicting Content-Length headers: {_short(values)}",
                    )
            elif key == "HTTP_COOKIE":
                environ[key] = _join_cookies(values)
            else:
                environ[key] = ", ".join(values)
    authority = environ.pop(_AUTHORITY, None)
    if authority is not None and "HTTP_HOST" not in environ:
        environ["HTTP_HOST"] = authority
    content_length = environ.get("CONTENT_LENGTH")
    if content_length is not None:
        # _parse_length also refuses more digits than int() converts, which
        # the adapter's int(CONTENT_LENGTH) would otherwise raise on.
        if (
            not content_length.isascii()
            or _parse_length(content_length.encode()) is None
        ):
            raise RequestRejected(
                400,
                f"W2A-ENV-08: Content-Length must match ^[0-9]+$, got {_short(content_length)}",
            )
        if "HTTP_TRANSFER_ENCODING" in environ:
            raise RequestRejected(
                400,
                "W2A-ENV-08: the request has both Content-Length and Transfer-Encoding "
                "(RFC 9112 §6.3)",
            )

    # W2A-ENV-02/03, CORE-PATH-01..06
    path = scope.get("path")
    root_path = scope.get("root_path") or ""
    if type(path) is not str or type(root_path) is not str:
        raise ASGIProtocolError(
            "W2A-ENV-02: scope['path'] and scope['root_path'] must be str, got "
            f"{_short(path)} and {_short(root_path)}"
        )
    rp = normalize_root_path(root_path)
    if root_path_mode == "auto":
        path_info = path[len(rp) :] if has_prefix(path, rp) else path
    elif root_path_mode == "included":
        if not has_prefix(path, rp):
            raise RequestRejected(
                404,
                f"W2A-ENV-02: path {_short(path)} is not under root_path {rp!r} "
                "(root_path_mode='included')",
            )
        path_info = path[len(rp) :]
    elif root_path_mode == "excluded":
        path_info = path
    else:
        raise ValueError(
            "root_path_mode must be 'auto', 'included' or 'excluded', "
            f"got {root_path_mode!r}"
        )
    if not rp and not path_info:
        path_info = "/"
    raw_path = scope.get("raw_path")
    if type(raw_path) is not bytes:
        raw_path = None
    split = None
    if raw_path is not None and ("\ufffd" in path_info or "\ufffd" in rp):
        split = _split_raw_path(raw_path, rp, path_info)
    if split is None:
        try:
            split = asgi_to_wsgi_path(rp), asgi_to_wsgi_path(path_info)
        except UnicodeEncodeError:
            raise ASGIProtocolError(
                f"CORE-PATH-01: the path is not encodable as UTF-8: {_short(rp + path_info)}"
            ) from None
    environ["SCRIPT_NAME"], environ["PATH_INFO"] = split

    # W2A-ENV-04, CORE-PATH-05
    query_string = scope.get("query_string") or b""
    if not isinstance(query_string, bytes):
        raise ASGIProtocolError(
            f"W2A-ENV-04: scope['query_string'] must be bytes, got {_short(query_string)}"
        )
    query = environ["QUERY_STRING"] = query_string.decode("latin-1")
    # W2A-ENV-17
    if raw_path is not None:
        uri = raw_path.decode("latin-1")
        environ["RAW_URI"] = uri + "?" + query if query else uri

    # W2A-ENV-11
    scheme = scope.get("scheme") or "http"
    if not isinstance(scheme, str):
        raise ASGIProtocolError(
            f"W2A-ENV-11: scope['scheme'] must be str, got {_short(scheme)}"
        )
    environ["wsgi.url_scheme"] = scheme
    https = scheme == "https"
    if https:
        environ["HTTPS"] = "on"

    # W2A-ENV-05/06/07
    environ["SERVER_NAME"], environ["SERVER_PORT"] = _server_name_port(
        scope.get("server"), environ.get("HTTP_HOST"), https
    )
    client = scope.get("client")
    if isinstance(client, (tuple, list)) and len(client) == 2:
        host, port = client
        if (
            type(host) is str
            and host
            and host.isascii()
            and type(port) is int
            and port >= 0
        ):
            environ["REMOTE_ADDR"] = host
            environ["REMOTE_PORT"] = str(port)
    environ["SERVER_PROTOCOL"] = server_protocol(scope.get("http_version"))

    environ["asgi.scope"] = scope
    return environ


# ---------------------------------------------------------------------------
# A2W-SCOPE-* Environ to scope
# ---------------------------------------------------------------------------

#: Environ key -> ASGI header name (b"" = skip), bounded like the other caches.
_ENVIRON_NAMES: dict[str, bytes] = {}
_HTTPS_ON = frozenset({"on", "1", "yes"})
#: RFC 3986 pchar minus unreserved (always safe in quote) and "%", plus "/".
_RAW_PATH_SAFE = "/:@!$&'()*+,;="


def _environ_name(key: str) -> bytes:
    """CORE-HDR-07: ``HTTP_X_Y`` -> ``b"x-y"``; ``b""`` skips the key."""
    name = key[5:].lower().replace("_", "-").encode("latin-1", "replace")
    if not _is_token(name) or name in (b"content-type", b"content-length"):
        name = b""
    if len(_ENVIRON_NAMES) < _CACHE_MAX:
        _ENVIRON_NAMES[key] = name
    return name


def _environ_bytes(key: str, value: object) -> bytes:
    """A native string from the environ as latin-1 bytes (CORE-STR-02)."""
    if not isinstance(value, str):
        raise WSGIProtocolError(
            f"CORE-STR-01: environ[{key!r}] must be a str, got {_short(value)}"
        )
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise WSGIProtocolError(
            f"CORE-STR-02: environ[{key!r}] must be latin-1, got {_short(value)}"
        ) from None


def _header_value(key: str, value: str) -> bytes:
    data = _environ_bytes(key, value)
    if len(data.translate(None, _CR_LF_NUL)) != len(data):
        raise RequestRejected(
            400, f"SEC-01: environ[{key!r}] contains CR, LF or NUL: {_short(value)}"
        )
    return data


def _uri_path(uri: str) -> str:
    """A2W-SCOPE-06: the path of a request target, origin- or absolute-form."""
    uri = uri.partition("?")[0]
    if not uri.startswith("/"):
        scheme_end = uri.find("://")
        if scheme_end >= 0:
            start = uri.find("/", scheme_end + 3)
            uri = uri[start:] if start >= 0 else ""
    return uri


def _raw_path(environ: Mapping[str, Any], octets: bytes) -> bytes:
    for key in ("REQUEST_URI", "RAW_URI"):
        uri = environ.get(key)
        if isinstance(uri, str) and uri:
            try:
                candidate = _uri_path(uri).encode("latin-1")
            except UnicodeEncodeError:
                continue
            if unquote_to_bytes(candidate) == octets:
                return candidate
    return quote_from_bytes(octets, _RAW_PATH_SAFE).encode("ascii")


def _port(value: object) -> int | None:
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= 10
    ):
        return int(value)
    return None


def environ_to_scope(
    environ: Mapping[str, Any],
    *,
    asgi_version: str = "3.0",
    state: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Translate a WSGI environ into an ASGI HTTP scope (CONFORMANCE §3.2).

    Implements A2W-SCOPE-01..13 with CORE-HDR-07 and CORE-PATH-*. The environ
    is never modified; ``scope["wsgi_environ"]`` is the environ itself.

    :param asgi_version: ``"3.0"`` or ``"2.0"`` (A2W-APP-03).
    :param state: the lifespan state; shallow-copied, ``{}`` when ``None``.
    :param extensions: used as given; the default is
        ``{"http.response.pathsend": {}}`` plus ``http.response.early_hint``
        when ``environ["wsgi.early_hints"]`` is callable (A2W-SCOPE-12).
    :raises WSGIProtocolError: when ``REQUEST_METHOD`` is missing or a CGI
        value is not a latin-1 ``str`` (the WSGI server broke PEP 3333).
    :raises RequestRejected: 400 when a header value holds CR, LF or NUL (SEC-01).
    """
    method = environ.get("REQUEST_METHOD")
    if not isinstance(method, str) or not method:
        raise WSGIProtocolError(
            f"A2W-SCOPE-03: environ['REQUEST_METHOD'] must be a non-empty str, "
            f"got {_short(method)}"
        )
    scheme = environ.get("wsgi.url_scheme")
    if not (isinstance(scheme, str) and scheme):
        https = environ.get("HTTPS")
        scheme = (
            "https" if isinstance(https, str) and https.lower() in _HTTPS_ON else "http"
        )

    # A2W-SCOPE-05/06
    script_name = environ.get("SCRIPT_NAME", "")
    path_info = environ.get("PATH_INFO", "")
    octets = _environ_bytes("SCRIPT_NAME", script_name) + _environ_bytes(
        "PATH_INFO", path_info
    )
    root_path = wsgi_to_asgi_path(normalize_root_path(script_name))
    path = octets.decode("utf-8", "replace") or "/"
    raw_path = _raw_path(environ, octets or b"/")

    # A2W-SCOPE-07
    query = environ.get("QUERY_STRING") or ""
    query_string = _environ_bytes("QUERY_STRING", query)

    # A2W-SCOPE-08, CORE-HDR-07
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if type(key) is str and key.startswith("HTTP_") and isinstance(value, str):
            name = _ENVIRON_NAMES.get(key)
            if name is None:
                name = _environ_name(key)
            if name:
                headers.append((name, _header_value(key, value)))
    for key, name in (
        ("CONTENT_TYPE", b"content-type"),
        ("CONTENT_LENGTH", b"content-length"),
    ):
        value = environ.get(key)
        if value:
            headers.append((name, _header_value(key, value)))

    # A2W-SCOPE-09/10
    server_name = environ.get("SERVER_NAME")
    server = (
        (server_name, _port(environ.get("SERVER_PORT")))
        if isinstance(server_name, str) and server_name
        else None
    )
    remote_addr = environ.get("REMOTE_ADDR")
    client = (
        (remote_addr, _port(environ.get("REMOTE_PORT")) or 0)
        if isinstance(remote_addr, str) and remote_addr
        else None
    )

    # A2W-SCOPE-12
    if extensions is None:
        extensions = {"http.response.pathsend": {}}
        if callable(environ.get("wsgi.early_hints")):
            extensions["http.response.early_hint"] = {}

    return {
        "type": "http",
        "asgi": {"version": asgi_version, "spec_version": "2.4"},
        "http_version": http_version(environ.get("SERVER_PROTOCOL")),
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": server,
        "state": {} if state is None else dict(state),
        "extensions": extensions,
        "wsgi_environ": environ,
    }


def request_body_length(environ: Mapping[str, Any]) -> int | None:
    """How many body bytes the adapter may read from ``wsgi.input`` (A2W-RECV-01/02).

    :return: the ``CONTENT_LENGTH`` as an ``int``; ``None`` (read to EOF) when it
        is absent or ``""`` and ``wsgi.input_terminated`` is true; otherwise ``0``.
    :raises RequestRejected: 400 when ``CONTENT_LENGTH`` is not digits (after
        stripping SP/HTAB), is negative, or is not a ``str``.
    """
    value = environ.get("CONTENT_LENGTH")
    if value is None or value == "":
        return None if environ.get("wsgi.input_terminated") else 0
    if isinstance(value, str):
        length = _parse_length(value.strip(" \t").encode("latin-1", "replace"))
        if length is not None:
            return length
    raise RequestRejected(
        400, f"A2W-RECV-02: CONTENT_LENGTH must match ^[0-9]+$, got {_short(value)}"
    )
