# Theory of operation
# ===================
#
# WSGI environ -> ASGI scope, for ASGIToWSGI (docs/behaviour.md §3.2, A2W-SCOPE-01..13,
# with CORE-HDR-07 and CORE-PATH-*; the ASGI www spec §HTTP Connection Scope,
# §WSGI Compatibility and §WSGI encoding differences; PEP 3333 §environ
# Variables).
#
# `environ_to_scope` builds a new scope dict and never changes the environ
# (CORE-STR-04). The WSGI server is trusted for the CGI keys' types only as far
# as PEP 3333 requires: a CGI value that is not a latin-1 `str` is the server's
# bug and raises `WSGIProtocolError`. Header keys (`HTTP_X_Y`) map back to
# names (`x-y`) through a dict cache that stops growing at `CACHE_MAX` entries
# (SEC-06). `raw_path` is taken from `REQUEST_URI`/`RAW_URI` only when it
# decodes to the same octets as `SCRIPT_NAME + PATH_INFO` (A2W-SCOPE-06), so a
# server that rewrote the path cannot make the two disagree.
#
# `request_body_length` decides how much of `wsgi.input` the adapter may read
# (A2W-RECV-01/02).
"""WSGI environ to ASGI scope (docs/behaviour.md §3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

from ._canned import RequestRejected
from ._exceptions import WSGIProtocolError
from ._paths import normalize_root_path, wsgi_to_asgi_path
from ._rules import see
from ._status import http_version
from ._strings import CACHE_MAX, CR_LF_NUL, is_token, parse_length, short

__all__ = ("environ_to_scope", "request_body_length")

#: Environ key -> ASGI header name (b"" = skip), bounded like the other caches.
_ENVIRON_NAMES: dict[str, bytes] = {}
_HTTPS_ON = frozenset({"on", "1", "yes"})
#: RFC 3986 pchar minus unreserved (always safe in quote) and "%", plus "/".
_RAW_PATH_SAFE = "/:@!$&'()*+,;="


def _environ_name(key: str) -> bytes:
    """CORE-HDR-07: ``HTTP_X_Y`` -> ``b"x-y"``; ``b""`` skips the key."""
    name = key[5:].lower().replace("_", "-").encode("latin-1", "replace")
    if not is_token(name) or name in (b"content-type", b"content-length"):
        name = b""
    if len(_ENVIRON_NAMES) < CACHE_MAX:
        _ENVIRON_NAMES[key] = name
    return name


def _environ_bytes(key: str, value: object) -> bytes:
    """A native string from the environ as latin-1 bytes (CORE-STR-02)."""
    if not isinstance(value, str):
        raise WSGIProtocolError(
            f"CORE-STR-01: environ[{key!r}] must be a str, got {short(value)}"
            f" ({see('CORE-STR-01')})"
        )
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise WSGIProtocolError(
            f"CORE-STR-02: environ[{key!r}] must be latin-1, got {short(value)}"
            f" ({see('CORE-STR-02')})"
        ) from None


def _header_value(key: str, value: object) -> bytes:
    data = _environ_bytes(key, value)
    if len(data.translate(None, CR_LF_NUL)) != len(data):
        raise RequestRejected(
            400,
            f"SEC-01: environ[{key!r}] contains CR, LF or NUL: {short(value)}"
            f" ({see('SEC-01')})",
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


def _target(environ: Mapping[str, Any]) -> tuple[str, str, bytes, bytes]:
    """A2W-SCOPE-05/06/07: ``root_path``, ``path``, ``raw_path`` and
    ``query_string``, the request target."""
    script_name = environ.get("SCRIPT_NAME", "")
    path_info = environ.get("PATH_INFO", "")
    octets = _environ_bytes("SCRIPT_NAME", script_name) + _environ_bytes(
        "PATH_INFO", path_info
    )
    root_path = wsgi_to_asgi_path(normalize_root_path(script_name))
    path = octets.decode("utf-8", "replace") or "/"
    raw_path = _raw_path(environ, octets or b"/")
    query = environ.get("QUERY_STRING") or ""
    return root_path, path, raw_path, _environ_bytes("QUERY_STRING", query)


def _length_text(value: object) -> object:
    """A2W-RECV-02: a non-negative ``int`` CONTENT_LENGTH as its decimal string.

    PEP 3333 says a string, but environs built by hand (Django's test suite)
    carry ``len(body)``. ``bool`` is not a length, and an ``int`` of more than
    64 bits is no real one: both stay as they are, to be refused.
    """
    if type(value) is int and 0 <= value and value.bit_length() <= 64:
        return str(value)
    return value


def _scheme_from_https(https: object) -> str:
    """A2W-SCOPE-04: the scheme when ``wsgi.url_scheme`` is missing or empty."""
    return "https" if isinstance(https, str) and https.lower() in _HTTPS_ON else "http"


def _scope_headers(environ: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """A2W-SCOPE-08, CORE-HDR-07: the scope's header list from the environ."""
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
            headers.append((name, _header_value(key, _length_text(value))))
    return headers


def environ_to_scope(
    environ: Mapping[str, Any],
    *,
    asgi_version: str = "3.0",
    state: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Translate a WSGI environ into an ASGI HTTP scope (docs/behaviour.md §3.2).

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
            f"got {short(method)} ({see('A2W-SCOPE-03')})"
        )
    scheme = environ.get("wsgi.url_scheme")
    if not (isinstance(scheme, str) and scheme):
        scheme = _scheme_from_https(environ.get("HTTPS"))

    root_path, path, raw_path, query_string = _target(environ)

    # A2W-SCOPE-08, CORE-HDR-07
    headers = _scope_headers(environ)

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
        stripping SP/HTAB), is negative, or is neither a ``str`` nor a
        non-negative ``int`` (not ``bool``).
    """
    value = _length_text(environ.get("CONTENT_LENGTH"))
    if value is None or value == "":
        return None if environ.get("wsgi.input_terminated") else 0
    if isinstance(value, str):
        length = parse_length(value.strip(" \t").encode("latin-1", "replace"))
        if length is not None:
            return length
    raise RequestRejected(
        400,
        f"A2W-RECV-02: CONTENT_LENGTH must match ^[0-9]+$, got {short(value)}"
        f" ({see('A2W-RECV-02')})",
    )
