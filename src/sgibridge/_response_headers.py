# Theory of operation
# ===================
#
# Response header lists, both directions (CORE-HDR-08..11,
# W2A-SR-03..05, A2W-SEND-02..04; PEP 3333 §The start_response() Callable and
# §Other HTTP Features; the ASGI www spec §Response Start; RFC 9110 §5).
#
# Each list is validated and converted in one pass. Order and duplicates are
# kept (several `set-cookie` lines stay several lines), except that hop-by-hop
# fields are removed and an identical repeated Content-Length collapses to its
# first line; the declared length is returned beside the list so the adapter
# need not search for it.
#
# Names are checked once and then remembered: each direction has a dict from
# the name as the app spelled it to (converted name, kind), where the kind says
# plain, hop-by-hop or Content-Length. The caches stop growing at
# `CACHE_MAX` entries (SEC-06); past that, names are checked every time.
#
# Liberal in what the app hands us, strict on the wire. What Gunicorn,
# Uvicorn, Hypercorn or Werkzeug accept with a plain meaning is read as they
# read it: any iterable of pairs and 2-item lists from a WSGI app, `int` values
# as decimal text (W2A-SR-03), `bytearray`/`memoryview` from an ASGI app
# (A2W-SEND-02), SP/HTAB around a name, and a Content-Length that lists one
# length several times (RFC 9110 §8.6). These go through the slow path only;
# the plain `(str, str)` tuple and `(bytes, bytes)` pair stay on the fast one.
# What leaves is always a token name and a latin-1 value free of CR, LF, NUL
# and every other control but HTAB (CORE-HDR-08, SEC-01/02).
"""Response headers, WSGI ⇄ ASGI (CORE-HDR-08..11)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from ._exceptions import ASGIProtocolError, WSGIProtocolError
from ._rules import see
from ._strings import CACHE_MAX, CTL_BUT_HTAB, is_token, parse_length, short

__all__ = ("HOP_BY_HOP", "asgi_response_headers", "wsgi_response_headers")

_logger = logging.getLogger("sgibridge")

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


def _wsgi_name(name: str) -> tuple[bytes, int]:
    # SP/HTAB around a name are not part of it, as Hypercorn reads it.
    raw = name.strip(" \t").encode("latin-1") if name.isascii() else b""
    if not is_token(raw):
        raise WSGIProtocolError(
            f"CORE-HDR-08: a response header name must be a non-empty RFC 9110 token, "
            f"got {short(name)} ({see('CORE-HDR-08')})"
        )
    lower = raw.lower()
    entry = (lower, _kind(lower))
    if len(_WSGI_NAMES) < CACHE_MAX:
        _WSGI_NAMES[name] = entry
    return entry


def _asgi_name(name: bytes) -> tuple[str, int]:
    raw = name.strip(b" \t")
    if not is_token(raw):
        raise ASGIProtocolError(
            f"CORE-HDR-08: a response header name must be a non-empty RFC 9110 token, "
            f"got {short(name)} ({see('CORE-HDR-08')})"
        )
    entry = (raw.decode("latin-1"), _kind(raw.lower()))
    if len(_ASGI_NAMES) < CACHE_MAX:
        _ASGI_NAMES[name] = entry
    return entry


def _listed_length(value: bytes) -> int | None:
    """W2A-SR-05, A2W-SEND-02: one length listed several times (``5, 5``).

    RFC 9110 §8.6 lets a recipient read such a Content-Length as that length,
    and h11 accepts it; ``None`` when the items are not all the same length.
    """
    lengths = {parse_length(part.strip(b" \t")) for part in value.split(b",")}
    return lengths.pop() if len(lengths) == 1 else None


def _check_header_list(headers: object) -> None:
    """W2A-SR-03: an iterable of pairs; a ``str``, ``bytes`` or mapping is not."""
    if isinstance(headers, (str, bytes, bytearray, Mapping)) or not isinstance(
        headers, Iterable
    ):
        raise WSGIProtocolError(
            f"W2A-SR-03: response headers must be a list of (str, str) tuples, "
            f"got {short(headers)} ({see('W2A-SR-03')})"
        )


def _wsgi_pair(item: object) -> tuple[str, str]:
    """W2A-SR-03: a header that is not a ``(str, str)`` tuple, read liberally.

    A 2-item list is a pair, and an ``int`` value (not a ``bool``) is its
    decimal text, as Gunicorn and Werkzeug iterate and send them.
    """
    if isinstance(item, (tuple, list)) and len(item) == 2:
        name, value = item
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                value = str(int(value))
            except ValueError:  # more digits than str() converts: refused below
                pass
        if isinstance(name, str) and isinstance(value, str):
            return name, value
    raise WSGIProtocolError(
        f"W2A-SR-03: each response header must be a (str, str) tuple, got {short(item)}"
        f" ({see('W2A-SR-03')})"
    )


def _asgi_pair(name: object, value: object, item: object) -> tuple[bytes, bytes]:
    """A2W-SEND-02: a name and value that are ``bytes``-like, as ``bytes``.

    ``bytearray`` and ``memoryview`` are read as their bytes, as h11 (Uvicorn,
    Hypercorn) does; anything else, ``str`` included, is refused.
    """
    if isinstance(name, (bytes, bytearray, memoryview)) and isinstance(
        value, (bytes, bytearray, memoryview)
    ):
        return bytes(name), bytes(value)
    raise ASGIProtocolError(
        f"A2W-SEND-02: header names and values must be bytes, got {short(item)}"
        f" ({see('A2W-SEND-02')})"
    )


def _drop_hop_by_hop(name: str, strict: bool, warned: set[str]) -> None:
    """W2A-SR-04: raise for a hop-by-hop name, or log it once per response."""
    if strict:
        raise WSGIProtocolError(
            f"W2A-SR-04: hop-by-hop header {name!r} is not allowed in a WSGI "
            f"response (PEP 3333 §Other HTTP Features) ({see('W2A-SR-04')})"
        )
    lower = name.strip(" \t").lower()
    if lower not in warned:
        warned.add(lower)
        _logger.warning(
            "W2A-SR-04: dropped hop-by-hop response header %r set by the WSGI app (%s)",
            name,
            see("W2A-SR-04"),
        )


def wsgi_response_headers(
    headers: object, *, hop_by_hop: Literal["drop", "error"] = "drop"
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Validate a WSGI response header list and convert it to ASGI headers.

    Implements W2A-SR-03/04/05 and CORE-HDR-08/09/10: names are lowercase
    latin-1 bytes, values are stripped of SP/HTAB, order and duplicates are
    kept, except that an identical repeated ``Content-Length`` collapses into
    its first line.

    :param headers: what the app passed to ``start_response``: a ``list`` of
        ``(str, str)`` tuples, or any iterable of such pairs or 2-item lists,
        whose values may also be ``int`` (W2A-SR-03).
    :param hop_by_hop: ``"drop"`` removes hop-by-hop fields (CORE-HDR-11) and
        logs each name once per call at WARNING; ``"error"`` raises.
    :return: ``(asgi_headers, content_length)``; the length is ``None`` when the
        app declared none.
    :raises WSGIProtocolError: for any violation, naming the rule and value.
    """
    strict = hop_by_hop == "error"
    if not strict and hop_by_hop != "drop":
        raise ValueError(f"hop_by_hop must be 'drop' or 'error', got {hop_by_hop!r}")
    if type(headers) is not list:
        _check_header_list(headers)
    result: list[tuple[bytes, bytes]] = []
    length: int | None = None
    warned: set[str] = set()
    for item in cast("Iterable[Any]", headers):
        if (
            type(item) is tuple
            and len(item) == 2
            and type(item[0]) is str
            and type(item[1]) is str
        ):
            name, value = item
        else:
            name, value = _wsgi_pair(item)
        entry = _WSGI_NAMES.get(name)
        if entry is None:
            entry = _wsgi_name(name)
        lower, kind = entry
        if kind == _HOP:
            _drop_hop_by_hop(name, strict, warned)
            continue
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError:
            raise WSGIProtocolError(
                f"CORE-HDR-08: response header {name!r} has a value that is not latin-1: "
                f"{short(value)} ({see('CORE-HDR-08')})"
            ) from None
        if len(data.translate(None, CTL_BUT_HTAB)) != len(data):
            raise WSGIProtocolError(
                f"CORE-HDR-08: response header {name!r} has a value containing a control "
                f"character: {short(value)} ({see('CORE-HDR-08')})"
            )
        data = data.strip(b" \t")
        if kind == _LENGTH:
            declared = parse_length(data)
            if declared is None:
                declared = _listed_length(data)
                data = b"%d" % declared if declared is not None else data
            if declared is None:
                raise WSGIProtocolError(
                    f"W2A-SR-05: Content-Length must match ^[0-9]+$, got {short(value)}"
                    f" ({see('W2A-SR-05')})"
                )
            if length is not None:
                if declared != length:
                    raise WSGIProtocolError(
                        f"W2A-SR-05: conflicting Content-Length headers: {length!r} and "
                        f"{declared!r} ({see('W2A-SR-05')})"
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

    :param headers: an iterable of 2-item sequences of ``bytes`` (or
        ``bytearray``/``memoryview``, read as their bytes).
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
            f"got {short(headers)} ({see('A2W-SEND-02')})"
        ) from None
    result: list[tuple[str, str]] = []
    length: int | None = None
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise ASGIProtocolError(
                f"A2W-SEND-02: each header must be a [name, value] pair, got {short(item)}"
                f" ({see('A2W-SEND-02')})"
            ) from None
        if type(name) is not bytes or type(value) is not bytes:
            name, value = _asgi_pair(name, value, item)
        entry = _ASGI_NAMES.get(name)
        if entry is None:
            entry = _asgi_name(name)
        text_name, kind = entry
        if kind == _HOP:
            continue  # A2W-SEND-04
        if len(value.translate(None, CTL_BUT_HTAB)) != len(value):
            raise ASGIProtocolError(
                f"CORE-HDR-08: response header {name!r} has a value containing a control "
                f"character: {short(value)} ({see('CORE-HDR-08')})"
            )
        value = value.strip(b" \t")
        if kind == _LENGTH:
            declared = parse_length(value)
            if declared is None:
                declared = _listed_length(value)
                value = b"%d" % declared if declared is not None else value
            if declared is None:
                raise ASGIProtocolError(
                    f"A2W-SEND-02: content-length must match ^[0-9]+$, got {short(value)}"
                    f" ({see('A2W-SEND-02')})"
                )
            if length is not None:
                if declared != length:
                    raise ASGIProtocolError(
                        f"A2W-SEND-02: conflicting content-length headers: {length!r} and "
                        f"{declared!r} ({see('A2W-SEND-02')})"
                    )
                continue
            length = declared
        result.append((text_name, value.decode("latin-1")))
    return result, length
