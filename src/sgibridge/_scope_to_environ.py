# Theory of operation
# ===================
#
# ASGI scope -> WSGI environ, for WSGIToASGI (docs/behaviour.md §2.2, W2A-ENV-01..19,
# with CORE-HDR-01..06/12 and CORE-PATH-*; PEP 3333 §environ Variables and
# §URL Reconstruction; the ASGI www spec §HTTP Connection Scope and §WSGI
# Compatibility; RFC 3875 §4.1).
#
# This runs once per request, so it is written for speed:
#
# * `environ_template` builds the constant keys once per adapter
#   (W2A-ENV-10/13/14/15/17); `scope_to_environ` starts from
#   `template.copy()` and sets only the per-request keys.
# * The header lines become `HTTP_*` keys in one pass through a bounded name
#   cache, in `_environ_headers` (CORE-HDR-01..06/12, W2A-ENV-08/09/21), which
#   says how that pass is kept fast.
#
# The scope is never modified (CORE-STR-04); `asgi.scope` is a shallow copy of it
# whose `headers` hide their values from repr() (W2A-ENV-17): error pages print
# the environ, and only key names tell them what to mask.
"""ASGI scope to WSGI environ (docs/behaviour.md §2.2)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TextIO

from ._canned import RequestRejected
from ._environ_headers import add_headers
from ._exceptions import ASGIProtocolError
from ._paths import asgi_to_wsgi_path, has_prefix, normalize_root_path, split_raw_path
from ._rules import see
from ._status import server_protocol
from ._strings import short
from ._version import __version__

__all__ = ("environ_template", "scope_to_environ")


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
        f"{rule}: {what} must be a latin-1 str, got {short(value)} ({see(rule)})"
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


class ScopeHeaders(Sequence[Any]):
    """``asgi.scope["headers"]`` (W2A-ENV-17): the scope's header list, read
    through, whose ``repr()`` names the headers but not their values.

    Debug pages print every environ value and mask secrets by key name only
    (``HTTP_COOKIE``); the same cookie in ``asgi.scope`` must not show there.
    Not a ``list`` or ``tuple``, so such pages do not rebuild it item by item.
    """

    __slots__ = ("_headers",)

    def __init__(self, headers: Sequence[Any]) -> None:
        self._headers = headers

    def __getitem__(self, index: Any) -> Any:
        return self._headers[index]

    def __len__(self) -> int:
        return len(self._headers)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._headers)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ScopeHeaders):
            other = other._headers
        if isinstance(other, (list, tuple)):
            return list(self._headers) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = ", ".join(short(_header_name(item)) for item in self._headers)
        return f"ScopeHeaders([{names}], values hidden)"


def _header_name(item: object) -> object:
    if isinstance(item, (tuple, list)) and item:
        return item[0]
    return "?"


def _address(value: object) -> tuple[Any, ...] | list[Any] | None:
    """W2A-ENV-05/06: a scope ``server``/``client`` as a sequence, or ``None``.

    ASGI types both as an iterable of (host, port): a tuple or list is used as
    it is; any other non-string iterable is read like a tuple, at most three
    items of it, so an endless one cannot hang the request.
    """
    if isinstance(value, (tuple, list)):
        return value
    if value is None or isinstance(value, (str, bytes, bytearray, Mapping)):
        return None
    if not isinstance(value, Iterable):
        return None
    items: list[Any] = []
    for item in value:
        items.append(item)
        if len(items) == 3:
            break
    return tuple(items)


def _add_addresses(
    environ: dict[str, Any], scope: Mapping[str, Any], https: bool
) -> None:
    """W2A-ENV-05/06: the server's and the client's address keys."""
    default_port = "443" if https else "80"
    raw_server = scope.get("server")
    server = _address(raw_server)
    name_port = "localhost", default_port
    if raw_server is None:
        name_port = _parse_host(environ.get("HTTP_HOST"), default_port)
    elif server is not None and len(server) == 2:
        name, port = server
        if port is None:  # a Unix socket
            name_port = _parse_host(environ.get("HTTP_HOST"), default_port)
        elif (number := _port(port)) is not None and _is_host(name):
            name_port = name, number
    # SERVER_NAME and SERVER_PORT are never empty (W2A-ENV-05).
    environ["SERVER_NAME"], environ["SERVER_PORT"] = name_port
    client = _address(scope.get("client"))
    if client is not None and len(client) == 2:
        host, port = client
        if (number := _port(port)) is not None and _is_host(host):
            environ["REMOTE_ADDR"] = host
            environ["REMOTE_PORT"] = number


def _is_host(value: object) -> bool:
    return type(value) is str and bool(value) and value.isascii()


def _port(value: object) -> str | None:
    """A port as the environ writes it, or ``None``: an ``int`` >= 0, or, read
    liberally (Quart's test client sends one), a ``str`` of ASCII digits."""
    if type(value) is int:
        return str(value) if value >= 0 else None
    if type(value) is str and len(value) <= 10 and value.isascii() and value.isdigit():
        return str(int(value))
    return None


def _script_and_path(
    scope: Mapping[str, Any], root_path_mode: str, raw_path: bytes | None
) -> tuple[str, str]:
    """W2A-ENV-02/03, CORE-PATH-01..06: ``SCRIPT_NAME`` and ``PATH_INFO``."""
    path = scope.get("path")
    root_path = scope.get("root_path") or ""
    if type(path) is not str or type(root_path) is not str:
        raise ASGIProtocolError(
            "W2A-ENV-02: scope['path'] and scope['root_path'] must be str, got "
            f"{short(path)} and {short(root_path)} ({see('W2A-ENV-02')})"
        )
    rp = normalize_root_path(root_path)
    if root_path_mode == "auto":
        path_info = path[len(rp) :] if has_prefix(path, rp) else path
    elif root_path_mode == "included":
        if not has_prefix(path, rp):
            raise RequestRejected(
                404,
                f"W2A-ENV-02: path {short(path)} is not under root_path {rp!r} "
                f"(root_path_mode='included') ({see('W2A-ENV-02')})",
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
    if raw_path is not None and ("\ufffd" in path_info or "\ufffd" in rp):
        split = split_raw_path(raw_path, rp, path_info)
        if split is not None:
            return split
    try:
        return asgi_to_wsgi_path(rp), asgi_to_wsgi_path(path_info)
    except UnicodeEncodeError:
        raise ASGIProtocolError(
            f"CORE-PATH-01: the path is not encodable as UTF-8: {short(rp + path_info)}"
            f" ({see('CORE-PATH-01')})"
        ) from None


def _add_path(
    environ: dict[str, Any], scope: Mapping[str, Any], root_path_mode: str
) -> None:
    """W2A-ENV-02/03/04/17, CORE-PATH-*: the path keys, the query and ``RAW_URI``."""
    raw_path = scope.get("raw_path")
    if type(raw_path) is not bytes:
        raw_path = None
    environ["SCRIPT_NAME"], environ["PATH_INFO"] = _script_and_path(
        scope, root_path_mode, raw_path
    )
    query_string = scope.get("query_string") or b""
    if not isinstance(query_string, bytes):
        raise ASGIProtocolError(
            f"W2A-ENV-04: scope['query_string'] must be bytes, got {short(query_string)}"
            f" ({see('W2A-ENV-04')})"
        )
    query = environ["QUERY_STRING"] = query_string.decode("latin-1")
    if raw_path is not None:
        uri = raw_path.decode("latin-1")
        environ["RAW_URI"] = uri + "?" + query if query else uri


def scope_to_environ(
    scope: Mapping[str, Any],
    template: dict[str, Any],
    *,
    root_path_mode: Literal["auto", "included", "excluded"] = "auto",
    underscore_headers: Literal["drop", "keep"] = "drop",
    max_duplicate_headers: int | None = 100,
) -> dict[str, Any]:
    """Translate an ASGI HTTP scope into a WSGI environ (docs/behaviour.md §2.2).

    Implements W2A-ENV-01..11 and 17..19 with CORE-HDR-01..06/12 and
    CORE-PATH-*. Every key is set except ``wsgi.input`` and
    ``wsgi.early_hints``, which the adapter adds. ``asgi.scope`` is a shallow
    copy of ``scope`` with its ``headers`` in a :class:`ScopeHeaders`; the scope
    is never modified.

    :param scope: the ASGI ``http`` connection scope.
    :param template: from :func:`environ_template`; copied, never modified.
    :param root_path_mode: how ``path`` relates to ``root_path`` (W2A-ENV-02).
    :param underscore_headers: drop or keep header names with ``_`` (CORE-HDR-04).
    :param max_duplicate_headers: most field lines one environ key may
        receive (CORE-HDR-12); ``None`` is unlimited.
    :raises ASGIProtocolError: when ``method`` is missing or the scope is malformed.
    :raises RequestRejected: 400 for CR/LF/NUL in a header value, or a bad or
        conflicting Content-Length without Transfer-Encoding (with it, the
        Content-Length is left out: W2A-ENV-21);
        404 for a root path mismatch under ``"included"``; 431 when a key gets
        more than ``max_duplicate_headers`` lines.
    :raises ValueError: for an invalid knob value.
    """
    environ = template.copy()

    # W2A-ENV-01
    try:
        method = scope["method"]
    except KeyError:
        raise ASGIProtocolError(
            "W2A-ENV-01: the HTTP scope has no 'method' key; "
            f"got keys {short(sorted(map(str, scope)))} ({see('W2A-ENV-01')})"
        ) from None
    environ["REQUEST_METHOD"] = _native(method, "W2A-ENV-01", "scope['method']")

    add_headers(
        environ, scope.get("headers") or (), underscore_headers, max_duplicate_headers
    )
    _add_path(environ, scope, root_path_mode)

    # W2A-ENV-11
    scheme = scope.get("scheme") or "http"
    if not isinstance(scheme, str):
        raise ASGIProtocolError(
            f"W2A-ENV-11: scope['scheme'] must be str, got {short(scheme)}"
            f" ({see('W2A-ENV-11')})"
        )
    environ["wsgi.url_scheme"] = scheme
    https = scheme == "https"
    if https:
        environ["HTTPS"] = "on"

    # W2A-ENV-05/06/07
    _add_addresses(environ, scope, https)
    environ["SERVER_PROTOCOL"] = server_protocol(scope.get("http_version"))

    view = dict(scope)
    headers = view.get("headers")
    if isinstance(headers, (list, tuple)):  # None or another iterable stays as it came
        view["headers"] = ScopeHeaders(headers)
    environ["asgi.scope"] = view
    return environ
