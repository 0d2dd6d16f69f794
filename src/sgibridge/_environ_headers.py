# Theory of operation
# ===================
#
# ASGI request header lines -> WSGI environ keys, for `scope_to_environ`
# (docs/behaviour.md §2.2: CORE-HDR-01..06/12, W2A-ENV-08/09/21). It runs once per
# request, so it is written for speed:
#
# * Header names are mapped through a dict cache from the raw name bytes to
#   the environ key (CORE-HDR-01/02/04/05), prefilled with the common names.
#   The cache is bounded by `CACHE_MAX`: once it is full, new names are
#   computed every time and never stored, so a client sending random names
#   cannot grow memory (SEC-06).
# * Values are checked for CR/LF/NUL with one `bytes.translate(None, delete)`
#   length compare (CORE-HDR-06, SEC-01), which is faster than a regex or
#   three `in` scans.
# * Repeated fields are collected into lists and joined once at the end, so a
#   flood of duplicates costs linear time and is capped by
#   `max_duplicate_headers` (CORE-HDR-03/12, SEC-06, the CVE-2025-14550 class
#   of bug). The join and the Content-Length checks run only for requests
#   that need them.
# * A request with Transfer-Encoding was framed by it in the server (RFC 9112
#   §6.3), so its Content-Length lines are left out of the environ instead of
#   refused (W2A-ENV-21): the app reads to EOF and sees no length that could
#   contradict the body.
"""Request header lines to environ keys (docs/behaviour.md §2.2)."""

from __future__ import annotations

import sys
from typing import Any

from ._canned import RequestRejected
from ._exceptions import ASGIProtocolError
from ._rules import see
from ._strings import CACHE_MAX, CR_LF_NUL, is_token, parse_length, short

__all__ = ("add_headers",)


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
    if not is_token(name):
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


def add_headers(
    environ: dict[str, Any],
    headers: Any,
    underscore_headers: str,
    max_duplicate_headers: int | None,
) -> None:
    """CORE-HDR-01..06, CORE-HDR-12, W2A-ENV-08/09: one pass, join once."""
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
            "max_duplicate_headers must be None or at least 1, "
            f"got {max_duplicate_headers!r}"
        )
    duplicates: dict[str, list[str]] | None = None
    item: Any = None
    try:
        for item in headers:
            name, value = item
            key = cache.get(name)
            if key is None:
                key = _request_key(name, drop_underscore)
                if len(cache) < CACHE_MAX:
                    cache[name] = key
            if len(value.translate(None, CR_LF_NUL)) != len(value):
                raise RequestRejected(
                    400,
                    f"CORE-HDR-06: request header {short(name)} has a value containing "
                    f"CR, LF or NUL: {short(value)} ({see('CORE-HDR-06')})",
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
            _repeat(duplicates, key, first, text, limit)
    except (TypeError, ValueError, AttributeError):
        raise ASGIProtocolError(
            "W2A-ENV-09: scope['headers'] must be an iterable of [name, value] byte "
            f"pairs, got item {short(item)} ({see('W2A-ENV-09')})"
        ) from None
    if duplicates is not None:
        _join_duplicates(environ, duplicates)
    if _AUTHORITY in environ:
        authority = environ.pop(_AUTHORITY)
        if "HTTP_HOST" not in environ:
            environ["HTTP_HOST"] = authority
    if "CONTENT_LENGTH" in environ:
        _check_content_length(environ)


def _repeat(
    duplicates: dict[str, list[str]], key: str, first: str, text: str, limit: int
) -> None:
    """CORE-HDR-12: one more field line for ``key``; 431 past ``limit`` lines."""
    values = duplicates.get(key)
    if values is None:
        values = duplicates[key] = [first, text]
    else:
        values.append(text)
    if len(values) > limit:
        raise RequestRejected(
            431,
            f"CORE-HDR-12: more than max_duplicate_headers={limit!r} request "
            f"field lines map to {key!r} ({see('CORE-HDR-12')})",
        )


def _join_duplicates(environ: dict[str, Any], duplicates: dict[str, list[str]]) -> None:
    """CORE-HDR-03, W2A-ENV-08: join repeated fields; differing lengths are E400."""
    for key, values in duplicates.items():
        if key == "CONTENT_LENGTH":
            if len(set(values)) != 1 and "HTTP_TRANSFER_ENCODING" not in environ:
                raise RequestRejected(
                    400,
                    f"W2A-ENV-08: conflicting Content-Length headers: {short(values)}"
                    f" ({see('W2A-ENV-08')})",
                )
        elif key == "HTTP_COOKIE":
            environ[key] = _join_cookies(values)
        else:
            environ[key] = ", ".join(values)


def _check_content_length(environ: dict[str, Any]) -> None:
    """W2A-ENV-08/21: ``CONTENT_LENGTH`` is digits, or left out under Transfer-Encoding."""
    if "HTTP_TRANSFER_ENCODING" in environ:
        # W2A-ENV-21: the server framed the body by Transfer-Encoding, which
        # overrides Content-Length (RFC 9112 §6.3); a length beside it would
        # contradict the body the app reads, so the app sees none.
        del environ["CONTENT_LENGTH"]
        return
    content_length = environ["CONTENT_LENGTH"]
    # parse_length also refuses more digits than int() converts, which the
    # adapter's int(CONTENT_LENGTH) would otherwise raise on.
    if not content_length.isascii() or parse_length(content_length.encode()) is None:
        raise RequestRejected(
            400,
            f"W2A-ENV-08: Content-Length must match ^[0-9]+$, got {short(content_length)}"
            f" ({see('W2A-ENV-08')})",
        )
