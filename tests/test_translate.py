"""Tests for the sans-I/O core, one test (or parametrised test) per requirement ID."""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import io
import itertools
import logging
import wsgiref.util
from http import HTTPStatus
from typing import Any

import pytest
import werkzeug.datastructures

from sgibridge import (
    _environ_headers,
    _environ_to_scope,
    _response_headers,
    _scope_to_environ,
)
from sgibridge._exceptions import ASGIProtocolError, SGIBridgeError, WSGIProtocolError
from sgibridge._strings import CACHE_MAX, short
from sgibridge._translate import (
    CANNED_BODIES,
    HOP_BY_HOP,
    RequestRejected,
    asgi_response_headers,
    asgi_to_wsgi_path,
    canned_asgi,
    canned_wsgi,
    environ_template,
    environ_to_scope,
    has_prefix,
    http_version,
    normalize_root_path,
    parse_status_line,
    request_body_length,
    scope_to_environ,
    server_protocol,
    status_line,
    wsgi_response_headers,
    wsgi_to_asgi_path,
)
from sgibridge._version import __version__


class _FileWrapper:
    pass


ERRORS = io.StringIO()
TEMPLATE = environ_template(
    errors=ERRORS, multithread=True, multiprocess=False, file_wrapper=_FileWrapper
)
MISSING: Any = object()
Headers = list[tuple[bytes, bytes]]


def make_scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(overrides)
    return {k: v for k, v in scope.items() if v is not MISSING}


def to_environ(knobs: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    return scope_to_environ(make_scope(**overrides), TEMPLATE, **(knobs or {}))


def with_headers(*headers: tuple[bytes, bytes], **knobs: Any) -> dict[str, Any]:
    return scope_to_environ(make_scope(headers=list(headers)), TEMPLATE, **knobs)


def rejected(status: int, **overrides: Any) -> RequestRejected:
    knobs = overrides.pop("knobs", None)
    with pytest.raises(RequestRejected) as info:
        to_environ(knobs, **overrides)
    assert info.value.status == status
    return info.value


def make_environ(**overrides: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "wsgi.url_scheme": "http",
    }
    environ.update(overrides)
    return {k: v for k, v in environ.items() if v is not MISSING}


def to_scope(**overrides: Any) -> dict[str, Any]:
    return environ_to_scope(make_environ(**overrides))


# ---------------------------------------------------------------------------
# §0 canned responses and RequestRejected
# ---------------------------------------------------------------------------

CANNED_TABLE = [
    (400, b"Bad Request", 11),
    (404, b"Not Found", 9),
    (413, b"Payload Too Large", 17),
    (431, b"Request Header Fields Too Large", 31),
    (500, b"Internal Server Error", 21),
    (503, b"Service Unavailable", 19),
]


@pytest.mark.parametrize(("status", "body", "length"), CANNED_TABLE)
def test_canned_responses_section_0(status: int, body: bytes, length: int) -> None:
    """§0: one content-type header, an exact content-length, the fixed body."""
    assert CANNED_BODIES[status] == body
    line, wsgi_headers, wsgi_body = canned_wsgi(status)
    assert line == f"{status} {body.decode()}"
    assert wsgi_headers == [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(length)),
    ]
    assert wsgi_body == body
    asgi_headers, asgi_body = canned_asgi(status)
    assert asgi_headers == [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(length).encode()),
    ]
    assert asgi_body == body
    # A new header list on every call: a caller may mutate its copy.
    assert canned_wsgi(status)[1] is not wsgi_headers
    assert canned_asgi(status)[0] is not asgi_headers


def test_canned_500_exact_tuple_section_0() -> None:
    assert canned_wsgi(500) == (
        "500 Internal Server Error",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "21")],
        b"Internal Server Error",
    )


@pytest.mark.parametrize("status", [418, "500", None])
def test_canned_unknown_status_section_0(status: Any) -> None:
    with pytest.raises(ValueError, match="no canned response"):
        canned_wsgi(status)
    with pytest.raises(ValueError, match="no canned response"):
        canned_asgi(status)


def test_canned_unhashable_status_section_0() -> None:
    with pytest.raises(ValueError, match=r"no canned response for status \[\]"):
        canned_asgi([])  # type: ignore[arg-type]


def test_request_rejected_attributes() -> None:
    exc = RequestRejected(431, "CORE-HDR-12: too many")
    assert exc.status == 431
    assert exc.reason == "CORE-HDR-12: too many"
    assert str(exc) == "CORE-HDR-12: too many"
    assert isinstance(exc, SGIBridgeError)
    assert isinstance(exc, Exception)


# ---------------------------------------------------------------------------
# CORE-STR-*
# ---------------------------------------------------------------------------


def test_CORE_STR_01_native_strings_only() -> None:
    """CORE-STR-01: every dotless key holds an exact ``str`` at or below U+00FF."""
    environ = to_environ(
        path="/caf\xe9/\u20ac",
        raw_path=b"/caf%C3%A9/%E2%82%AC",
        query_string=b"q=\xff",
        headers=[
            (b"x-latin", b"\xe9\xff"),
            (b"host", b"h:1"),
            (b"content-length", b"3"),
        ],
        server=("/tmp/sock", None),
        client=("10.0.0.1", 1),
        method="G\xc9T",
    )
    for key, value in environ.items():
        if "." not in key:
            assert type(value) is str, key
            assert all(ord(c) <= 0xFF for c in value), key
    assert environ["REQUEST_METHOD"] == "G\xc9T"
    assert environ["SERVER_PORT"] == "1"


@pytest.mark.parametrize("method", ["G\u20acT", 5, b"GET", None])
def test_CORE_STR_01_bad_method_type(method: Any) -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-01"):
        to_environ(method=method)


def test_CORE_STR_02_latin1_both_ways() -> None:
    """CORE-STR-02: bytes<->str only through latin-1, no ASCII/UTF-8 fallback."""
    environ = with_headers((b"x-a", b"\xc3\xa9\xff"))
    assert environ["HTTP_X_A"] == "\xc3\xa9\xff"
    scope = environ_to_scope(environ)
    assert (b"x-a", b"\xc3\xa9\xff") in scope["headers"]
    with pytest.raises(WSGIProtocolError, match="CORE-STR-02"):
        to_scope(HTTP_X_A="\u20ac")
    with pytest.raises(WSGIProtocolError, match="CORE-HDR-08"):
        wsgi_response_headers([("X-A", "\u20ac")])


def test_CORE_STR_03_scope_field_types() -> None:
    """CORE-STR-03: byte fields are bytes and text fields are str."""
    scope = to_scope(
        PATH_INFO="/\xe9", QUERY_STRING="a=\xff", HTTP_X="y", CONTENT_TYPE="text/plain"
    )
    for field in ("query_string", "raw_path"):
        assert type(scope[field]) is bytes
    for name, value in scope["headers"]:
        assert type(name) is bytes and type(value) is bytes
    for field in ("type", "method", "scheme", "path", "root_path", "http_version"):
        assert type(scope[field]) is str


def test_CORE_STR_04_inputs_unchanged() -> None:
    """CORE-STR-04: the scope, template and environ are never changed."""
    scope = make_scope(
        headers=[(b"cookie", b"a=1"), (b"cookie", b"b=2"), (b":authority", b"x")],
        root_path="/r/",
        path="/r/x",
    )
    scope_before = copy.deepcopy(scope)
    template_before = dict(TEMPLATE)
    environ = scope_to_environ(scope, TEMPLATE)
    assert scope == scope_before
    assert TEMPLATE == template_before
    assert type(environ) is dict
    assert environ is not TEMPLATE
    environ_before = dict(environ)
    result = environ_to_scope(environ)
    assert environ == environ_before
    assert type(result) is dict


# ---------------------------------------------------------------------------
# CORE-HDR-*
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        (b"x-custom-header", "HTTP_X_CUSTOM_HEADER"),
        (b"X-Custom-Header", "HTTP_X_CUSTOM_HEADER"),
        (b"Content-Type", "CONTENT_TYPE"),
        (b"CONTENT-LENGTH", "CONTENT_LENGTH"),
        (b"HoSt", "HTTP_HOST"),
        (b"COOKIE", "HTTP_COOKIE"),
        (b"accept", "HTTP_ACCEPT"),
        (b"x-1!#$%&'*+.^`|~", "HTTP_X_1!#$%&'*+.^`|~"),
    ],
)
def test_CORE_HDR_01_name_mapping(name: bytes, key: str) -> None:
    """CORE-HDR-01: latin-1, upper-case, ``-`` to ``_``, ``HTTP_``; specials case-insensitive."""
    environ = with_headers((name, b"7"))
    assert environ[key] == "7"


def test_CORE_HDR_01_cookie_case_insensitive_join() -> None:
    environ = with_headers((b"Cookie", b"a=1"), (b"COOKIE", b"b=2"))
    assert environ["HTTP_COOKIE"] == "a=1; b=2"


def test_CORE_HDR_02_content_keys_without_prefix() -> None:
    """CORE-HDR-02: CONTENT_TYPE/CONTENT_LENGTH, never with ``HTTP_``."""
    environ = with_headers((b"content-type", b"text/plain"), (b"content-length", b"5"))
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_CORE_HDR_03_join_in_order() -> None:
    """CORE-HDR-03: repeated fields join in arrival order with ", "."""
    environ = with_headers(
        (b"accept", b"a"), (b"x-other", b"o"), (b"Accept", b"b"), (b"ACCEPT", b"c")
    )
    assert environ["HTTP_ACCEPT"] == "a, b, c"
    assert environ["HTTP_X_OTHER"] == "o"


def test_CORE_HDR_03_join_empty_values() -> None:
    environ = with_headers((b"x-a", b""), (b"x-a", b"v"))
    assert environ["HTTP_X_A"] == ", v"


@pytest.mark.parametrize(
    ("values", "joined"),
    [
        ([b"a=1", b"b=2"], "a=1; b=2"),
        ([b"a=1; ", b"b=2; "], "a=1; b=2"),
        ([b"a=1;", b"b=2", b"c=3;"], "a=1; b=2; c=3"),
        ([b"a=1", b";", b"b=2"], "a=1; b=2"),
        ([b"a=1; c=3", b"b=2"], "a=1; c=3; b=2"),
    ],
)
def test_CORE_HDR_03_cookie_join(values: list[bytes], joined: str) -> None:
    """CORE-HDR-03: cookie pieces lose trailing "; " and join with "; "."""
    environ = with_headers(*[(b"cookie", v) for v in values])
    assert environ["HTTP_COOKIE"] == joined


def test_CORE_HDR_03_single_cookie_untouched() -> None:
    assert with_headers((b"cookie", b"a=1;"))["HTTP_COOKIE"] == "a=1;"


def test_CORE_HDR_03_linear_join_unlimited() -> None:
    """CORE-HDR-03: values collected then joined once (10,000 lines, no limit)."""
    environ = with_headers(*[(b"x-a", b"v")] * 10_000, max_duplicate_headers=None)
    assert environ["HTTP_X_A"] == ", ".join(["v"] * 10_000)


def test_CORE_HDR_04_underscore_drop_default() -> None:
    """CORE-HDR-04: names with ``_`` are dropped under the default."""
    environ = with_headers((b"x_custom", b"1"), (b"x-other", b"2"))
    assert "HTTP_X_CUSTOM" not in environ
    assert environ["HTTP_X_OTHER"] == "2"


def test_CORE_HDR_04_underscore_keep() -> None:
    environ = with_headers((b"x_custom", b"1"), underscore_headers="keep")
    assert environ["HTTP_X_CUSTOM"] == "1"


@pytest.mark.parametrize("mode", ["drop", "keep"])
@pytest.mark.parametrize("name", [b"content_type", b"Content_Length", b"CONTENT_TYPE"])
def test_CORE_HDR_04_content_aliases_dropped(name: bytes, mode: str) -> None:
    environ = with_headers((name, b"9"), underscore_headers=mode)
    for key in (
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_CONTENT_TYPE",
        "HTTP_CONTENT_LENGTH",
    ):
        assert key not in environ


def test_CORE_HDR_04_invalid_mode() -> None:
    with pytest.raises(ValueError, match="underscore_headers"):
        to_environ({"underscore_headers": "merge"})


@pytest.mark.parametrize(
    "name",
    [
        b"",
        b"a b",
        b"a:b",
        b"a\r",
        b"a\n",
        b"a\x00",
        b"\xff",
        b"a\x7f",
        b"a(b)",
        b'a"',
        b":path",
    ],
)
def test_CORE_HDR_05_non_token_names_dropped(name: bytes) -> None:
    """CORE-HDR-05: non-token names and pseudo-headers are dropped silently."""
    environ = with_headers((name, b"v"), (b"x-ok", b"1"))
    header_keys = {k for k in environ if k.startswith(("HTTP_", "CONTENT_"))}
    assert header_keys == {"HTTP_X_OK"}


def test_CORE_HDR_05_authority_becomes_host() -> None:
    environ = to_environ(headers=[(b":authority", b"example.com:8443")], server=None)
    assert environ["HTTP_HOST"] == "example.com:8443"
    assert environ["SERVER_NAME"] == "example.com"
    assert environ["SERVER_PORT"] == "8443"
    assert ":authority" not in environ


def test_CORE_HDR_05_host_wins_over_authority() -> None:
    environ = with_headers((b":authority", b"a.example"), (b"host", b"b.example"))
    assert environ["HTTP_HOST"] == "b.example"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"  v  ", "v"),
        (b"\tv\t", "v"),
        (b" a b ", "a b"),
        (b"\xe9\xff", "\xe9\xff"),
        (b"\x01\x7f", "\x01\x7f"),
        (b"", ""),
    ],
)
def test_CORE_HDR_06_strip_and_latin1(raw: bytes, text: str) -> None:
    """CORE-HDR-06: SP/HTAB stripped; 0x80-0xFF pass through via latin-1."""
    assert with_headers((b"x-v", raw))["HTTP_X_V"] == text


@pytest.mark.parametrize("value", [b"a\rb", b"a\nb", b"a\x00b", b"\r\n", b"ok\n"])
@pytest.mark.parametrize("name", [b"x-v", b"x_dropped", b"cookie"])
def test_CORE_HDR_06_cr_lf_nul_rejected(name: bytes, value: bytes) -> None:
    """CORE-HDR-06: CR, LF or NUL in a request value gives E400 (even if the name is dropped)."""
    with pytest.raises(RequestRejected) as info:
        with_headers((b"x-ok", b"1"), (name, value))
    assert info.value.status == 400
    assert "CORE-HDR-06" in info.value.reason


def test_CORE_HDR_07_environ_to_headers() -> None:
    """CORE-HDR-07: HTTP_X_Y -> x-y; CONTENT_* only when non-empty; no splitting."""
    scope = to_scope(
        HTTP_X_Y="1",
        HTTP_ACCEPT="a, b, c",
        HTTP_CONTENT_TYPE="ignored/type",
        HTTP_CONTENT_LENGTH="99",
        CONTENT_TYPE="text/plain",
        CONTENT_LENGTH="5",
    )
    assert sorted(scope["headers"]) == [
        (b"accept", b"a, b, c"),
        (b"content-length", b"5"),
        (b"content-type", b"text/plain"),
        (b"x-y", b"1"),
    ]


def test_CORE_HDR_07_empty_content_keys_skipped() -> None:
    scope = to_scope(CONTENT_TYPE="", CONTENT_LENGTH="")
    assert scope["headers"] == []


@pytest.mark.parametrize("key", ["HTTP_", "HTTP_A B", "HTTP_\u20ac", "HTTP_A:B"])
def test_CORE_HDR_07_non_token_keys_skipped(key: str) -> None:
    assert to_scope(**{key: "v"})["headers"] == []


BAD_NAMES = ["", "X Y", "X:Y", "X\r", "X\n", "X\x00", "X\xe9", "X(", "\u20ac"]
BAD_VALUES = ["a\rb", "a\nb", "a\x00b", "a\x7fb", "a\x01b", "a\x1fb"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_CORE_HDR_08_bad_names(name: str) -> None:
    """CORE-HDR-08: names must be non-empty tokens, in both directions."""
    with pytest.raises(WSGIProtocolError, match="CORE-HDR-08"):
        wsgi_response_headers([(name, "v")])
    with pytest.raises(ASGIProtocolError, match="CORE-HDR-08"):
        asgi_response_headers([(name.encode("latin-1", "replace"), b"v")])


@pytest.mark.parametrize("name", ["X-Name ", " X-Name", "\tX-Name\t"])
def test_CORE_HDR_08_names_lose_surrounding_whitespace(name: str) -> None:
    """CORE-HDR-08 (amended): SP/HTAB around a name are stripped, as Hypercorn
    strips them; what is left must still be a token."""
    assert wsgi_response_headers([(name, "v")]) == ([(b"x-name", b"v")], None)
    assert asgi_response_headers([(name.encode(), b"v")]) == ([("X-Name", "v")], None)
    with pytest.raises(WSGIProtocolError, match="CORE-HDR-08"):
        wsgi_response_headers([(" ", "v")])
    with pytest.raises(ASGIProtocolError, match="CORE-HDR-08"):
        asgi_response_headers([(b"\t", b"v")])


@pytest.mark.parametrize("value", BAD_VALUES)
def test_CORE_HDR_08_control_characters(value: str) -> None:
    """CORE-HDR-08: no control character but HTAB; CR, LF, NUL, DEL excluded."""
    with pytest.raises(WSGIProtocolError, match="CORE-HDR-08"):
        wsgi_response_headers([("X-V", value)])
    with pytest.raises(ASGIProtocolError, match="CORE-HDR-08"):
        asgi_response_headers([(b"x-v", value.encode("latin-1"))])


def test_CORE_HDR_08_strip_htab_latin1() -> None:
    headers, _ = wsgi_response_headers([("X-V", " \ta\tb\xe9 \t")])
    assert headers == [(b"x-v", b"a\tb\xe9")]
    wsgi, _ = asgi_response_headers([(b"x-v", b" \ta\tb\xe9 \t")])
    assert wsgi == [("x-v", "a\tb\xe9")]


def test_CORE_HDR_09_name_spelling() -> None:
    """CORE-HDR-09: lowercase bytes names to ASGI; WSGI keeps the app's spelling."""
    headers, _ = wsgi_response_headers([("X-Mixed-Case", "1"), ("ETAG", "2")])
    assert headers == [(b"x-mixed-case", b"1"), (b"etag", b"2")]
    wsgi, _ = asgi_response_headers([(b"X-Mixed-Case", b"1"), (b"etag", b"2")])
    assert wsgi == [("X-Mixed-Case", "1"), ("etag", "2")]


def test_CORE_HDR_10_order_and_duplicates_kept() -> None:
    """CORE-HDR-10: order and duplicates are kept; set-cookie is never joined."""
    app = [("Set-Cookie", "a=1"), ("X-A", "1"), ("Set-Cookie", "b=2"), ("X-A", "1")]
    headers, _ = wsgi_response_headers(app)
    assert headers == [
        (b"set-cookie", b"a=1"),
        (b"x-a", b"1"),
        (b"set-cookie", b"b=2"),
        (b"x-a", b"1"),
    ]
    wsgi, _ = asgi_response_headers(headers)
    assert wsgi == [(n.lower(), v) for n, v in app]


def test_CORE_HDR_11_hop_by_hop_matches_wsgiref() -> None:
    """CORE-HDR-11: exactly the set ``wsgiref.util.is_hop_by_hop`` recognises."""
    for name in HOP_BY_HOP:
        assert name == name.lower()
        assert wsgiref.util.is_hop_by_hop(name)
        assert wsgiref.util.is_hop_by_hop(name.upper())
    assert len(HOP_BY_HOP) == 8
    for name in ("content-length", "set-cookie", "proxy-connection", "host"):
        assert name not in HOP_BY_HOP
        assert not wsgiref.util.is_hop_by_hop(name)


@pytest.mark.parametrize("limit", [1, 2, 100])
def test_CORE_HDR_12_duplicate_limit(limit: int) -> None:
    """CORE-HDR-12: at most max_duplicate_headers lines per key, else E431."""
    ok = with_headers(*[(b"x-a", b"v")] * limit, max_duplicate_headers=limit)
    assert ok["HTTP_X_A"] == ", ".join(["v"] * limit)
    with pytest.raises(RequestRejected) as info:
        with_headers(*[(b"X-A", b"v")] * (limit + 1), max_duplicate_headers=limit)
    assert info.value.status == 431
    assert "CORE-HDR-12" in info.value.reason
    assert "HTTP_X_A" in info.value.reason


def test_CORE_HDR_12_limit_is_per_key() -> None:
    headers = [(b"x-a", b"1"), (b"x-b", b"2")] * 3
    environ = with_headers(*headers, max_duplicate_headers=3)
    assert environ["HTTP_X_A"] == "1, 1, 1"


@pytest.mark.parametrize("limit", [0, -1])
def test_CORE_HDR_12_invalid_limit(limit: int) -> None:
    with pytest.raises(ValueError, match="max_duplicate_headers"):
        to_environ({"max_duplicate_headers": limit})


# ---------------------------------------------------------------------------
# CORE-PATH-*
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asgi", "wsgi"),
    [
        ("/plain", "/plain"),
        ("/caf\xe9", "/caf\xc3\xa9"),
        ("/\u20ac", "/\xe2\x82\xac"),
        ("/\U0001f600", "/\xf0\x9f\x98\x80"),
        ("", ""),
    ],
)
def test_CORE_PATH_01_conversions(asgi: str, wsgi: str) -> None:
    """CORE-PATH-01: ASGI->WSGI is utf-8->latin-1; WSGI->ASGI the reverse."""
    assert asgi_to_wsgi_path(asgi) == wsgi
    assert wsgi_to_asgi_path(wsgi) == asgi
    environ = to_environ(path=asgi or "/", raw_path=None)
    assert environ["PATH_INFO"] == (wsgi or "/")


def test_CORE_PATH_01_invalid_utf8_replaced() -> None:
    assert wsgi_to_asgi_path("/\xff") == "/\ufffd"
    with pytest.raises(UnicodeEncodeError):
        wsgi_to_asgi_path("/\u20ac")
    with pytest.raises(UnicodeEncodeError):
        asgi_to_wsgi_path("/\udcff")


def test_CORE_PATH_01_surrogate_in_scope_path() -> None:
    with pytest.raises(ASGIProtocolError, match="CORE-PATH-01"):
        to_environ(path="/\udcff", raw_path=None)


@pytest.mark.parametrize(
    "path", ["/a%2Fb", "/a/./b", "/a/../b", "//a//", "/a/", "/A/b", "/a%252Fb"]
)
def test_CORE_PATH_02_no_decoding_or_normalisation(path: str) -> None:
    """CORE-PATH-02: never decoded twice, never normalised."""
    environ = to_environ(path=path, raw_path=path.replace("%", "%25").encode())
    assert environ["PATH_INFO"] == path
    scope = environ_to_scope(environ)
    assert scope["path"] == path


def test_CORE_PATH_02_wire_2f() -> None:
    """CORE-PATH-02: wire ``/a%252Fb`` -> path ``/a%2Fb`` -> PATH_INFO ``/a%2Fb``."""
    environ = to_environ(path="/a%2Fb", raw_path=b"/a%252Fb")
    assert environ["PATH_INFO"] == "/a%2Fb"


@pytest.mark.parametrize(
    ("rp", "normal"),
    [
        ("", ""),
        ("/", ""),
        ("/app", "/app"),
        ("/app/", "/app"),
        ("//", ""),
        ("/a/b/", "/a/b"),
        ("app", "/app"),
        ("app/", "/app"),
    ],
)
def test_CORE_PATH_03_normalize_root_path(rp: str, normal: str) -> None:
    """CORE-PATH-03: "" or starts with / and does not end with /."""
    assert normalize_root_path(rp) == normal
    environ = to_environ(root_path=rp, path="/zzz", raw_path=None)
    script = environ["SCRIPT_NAME"]
    assert script == normal
    assert script == "" or (script.startswith("/") and not script.endswith("/"))


def test_CORE_PATH_03_script_name_normalised_in_a2w() -> None:
    scope = to_scope(SCRIPT_NAME="/app/", PATH_INFO="")
    assert scope["root_path"] == "/app"
    assert scope["path"] == "/app/"


@pytest.mark.parametrize(
    ("path", "rp", "expected"),
    [
        ("/app", "", True),
        ("", "", True),
        ("/app", "/app", True),
        ("/app/", "/app", True),
        ("/app/x", "/app", True),
        ("/application", "/app", False),
        ("/ap", "/app", False),
        ("/other/app", "/app", False),
        ("", "/app", False),
    ],
)
def test_CORE_PATH_04_has_prefix(path: str, rp: str, expected: bool) -> None:
    """CORE-PATH-04: prefix on a segment boundary only."""
    assert has_prefix(path, rp) is expected


@pytest.mark.parametrize(
    "query", [b"", b"a=1&b=2", b"a+b=%20c", b"q=\xff\xfe", b"x=%2F?y", b"k=\xc3\xa9"]
)
def test_CORE_PATH_05_query_unchanged(query: bytes) -> None:
    """CORE-PATH-05: no decoding, no ``+`` handling, no leading ``?``, raw bytes ok."""
    environ = to_environ(query_string=query)
    assert environ["QUERY_STRING"] == query.decode("latin-1")
    assert environ_to_scope(environ)["query_string"] == query


def test_CORE_PATH_06_raw_path_keeps_invalid_utf8() -> None:
    """CORE-PATH-06: ``%FF`` survives through raw_path."""
    environ = to_environ(path="/a\ufffd", raw_path=b"/a%FF")
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/a\xff"


@pytest.mark.parametrize(
    ("root_path", "path", "raw", "script", "path_info"),
    [
        ("/r\ufffd", "/r\ufffd/x\ufffd", b"/r%FE/x%FF", "/r\xfe", "/x\xff"),
        ("/r\ufffd", "/r\ufffd", b"/r%FE", "/r\xfe", ""),
        ("/a/b", "/a/b/\ufffd/c", b"/a/b/%80/c", "/a/b", "/\x80/c"),
        ("/\u20ac", "/\u20ac/\ufffd", b"/%E2%82%AC/%FF", "/\xe2\x82\xac", "/\xff"),
        ("", "/x/\ufffd\ufffd", b"/x/\xff\xfe", "", "/x/\xff\xfe"),
    ],
)
def test_CORE_PATH_06_raw_path_with_root(
    root_path: str, path: str, raw: bytes, script: str, path_info: str
) -> None:
    environ = to_environ(root_path=root_path, path=path, raw_path=raw)
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script, path_info)


def test_CORE_PATH_06_legacy_path_without_root() -> None:
    """Under "auto" with a legacy path, raw_path still covers root + path."""
    environ = to_environ(root_path="/api", path="/x\ufffd", raw_path=b"/api/x%FF")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/api", "/x\xff")


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/a\ufffd", b"/b%FF"),  # raw_path does not match the path
        ("/a\ufffd", "/a%FF"),  # raw_path is not bytes
        ("/a\ufffd", None),
    ],
)
def test_CORE_PATH_06_fallback(path: str, raw: Any) -> None:
    """CORE-PATH-06: otherwise CORE-PATH-01 applies."""
    environ = to_environ(path=path, raw_path=raw)
    assert environ["PATH_INFO"] == "/a\xef\xbf\xbd"


def test_CORE_PATH_06_fallback_path_info_without_slash() -> None:
    environ = scope_to_environ(
        make_scope(root_path="/a", path="x\ufffd", raw_path=b"/ax%FF"),
        TEMPLATE,
        root_path_mode="excluded",
    )
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/a", "x\xef\xbf\xbd")


def test_CORE_PATH_06_ascii_path_ignores_raw_path() -> None:
    """Without U+FFFD the chosen path is lossless, so raw_path cannot differ."""
    environ = to_environ(path="/a b", raw_path=b"/a%20b")
    assert environ["PATH_INFO"] == "/a b"


# ---------------------------------------------------------------------------
# CORE-STAT-*, CORE-VER-01
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("200 OK", 200),
        ("200 ", 200),
        ("201 Fine Thanks", 201),
        ("404  two spaces", 404),
        ("599 \xe9t\xe9", 599),
        ("500 Internal Server Error", 500),
        ("413 Payload Too Large", 413),
        ("413 Content Too Large", 413),
        ("422 Unprocessable Entity", 422),
        ("299 Whatever", 299),
        ("600 High", 600),
        ("723 Tricky", 723),
        ("999 Last", 999),
    ],
)
def test_CORE_STAT_01_valid_lines(line: str, code: int) -> None:
    """CORE-STAT-01: 3 ASCII digits, a space, a latin-1 phrase without controls.

    As amended, any final code of three digits, 200-999, is served, as h11
    and Gunicorn serve it.
    """
    assert parse_status_line(line) == code


@pytest.mark.parametrize(
    "line",
    [
        b"200 OK",
        None,
        200.0,
        True,
        1000,
        199,
        99,
        100,
        -200,
        "",
        "200OK",
        "200-OK",
        "20 OK",
        "2000 OK",
        "abc OK",
        "\u0662\u0660\u0660 OK",
        "199 Continue",
        "100 Continue",
        "1000 Nope",
        "99 Nope",
        "099 Nope",
        "200 OK\r\nX: y",
        "200 OK\n",
        "\n200 OK",
        "200 O\x00K",
        "200 O\x7fK",
        "200 O\x1bK",
    ],
)
def test_CORE_STAT_01_invalid_lines(line: object) -> None:
    with pytest.raises(WSGIProtocolError, match="CORE-STAT-01") as info:
        parse_status_line(line)
    assert repr(line)[:40] in str(info.value)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (200, 200),
        (HTTPStatus.NOT_FOUND, 404),
        (700, 700),
        (999, 999),
        ("204", 204),
        ("723", 723),
        (" 200 OK", 200),
        ("200 OK  ", 200),
        ("\t201\tCreated\t", 201),
        ("  404  ", 404),
        ("200 O\tK", 200),
        ("200 \u20ac", 200),
        ("503 \u670d\u52a1\u4e0d\u53ef\u7528", 503),
    ],
)
def test_CORE_STAT_01_liberal_lines(status: object, code: int) -> None:
    """CORE-STAT-01 (amended): what Gunicorn or Werkzeug serve, meaning unambiguous.

    An int status (Werkzeug's test client), three digits alone (Gunicorn,
    Werkzeug), SP/HTAB around the line or between code and phrase (Werkzeug),
    HTAB in the phrase (Gunicorn, RFC 9112 §4) and a phrase that is not
    latin-1 (Uvicorn's and Werkzeug's WSGI layers): the reason phrase is dropped
    (CORE-STAT-03), so only the code reaches the wire.
    """
    assert parse_status_line(status) == code


def test_CORE_STAT_02_status_line() -> None:
    """CORE-STAT-02: int (not bool) 200-999 -> "code phrase", unknown -> "Unknown"."""
    assert status_line(200) == "200 OK"
    assert status_line(404) == "404 Not Found"
    assert status_line(599) == "599 Unknown"
    assert status_line(700) == "700 Unknown"
    assert status_line(999) == "999 Unknown"
    assert status_line(HTTPStatus.CREATED) == "201 Created"
    for code in range(200, 1000):
        line = status_line(code)
        assert line.startswith(f"{code} ")
        assert parse_status_line(line) == code


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (413, "413 Content Too Large"),
        (414, "414 URI Too Long"),
        (416, "416 Range Not Satisfiable"),
        (422, "422 Unprocessable Content"),
        (418, "418 I'm a Teapot"),
        (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "413 Content Too Large"),
    ],
)
def test_CORE_STAT_02_rfc_9110_phrases(code: int, line: str) -> None:
    """CORE-STAT-02 (amended): RFC 9110's phrases on every Python.

    Python's ``HTTPStatus`` has the older phrases for these codes before 3.13;
    the line is the same on every Python, and it parses back to the code.
    """
    assert status_line(code) == line
    assert parse_status_line(line) == code


@pytest.mark.parametrize(
    "status", [True, False, "200", 200.0, None, 199, 1000, 99, -200, 100]
)
def test_CORE_STAT_02_invalid(status: object) -> None:
    with pytest.raises(ASGIProtocolError, match="CORE-STAT-02"):
        status_line(status)


def test_CORE_STAT_03_reason_dropped() -> None:
    """CORE-STAT-03: W2A uses int(status[:3]); the phrase is dropped."""
    assert parse_status_line("404 Whatever You Like") == 404
    assert parse_status_line("200 Not Actually OK") == 200


@pytest.mark.parametrize(
    ("version", "protocol"),
    [
        ("1.0", "HTTP/1.0"),
        ("1.1", "HTTP/1.1"),
        ("2", "HTTP/2"),
        ("3", "HTTP/3"),
        (None, "HTTP/1.1"),
        ("2.0", "HTTP/2.0"),
    ],
)
def test_CORE_VER_01_server_protocol(version: str | None, protocol: str) -> None:
    """CORE-VER-01: scope http_version -> SERVER_PROTOCOL."""
    assert server_protocol(version) == protocol


@pytest.mark.parametrize("version", ["", "x", "1.1 ", "\u0661", 2, b"1.1"])
def test_CORE_VER_01_server_protocol_invalid(version: Any) -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-07"):
        server_protocol(version)


@pytest.mark.parametrize(
    ("protocol", "version"),
    [
        ("HTTP/1.0", "1.0"),
        ("HTTP/1.1", "1.1"),
        ("http/1.1", "1.1"),
        ("HTTP/2", "2"),
        ("HTTP/2.0", "2"),
        ("http/2.0", "2"),
        ("HTTP/3", "3"),
        ("HTTP/3.0", "3"),
        ("HTTP/0.9", "1.0"),
        ("HTTP/9", "1.1"),
        ("", "1.1"),
        (None, "1.1"),
        (2, "1.1"),
    ],
)
def test_CORE_VER_01_http_version(protocol: Any, version: str) -> None:
    """CORE-VER-01: A2W parsing is case-insensitive; unknown -> "1.1"."""
    assert http_version(protocol) == version


# ---------------------------------------------------------------------------
# Response headers: W2A-SR-03/04/05, A2W-SEND-02/03/04
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"A": "b"},
        "A: b",
        b"A: b",
        None,
        5,
        [("A",)],
        [("A", "b", "c")],
        ["Ab"],
        [(b"A", "b")],
        [("A", b"b")],
        [("A", True)],
        [("A", 10**5000)],
        [("A", 1.5)],
        [("A", None)],
        [None],
    ],
)
def test_W2A_SR_03_header_list_shape(headers: object) -> None:
    """W2A-SR-03: a list of (str, str) tuples, else WSGIProtocolError."""
    with pytest.raises(WSGIProtocolError, match="W2A-SR-03"):
        wsgi_response_headers(headers)


def test_W2A_SR_03_empty_list() -> None:
    assert wsgi_response_headers([]) == ([], None)


def test_W2A_SR_04_hop_by_hop_dropped_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """W2A-SR-04: "drop" removes hop-by-hop fields and logs once per name."""
    caplog.set_level(logging.WARNING, logger="sgibridge")
    headers, _ = wsgi_response_headers(
        [
            ("Connection", "close"),
            ("X-A", "1"),
            ("connection", "keep-alive"),
            ("Transfer-Encoding", "chunked"),
            ("Keep-Alive", "timeout=5"),
        ]
    )
    assert headers == [(b"x-a", b"1")]
    records = [r for r in caplog.records if r.name == "sgibridge"]
    assert len(records) == 3
    assert all(
        r.levelno == logging.WARNING and "W2A-SR-04" in r.getMessage() for r in records
    )


@pytest.mark.parametrize("name", sorted(HOP_BY_HOP) + ["CONNECTION", "Keep-Alive"])
def test_W2A_SR_04_hop_by_hop_error(name: str) -> None:
    with pytest.raises(WSGIProtocolError, match="W2A-SR-04"):
        wsgi_response_headers([(name, "x")], hop_by_hop="error")


def test_W2A_SR_04_invalid_mode() -> None:
    with pytest.raises(ValueError, match="hop_by_hop"):
        wsgi_response_headers([], hop_by_hop="keep")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "length", "out"),
    [
        (["5"], 5, [b"5"]),
        ([" 5\t"], 5, [b"5"]),
        (["0"], 0, [b"0"]),
        (["5", "5"], 5, [b"5"]),
        (["5", "05"], 5, [b"5"]),
        ([], None, []),
    ],
)
def test_W2A_SR_05_content_length(
    values: list[str], length: int | None, out: list[bytes]
) -> None:
    """W2A-SR-05: ^[0-9]+$ after stripping; identical duplicates collapse."""
    headers, declared = wsgi_response_headers([("Content-Length", v) for v in values])
    assert declared == length
    assert headers == [(b"content-length", v) for v in out]


@pytest.mark.parametrize(
    "values",
    [
        ["-1"],
        ["five"],
        [""],
        ["5, 6"],
        ["5,"],
        [","],
        ["5,,5"],
        ["+5"],
        ["\xb2"],
        ["5", "6"],
        ["5, 5", "6"],
        ["1" * 5000],
    ],
)
def test_W2A_SR_05_content_length_invalid(values: list[str]) -> None:
    with pytest.raises(WSGIProtocolError, match="W2A-SR-05"):
        wsgi_response_headers([("Content-Length", v) for v in values])


def _pairs() -> Any:
    yield ("X-A", "1")
    yield ["X-B", "2"]


@pytest.mark.parametrize(
    "headers",
    [
        (("X-A", "1"), ("X-B", "2")),
        [("X-A", "1"), ["X-B", "2"]],
        [["X-A", "1"], ["X-B", "2"]],
        _pairs,
        lambda: werkzeug.datastructures.Headers([("X-A", "1"), ("X-B", "2")]),
    ],
    ids=["tuple", "mixed", "lists", "generator", "werkzeug-headers"],
)
def test_W2A_SR_03_liberal_shapes(headers: Any) -> None:
    """W2A-SR-03 (amended): any iterable of (name, value) pairs, as Gunicorn,
    Uvicorn and Werkzeug iterate it; a str, bytes or mapping is still refused."""
    if callable(headers):
        headers = headers()
    assert wsgi_response_headers(headers) == ([(b"x-a", b"1"), (b"x-b", b"2")], None)


def test_W2A_SR_03_int_values() -> None:
    """W2A-SR-03 (amended): an int value is its decimal text, as Werkzeug sends it
    (``("Content-Length", len(body))``); a bool is still refused."""
    headers, length = wsgi_response_headers(
        [("Content-Length", 12), ("X-Count", -3), ("X-Big", HTTPStatus.OK)]
    )
    assert headers == [
        (b"content-length", b"12"),
        (b"x-count", b"-3"),
        (b"x-big", b"200"),
    ]
    assert length == 12


@pytest.mark.parametrize(
    ("value", "length", "out"),
    [
        ("5, 5", 5, b"5"),
        ("5,5", 5, b"5"),
        (" 5 ,\t05 , 5 ", 5, b"5"),
    ],
)
def test_W2A_SR_05_A2W_SEND_02_identical_length_list(
    value: str, length: int, out: bytes
) -> None:
    """W2A-SR-05, A2W-SEND-02 (amended): a Content-Length that lists one length
    several times is that length (RFC 9110 §8.6; h11 accepts it); one line goes on."""
    headers, declared = wsgi_response_headers([("Content-Length", value)])
    assert (headers, declared) == ([(b"content-length", out)], length)
    back, declared = asgi_response_headers([(b"Content-Length", value.encode())])
    assert (back, declared) == ([("Content-Length", out.decode())], length)
    both, declared = wsgi_response_headers([("Content-Length", value)] * 2)
    assert (both, declared) == ([(b"content-length", out)], length)


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_A2W_SEND_02_bytes_like_headers(kind: Any) -> None:
    """A2W-SEND-02 (amended): bytearray and memoryview names and values are read
    as their bytes, as Uvicorn's h11 and Hypercorn do; the checks still apply."""
    headers, length = asgi_response_headers(
        [
            (kind(b"X-Name"), kind(b" caf\xe9 ")),
            (kind(b"content-length"), kind(b"3")),
            [b"x-plain", kind(b"v")],
        ]
    )
    assert headers == [("X-Name", "caf\xe9"), ("content-length", "3"), ("x-plain", "v")]
    assert length == 3
    with pytest.raises(ASGIProtocolError, match="CORE-HDR-08"):
        asgi_response_headers([(kind(b"x-evil"), kind(b"a\r\nb"))])
    with pytest.raises(ASGIProtocolError, match="CORE-HDR-08"):
        asgi_response_headers([(kind(b"x evil"), b"v")])


@pytest.mark.parametrize(
    "headers",
    [
        5,
        None,
        [b"ab"],
        [(b"a",)],
        [(b"a", b"b", b"c")],
        [("a", b"b")],
        [(b"a", "b")],
        [(b"a", 1)],
        [(b"a", None)],
        [None],
    ],
)
def test_A2W_SEND_02_header_shape(headers: object) -> None:
    """A2W-SEND-02: an iterable of 2-item sequences of bytes."""
    with pytest.raises(ASGIProtocolError, match="A2W-SEND-02"):
        asgi_response_headers(headers)


def test_A2W_SEND_02_iterables_accepted() -> None:
    pairs = ([b"x-a", b"1"], (b"x-b", b"2"))
    assert asgi_response_headers(iter(pairs)) == ([("x-a", "1"), ("x-b", "2")], None)
    assert asgi_response_headers(()) == ([], None)


@pytest.mark.parametrize(
    ("values", "length"),
    [([b"5"], 5), ([b" 7 "], 7), ([b"5", b"5"], 5), ([b"5", b"005"], 5), ([], None)],
)
def test_A2W_SEND_02_content_length(values: list[bytes], length: int | None) -> None:
    headers, declared = asgi_response_headers([(b"content-length", v) for v in values])
    assert declared == length
    assert len(headers) == (1 if values else 0)


@pytest.mark.parametrize(
    "values",
    [
        [b"-1"],
        [b"x"],
        [b""],
        [b"5", b"6"],
        [b"5, 6"],
        [b"5,"],
        [b"5, 5", b"6"],
        [b"1" * 5000],
        [b"\xb2"],
    ],
)
def test_A2W_SEND_02_content_length_invalid(values: list[bytes]) -> None:
    with pytest.raises(ASGIProtocolError, match="content-length"):
        asgi_response_headers([(b"Content-Length", v) for v in values])


def test_A2W_SEND_03_list_of_str_tuples() -> None:
    """A2W-SEND-03: a ``list`` of ``tuple[str, str]``, latin-1 decoded."""
    headers, length = asgi_response_headers(
        [
            (b"Content-Type", b"text/plain"),
            (b"X-Name", b"caf\xe9"),
            (b"content-length", b"3"),
        ]
    )
    assert type(headers) is list
    assert all(type(h) is tuple and len(h) == 2 for h in headers)
    assert headers == [
        ("Content-Type", "text/plain"),
        ("X-Name", "caf\xe9"),
        ("content-length", "3"),
    ]
    assert length == 3


def test_A2W_SEND_04_hop_by_hop_removed() -> None:
    """A2W-SEND-04: hop-by-hop fields are removed before start_response."""
    asgi = [(name.encode(), b"x") for name in sorted(HOP_BY_HOP)]
    asgi += [(b"Connection", b"close"), (b"x-keep", b"1")]
    assert asgi_response_headers(asgi) == ([("x-keep", "1")], None)


# ---------------------------------------------------------------------------
# W2A-ENV-*
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "get", "PROPFIND", "M-SEARCH"])
def test_W2A_ENV_01_method_unchanged(method: str) -> None:
    """W2A-ENV-01: REQUEST_METHOD is scope["method"], unchanged."""
    assert to_environ(method=method)["REQUEST_METHOD"] == method


def test_W2A_ENV_01_missing_method() -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-01"):
        to_environ(method=MISSING)


@pytest.mark.parametrize(
    ("mode", "rp", "path", "script", "path_info"),
    [
        ("auto", "/api", "/api/x", "/api", "/x"),
        ("auto", "/api", "/x", "/api", "/x"),
        ("auto", "/api/", "/api/x", "/api", "/x"),
        ("included", "/api", "/api/x", "/api", "/x"),
        ("included", "", "/x", "", "/x"),
        ("excluded", "/api", "/x", "/api", "/x"),
        ("excluded", "/api", "/api/x", "/api", "/api/x"),
    ],
)
def test_W2A_ENV_02_root_path_modes(
    mode: str, rp: str, path: str, script: str, path_info: str
) -> None:
    """W2A-ENV-02: SCRIPT_NAME/PATH_INFO per root_path_mode."""
    environ = to_environ(
        {"root_path_mode": mode}, root_path=rp, path=path, raw_path=None
    )
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script, path_info)


@pytest.mark.parametrize("path", ["/apix", "/x", "/", ""])
def test_W2A_ENV_02_included_mismatch_404(path: str) -> None:
    exc = rejected(
        404, knobs={"root_path_mode": "included"}, root_path="/api", path=path
    )
    assert "W2A-ENV-02" in exc.reason


def test_W2A_ENV_02_invalid_mode() -> None:
    with pytest.raises(ValueError, match="root_path_mode"):
        to_environ({"root_path_mode": "sometimes"})


@pytest.mark.parametrize(
    ("path", "root_path"),
    [(MISSING, ""), (b"/", ""), (None, ""), ("/", b"/"), ("/", 5)],
)
def test_W2A_ENV_02_malformed_path(path: Any, root_path: Any) -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-02"):
        to_environ(path=path, root_path=root_path)


@pytest.mark.parametrize(
    ("rp", "path", "expected"),
    [
        ("/api", "/api/x", ("/api", "/x")),
        ("/api", "/api", ("/api", "")),
        ("/api", "/apix", ("/api", "/apix")),
        ("", "", ("", "/")),
        ("/", "", ("", "/")),
        (MISSING, "/x", ("", "/x")),
        (None, "/x", ("", "/x")),
    ],
)
def test_W2A_ENV_03_worked_cases(rp: Any, path: str, expected: tuple[str, str]) -> None:
    """W2A-ENV-03: the worked cases of the spec."""
    environ = to_environ(root_path=rp, path=path, raw_path=None)
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [(b"", ""), (MISSING, ""), (None, ""), (b"a=b", "a=b"), (b"\xff", "\xff")],
)
def test_W2A_ENV_04_query_string(query: Any, expected: str) -> None:
    """W2A-ENV-04: always present, latin-1, missing means b""."""
    assert to_environ(query_string=query)["QUERY_STRING"] == expected


@pytest.mark.parametrize("query", ["a=b", bytearray(b"a"), 5])
def test_W2A_ENV_04_query_string_not_bytes(query: Any) -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-04"):
        to_environ(query_string=query)


@pytest.mark.parametrize(
    ("server", "host", "scheme", "expected"),
    [
        (("10.0.0.1", 8000), b"ignored:1", "http", ("10.0.0.1", "8000")),
        (["10.0.0.1", 0], None, "http", ("10.0.0.1", "0")),
        (("::1", 443), None, "https", ("::1", "443")),
        # Unix socket (port None) and no server: parse the Host header.
        (("/tmp/app.sock", None), b"example.com:8080", "http", ("example.com", "8080")),
        (("/tmp/app.sock", None), b"example.com", "http", ("example.com", "80")),
        (("/tmp/app.sock", None), b"example.com", "https", ("example.com", "443")),
        (None, b"[::1]:8443", "http", ("[::1]", "8443")),
        (None, b"[::1]", "https", ("[::1]", "443")),
        (None, b"[::1]x", "http", ("[::1]", "80")),
        (None, b"[::1", "http", ("[::1", "80")),
        (None, b"example.com:", "http", ("example.com", "80")),
        (None, b"example.com:abc", "http", ("example.com", "80")),
        (None, b"example.com:\xd9\xa1", "http", ("example.com", "80")),
        (None, b":8080", "http", ("localhost", "8080")),
        (None, b"a::b", "http", ("a::b", "80")),
        (None, b"", "http", ("localhost", "80")),
        (None, None, "http", ("localhost", "80")),
        (MISSING, None, "https", ("localhost", "443")),
        # Malformed server: "localhost" with the default port.
        # A port of ASCII digits as a str is read as its number.
        (("10.0.0.1", "8000"), b"h:1", "http", ("10.0.0.1", "8000")),
        (("10.0.0.1", "08000"), b"h:1", "http", ("10.0.0.1", "8000")),
        (("10.0.0.1", "80a"), b"h:1", "http", ("localhost", "80")),
        (("10.0.0.1", ""), b"h:1", "http", ("localhost", "80")),
        (("10.0.0.1", "\u0668\u0660"), b"h:1", "http", ("localhost", "80")),
        (("10.0.0.1", 8.0), b"h:1", "http", ("localhost", "80")),
        (("10.0.0.1", -1), b"h:1", "http", ("localhost", "80")),
        (("10.0.0.1", True), b"h:1", "http", ("localhost", "80")),
        (("", 80), b"h:1", "https", ("localhost", "443")),
        ((None, 80), b"h:1", "http", ("localhost", "80")),
        (("h\u20ac", 80), b"h:1", "http", ("localhost", "80")),
        (("a", 1, 2), b"h:1", "http", ("localhost", "80")),
        ("10.0.0.1:80", b"h:1", "http", ("localhost", "80")),
        (iter(("example.com", 8080)), b"h:1", "http", ("example.com", "8080")),
        ({"example.com": 1, "x": 2}, b"h:1", "http", ("localhost", "80")),
        (8080, b"h:1", "http", ("localhost", "80")),
    ],
)
def test_W2A_ENV_05_server_name_port(
    server: Any, host: bytes | None, scheme: str, expected: tuple[str, str]
) -> None:
    """W2A-ENV-05: server tuple, then Host (Unix socket), then localhost."""
    headers = [] if host is None else [(b"host", host)]
    environ = to_environ(server=server, headers=headers, scheme=scheme)
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == expected
    assert environ["SERVER_NAME"] and environ["SERVER_PORT"].isdigit()


def test_W2A_ENV_05_unix_socket() -> None:
    environ = to_environ(
        server=["/run/app.sock", None], headers=[(b"host", b"app.local")]
    )
    assert environ["SERVER_NAME"] == "app.local"
    assert environ["SERVER_PORT"] == "80"


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (("10.1.2.3", 4567), ("10.1.2.3", "4567")),
        (["::1", 0], ("::1", "0")),
        (None, None),
        (MISSING, None),
        (("", 1), None),
        (("1.2.3.4", None), None),
        (("1.2.3.4", "80"), ("1.2.3.4", "80")),
        (("1.2.3.4", "-80"), None),
        (("1.2.3.4", "9" * 5000), None),
        (("1.2.3.4", "8 0"), None),
        (("1.2.3.4", "\u0668\u0660"), None),
        ((None, "80"), None),
        (("1.2.3.4", True), None),
        (("1.2.3.4", -5), None),
        ((None, 80), None),
        (("h\xe9", 80), None),
        (("1.2.3.4",), None),
        ("1.2.3.4", None),
        (b"1.2", None),
        (1234, None),
        ({"1.2.3.4": 80, "x": 1}, None),
        (iter(["10.1.2.3", 4567]), ("10.1.2.3", "4567")),
        ((part for part in ("::1", 80)), ("::1", "80")),
        (iter(["1.2.3.4", 80, 1]), None),
        (itertools.count(), None),
    ],
)
def test_W2A_ENV_06_remote_addr(client: Any, expected: tuple[str, str] | None) -> None:
    """W2A-ENV-06: only a proper (str, int) client sets REMOTE_ADDR/REMOTE_PORT,
    the port also as a str of ASCII digits; any non-string iterable of two is
    read like a tuple (ASGI types it as Iterable)."""
    environ = to_environ(client=client)
    if expected is None:
        assert "REMOTE_ADDR" not in environ
        assert "REMOTE_PORT" not in environ
    else:
        assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == expected


@pytest.mark.parametrize(
    ("version", "protocol"),
    [
        ("1.0", "HTTP/1.0"),
        ("1.1", "HTTP/1.1"),
        ("2", "HTTP/2"),
        ("3", "HTTP/3"),
        (MISSING, "HTTP/1.1"),
    ],
)
def test_W2A_ENV_07_server_protocol(version: Any, protocol: str) -> None:
    """W2A-ENV-07: SERVER_PROTOCOL follows CORE-VER-01."""
    assert to_environ(http_version=version)["SERVER_PROTOCOL"] == protocol


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], {}),
        ([(b"content-type", b"text/plain")], {"CONTENT_TYPE": "text/plain"}),
        ([(b"content-length", b" 12 ")], {"CONTENT_LENGTH": "12"}),
        (
            [(b"content-length", b"5"), (b"Content-Length", b"5")],
            {"CONTENT_LENGTH": "5"},
        ),
        ([(b"transfer-encoding", b"chunked")], {}),
        (
            [(b"content-type", b"a/b"), (b"content-type", b"c/d")],
            {"CONTENT_TYPE": "a/b, c/d"},
        ),
    ],
)
def test_W2A_ENV_08_content_keys(headers: Headers, expected: dict[str, str]) -> None:
    """W2A-ENV-08: CONTENT_* present only when sent; no CONTENT_LENGTH when chunked."""
    environ = with_headers(*headers)
    assert {k: v for k, v in environ.items() if k.startswith("CONTENT_")} == expected


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"5"), (b"content-length", b"6")],
        [(b"content-length", b"5"), (b"content-length", b"05")],
        [(b"content-length", b"-5")],
        [(b"content-length", b"abc")],
        [(b"content-length", b"")],
        [(b"content-length", b"5, 5")],
        [(b"content-length", b"\xd9\xa5")],
    ],
)
def test_W2A_ENV_08_bad_length_400(headers: Headers) -> None:
    """W2A-ENV-08: differing, non-numeric or negative lengths give E400."""
    with pytest.raises(RequestRejected) as info:
        with_headers(*headers)
    assert info.value.status == 400
    assert "W2A-ENV-08" in info.value.reason


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
        [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"0")],
        [(b"transfer-encoding", b"chunked"), (b"content-length", b"5, 5")],
        [
            (b"content-length", b"5"),
            (b"transfer-encoding", b"chunked"),
            (b"content-length", b"6"),
        ],
        [(b"content-length", b"-1"), (b"transfer-encoding", b"chunked")],
        [(b"content-length", b"abc"), (b"transfer-encoding", b"chunked")],
    ],
)
def test_W2A_ENV_21_transfer_encoding_framing_stands(headers: Headers) -> None:
    """W2A-ENV-21: with Transfer-Encoding, Content-Length lines are left out.

    The ASGI server framed the body by Transfer-Encoding (RFC 9112 §6.3), so
    the app reads to EOF and sees no length that contradicts what arrives,
    whatever the Content-Length lines said.
    """
    environ = scope_to_environ(make_scope(method="POST", headers=headers), TEMPLATE)
    assert "CONTENT_LENGTH" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ
    assert environ["HTTP_TRANSFER_ENCODING"] == "chunked"
    assert environ["wsgi.input_terminated"] is True
    assert request_body_length(environ) is None  # and so back through A2W


def test_W2A_ENV_09_http_keys_iff_sent() -> None:
    """W2A-ENV-09: an HTTP_X key exists iff X arrived and was not dropped."""
    environ = with_headers(
        (b"host", b"example.com"),
        (b"x-a", b"1"),
        (b"x_b", b"2"),
        (b"bad name", b"3"),
        (b"accept", b""),
    )
    http_keys = {k for k in environ if k.startswith("HTTP_")}
    assert http_keys == {"HTTP_HOST", "HTTP_X_A", "HTTP_ACCEPT"}
    assert environ["HTTP_HOST"] == "example.com"
    assert environ["HTTP_ACCEPT"] == ""
    assert {k for k in to_environ() if k.startswith("HTTP_")} == set()


@pytest.mark.parametrize(
    "headers",
    [
        5,
        [b"ab"],
        [(b"a",)],
        [("x-a", b"1")],
        [(b"x-a", "1")],
        [(b"x-a", 1)],
        [(b"x-a", None)],
        [(b"x-a", memoryview(b"1"))],
        [([1], b"1")],
        [None],
    ],
)
def test_W2A_ENV_09_malformed_headers(headers: Any) -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-09"):
        to_environ(headers=headers)


@pytest.mark.parametrize("headers", [None, MISSING, ()])
def test_W2A_ENV_09_missing_headers(headers: Any) -> None:
    environ = to_environ(headers=headers)
    assert not any(k.startswith(("HTTP_", "CONTENT_")) for k in environ)


def test_W2A_ENV_10_wsgi_version() -> None:
    """W2A-ENV-10: wsgi.version is the tuple (1, 0)."""
    assert to_environ()["wsgi.version"] == (1, 0)
    assert type(TEMPLATE["wsgi.version"]) is tuple


def test_W2A_ENV_14_15_template_flags() -> None:
    """W2A-ENV-13/14/15/16: template keys, flags are real bools."""
    zero: Any = 0  # truthy/falsy ints must still give real bools
    one: Any = 1
    template = environ_template(
        errors=ERRORS, multithread=zero, multiprocess=one, file_wrapper=_FileWrapper
    )
    assert template["wsgi.multithread"] is False
    assert template["wsgi.multiprocess"] is True
    assert template["wsgi.run_once"] is False
    assert template["wsgi.input_terminated"] is True
    assert template["wsgi.errors"] is ERRORS
    assert template["wsgi.file_wrapper"] is _FileWrapper
    assert "wsgi.input" not in template
    assert "wsgi.early_hints" not in to_environ()


@pytest.mark.parametrize(
    ("scheme", "expected", "https"),
    [
        ("http", "http", None),
        ("https", "https", "on"),
        ("", "http", None),
        (None, "http", None),
        (MISSING, "http", None),
    ],
)
def test_W2A_ENV_11_url_scheme(scheme: Any, expected: str, https: str | None) -> None:
    """W2A-ENV-11: scope.get("scheme") or "http"; HTTPS=on for https."""
    environ = to_environ(scheme=scheme)
    assert environ["wsgi.url_scheme"] == expected
    assert environ.get("HTTPS") == https


def test_W2A_ENV_17_scope_headers_readable_but_their_values_hidden_from_repr() -> None:
    """W2A-ENV-17 (amended): asgi.scope["headers"] reads like the scope's list,
    but repr() of the environ (Django's debug page) shows no header value."""
    headers = [(b"cookie", b"sessionid=s3cr3t"), (b"secret-header", b"t0ps3cr3t")]
    scope = make_scope(headers=headers)
    environ = scope_to_environ(scope, TEMPLATE)
    view = environ["asgi.scope"]["headers"]
    assert list(view) == headers and view == headers and view[1] == headers[1]
    assert (
        len(view) == 2
        and view == scope_to_environ(scope, TEMPLATE)["asgi.scope"]["headers"]
    )
    assert view != "cookie" and not isinstance(view, (list, tuple))
    with pytest.raises(TypeError):
        hash(view)
    shown = repr(environ["asgi.scope"])
    assert "s3cr3t" not in shown and "t0ps3cr3t" not in shown
    assert "b'cookie'" in shown and "b'secret-header'" in shown
    assert "values hidden" in repr(_scope_to_environ.ScopeHeaders([b"x", ()]))
    assert scope["headers"] == headers  # CORE-STR-04: the scope is untouched


def test_W2A_ENV_17_scope_headers_of_another_shape_stay_as_they_came() -> None:
    """W2A-ENV-17: a scope with ``headers`` of ``None`` (read as no headers) keeps
    that value in asgi.scope; only a list or tuple is wrapped."""
    scope = make_scope()
    scope["headers"] = None
    environ = scope_to_environ(scope, TEMPLATE)
    assert environ["asgi.scope"] == scope and environ["asgi.scope"]["headers"] is None


def test_W2A_ENV_11_scheme_not_str() -> None:
    with pytest.raises(ASGIProtocolError, match="W2A-ENV-11"):
        to_environ(scheme=b"https")


def test_W2A_ENV_17_scope_software_raw_uri() -> None:
    """W2A-ENV-17: asgi.scope is a view of the scope; SERVER_SOFTWARE; RAW_URI."""
    scope = make_scope(path="/a%2Fb", raw_path=b"/a%252Fb", query_string=b"x=1")
    environ = scope_to_environ(scope, TEMPLATE)
    view = environ["asgi.scope"]
    assert view == scope and view is not scope
    assert all(view[key] is scope[key] for key in scope if key != "headers")
    assert environ["SERVER_SOFTWARE"] == f"sgibridge/{__version__}"
    assert environ["RAW_URI"] == "/a%252Fb?x=1"


@pytest.mark.parametrize(
    ("raw", "query", "expected"),
    [
        (b"/p", b"", "/p"),
        (b"/p", b"a=\xff", "/p?a=\xff"),
        (b"/%FF", b"", "/%FF"),
        (None, b"a=1", None),
        (MISSING, b"", None),
        ("/p", b"", None),
    ],
)
def test_W2A_ENV_17_raw_uri(raw: Any, query: bytes, expected: str | None) -> None:
    environ = to_environ(raw_path=raw, query_string=query)
    assert environ.get("RAW_URI") == expected


def test_W2A_ENV_18_no_cgi_values_from_headers() -> None:
    """W2A-ENV-18: Script-Name / X-Forwarded-* headers never set CGI or wsgi keys."""
    environ = with_headers(
        (b"script-name", b"/evil"),
        (b"script_name", b"/evil"),
        (b"path-info", b"/evil"),
        (b"x-forwarded-for", b"6.6.6.6"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"evil.example"),
        (b"remote-addr", b"6.6.6.6"),
        (b"server-name", b"evil.example"),
        (b"https", b"on"),
        (b"host", b"good.example"),
    )
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert "HTTPS" not in environ
    assert environ["HTTP_SCRIPT_NAME"] == "/evil"
    assert environ["HTTP_X_FORWARDED_FOR"] == "6.6.6.6"


def test_W2A_ENV_19_fresh_environ_per_request() -> None:
    """W2A-ENV-19: app changes to one environ reach neither the scope nor another request."""
    scope = make_scope(headers=[(b"x-a", b"1")])
    first = scope_to_environ(scope, TEMPLATE)
    first["HTTP_X_A"] = "changed"
    first["PATH_INFO"] = "/changed"
    first["NEW"] = "x"
    second = scope_to_environ(scope, TEMPLATE)
    assert second is not first
    assert second["HTTP_X_A"] == "1"
    assert second["PATH_INFO"] == "/"
    assert "NEW" not in second and "NEW" not in TEMPLATE
    assert scope["headers"] == [(b"x-a", b"1")]
    assert scope["path"] == "/"


# ---------------------------------------------------------------------------
# A2W-SCOPE-*, A2W-RECV-01/02
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "2.0"])
def test_A2W_SCOPE_01_type_and_asgi(version: str) -> None:
    """A2W-SCOPE-01: type "http"; asgi version as given; spec_version "2.4"."""
    scope = environ_to_scope(make_environ(), asgi_version=version)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": version, "spec_version": "2.4"}
    assert environ_to_scope(make_environ())["asgi"]["version"] == "3.0"


@pytest.mark.parametrize(
    ("protocol", "version"),
    [
        ("HTTP/1.0", "1.0"),
        ("HTTP/2.0", "2"),
        ("http/3", "3"),
        (MISSING, "1.1"),
        ("X", "1.1"),
    ],
)
def test_A2W_SCOPE_02_http_version(protocol: Any, version: str) -> None:
    """A2W-SCOPE-02: http_version follows CORE-VER-01."""
    assert to_scope(SERVER_PROTOCOL=protocol)["http_version"] == version


@pytest.mark.parametrize("method", ["GET", "post", "PROPFIND"])
def test_A2W_SCOPE_03_method(method: str) -> None:
    """A2W-SCOPE-03: method is REQUEST_METHOD, unchanged."""
    assert to_scope(REQUEST_METHOD=method)["method"] == method


@pytest.mark.parametrize("method", [MISSING, "", None, b"GET"])
def test_A2W_SCOPE_03_bad_method(method: Any) -> None:
    with pytest.raises(WSGIProtocolError, match="A2W-SCOPE-03"):
        to_scope(REQUEST_METHOD=method)


@pytest.mark.parametrize(
    ("url_scheme", "https", "expected"),
    [
        ("https", MISSING, "https"),
        ("http", "on", "http"),
        ("", "on", "https"),
        (MISSING, "ON", "https"),
        (MISSING, "1", "https"),
        (MISSING, "Yes", "https"),
        (MISSING, "off", "http"),
        (MISSING, MISSING, "http"),
        (None, 1, "http"),
    ],
)
def test_A2W_SCOPE_04_scheme(url_scheme: Any, https: Any, expected: str) -> None:
    """A2W-SCOPE-04: wsgi.url_scheme, else HTTPS on/1/yes, else http."""
    assert (
        to_scope(**{"wsgi.url_scheme": url_scheme, "HTTPS": https})["scheme"]
        == expected
    )


@pytest.mark.parametrize(
    ("script", "path_info", "root_path", "path"),
    [
        ("", "/", "", "/"),
        ("", "", "", "/"),
        (MISSING, MISSING, "", "/"),
        ("/app", "/x", "/app", "/app/x"),
        ("/app", "", "/app", "/app"),
        ("/", "", "", "/"),
        ("/app/", "/x", "/app", "/app//x"),
        ("/caf\xc3\xa9", "/\xe2\x82\xac", "/caf\xe9", "/caf\xe9/\u20ac"),
        ("", "/\xff", "", "/\ufffd"),
    ],
)
def test_A2W_SCOPE_05_root_path_and_path(
    script: Any, path_info: Any, root_path: str, path: str
) -> None:
    """A2W-SCOPE-05: root_path normalised; path includes it; empty -> "/"."""
    scope = to_scope(SCRIPT_NAME=script, PATH_INFO=path_info)
    assert scope["root_path"] == root_path
    assert scope["path"] == path
    assert has_prefix(scope["path"], scope["root_path"])


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("SCRIPT_NAME", "/\u20ac", "CORE-STR-02"),
        ("PATH_INFO", "/\u20ac", "CORE-STR-02"),
        ("PATH_INFO", None, "CORE-STR-01"),
        ("QUERY_STRING", "\u20ac", "CORE-STR-02"),
        ("QUERY_STRING", 5, "CORE-STR-01"),
    ],
)
def test_A2W_SCOPE_05_bad_cgi_strings(key: str, value: Any, rule: str) -> None:
    with pytest.raises(WSGIProtocolError, match=rule):
        to_scope(**{key: value})


@pytest.mark.parametrize(
    ("env", "raw_path"),
    [
        ({}, b"/"),
        ({"PATH_INFO": ""}, b"/"),
        ({"PATH_INFO": "/a b"}, b"/a%20b"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": "/a/b?q=1"}, b"/a/b"),
        ({"PATH_INFO": "/a/b", "RAW_URI": "/a%2Fb"}, b"/a%2Fb"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": "/a%2fb"}, b"/a%2fb"),
        ({"PATH_INFO": "/a%2Fb", "REQUEST_URI": "/a%252Fb"}, b"/a%252Fb"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": "/zzz", "RAW_URI": "/a/%62"}, b"/a/%62"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": "/zzz"}, b"/a/b"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": ""}, b"/a/b"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": 5}, b"/a/b"),
        ({"PATH_INFO": "/a/b", "REQUEST_URI": "/a/\u20ac"}, b"/a/b"),
        ({"PATH_INFO": "/a", "REQUEST_URI": "http://h:1/a?x"}, b"/a"),
        ({"PATH_INFO": "/", "REQUEST_URI": "*"}, b"/"),
        ({"PATH_INFO": "", "REQUEST_URI": "http://h"}, b"/"),
        ({"SCRIPT_NAME": "/s", "PATH_INFO": "/p", "REQUEST_URI": "/s/p"}, b"/s/p"),
        ({"PATH_INFO": "/\xff%"}, b"/%FF%25"),
        ({"PATH_INFO": "/:@!$&'()*+,;=-._~"}, b"/:@!$&'()*+,;=-._~"),
        ({"PATH_INFO": "/\xc3\xa9?#[]"}, b"/%C3%A9%3F%23%5B%5D"),
    ],
)
def test_A2W_SCOPE_06_raw_path(env: dict[str, Any], raw_path: bytes) -> None:
    """A2W-SCOPE-06: the URI's path if it decodes to the octets, else percent-encoded."""
    scope = to_scope(**env)
    assert type(scope["raw_path"]) is bytes
    assert scope["raw_path"] == raw_path


@pytest.mark.parametrize(
    ("query", "expected"),
    [("a=1&b", b"a=1&b"), ("\xff", b"\xff"), (MISSING, b""), ("", b"")],
)
def test_A2W_SCOPE_07_query_string(query: Any, expected: bytes) -> None:
    """A2W-SCOPE-07: QUERY_STRING.encode("latin-1"); missing gives b""."""
    assert to_scope(QUERY_STRING=query)["query_string"] == expected


def test_A2W_SCOPE_08_headers() -> None:
    """A2W-SCOPE-08: one pair per HTTP_* key; HTTP_HOST -> host; non-str skipped."""
    scope = to_scope(
        HTTP_HOST="example.com",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8",
        HTTP_X_NUMBER=5,
        HTTP_X_NONE=None,
        HTTP_X_LATIN="caf\xe9",
    )
    assert scope["headers"] == [
        (b"host", b"example.com"),
        (b"x-forwarded-for", b"1.2.3.4, 5.6.7.8"),
        (b"x-latin", b"caf\xe9"),
    ]


def test_A2W_SCOPE_08_non_str_keys_ignored() -> None:
    environ: dict[Any, Any] = make_environ(HTTP_X_A="1")
    environ[5] = "x"
    environ[b"HTTP_X_B"] = "y"
    assert environ_to_scope(environ)["headers"] == [(b"x-a", b"1")]


@pytest.mark.parametrize(
    ("name", "port", "server"),
    [
        ("example.com", "8080", ("example.com", 8080)),
        ("example.com", "0080", ("example.com", 80)),
        ("example.com", "", ("example.com", None)),
        ("example.com", "http", ("example.com", None)),
        ("example.com", "\u0668\u0660", ("example.com", None)),
        ("example.com", "1" * 11, ("example.com", None)),
        ("example.com", 80, ("example.com", None)),
        ("example.com", MISSING, ("example.com", None)),
        (MISSING, "80", None),
        ("", "80", None),
        (None, "80", None),
    ],
)
def test_A2W_SCOPE_09_server(name: Any, port: Any, server: Any) -> None:
    """A2W-SCOPE-09: (SERVER_NAME, int port or None); None without SERVER_NAME."""
    assert to_scope(SERVER_NAME=name, SERVER_PORT=port)["server"] == server


@pytest.mark.parametrize(
    ("addr", "port", "client"),
    [
        ("10.0.0.1", "5555", ("10.0.0.1", 5555)),
        ("10.0.0.1", MISSING, ("10.0.0.1", 0)),
        ("10.0.0.1", "x", ("10.0.0.1", 0)),
        ("10.0.0.1", "", ("10.0.0.1", 0)),
        (MISSING, "5555", None),
        ("", "5555", None),
        (5, "5555", None),
    ],
)
def test_A2W_SCOPE_10_client(addr: Any, port: Any, client: Any) -> None:
    """A2W-SCOPE-10: (REMOTE_ADDR, port or 0); None without REMOTE_ADDR."""
    assert to_scope(REMOTE_ADDR=addr, REMOTE_PORT=port)["client"] == client


def test_A2W_SCOPE_11_state_copy() -> None:
    """A2W-SCOPE-11: a new shallow copy per request; {} when there is none."""
    shared: dict[str, Any] = {"db": object(), "n": [1]}
    first = environ_to_scope(make_environ(), state=shared)
    second = environ_to_scope(make_environ(), state=shared)
    assert first["state"] == shared
    assert first["state"] is not shared and first["state"] is not second["state"]
    assert first["state"]["n"] is shared["n"]
    first["state"]["new"] = 1
    assert "new" not in shared
    assert environ_to_scope(make_environ())["state"] == {}


def test_A2W_SCOPE_12_extensions() -> None:
    """A2W-SCOPE-12: pathsend always; early_hint only when wsgi.early_hints is callable."""
    plain = to_scope()
    assert plain["extensions"] == {"http.response.pathsend": {}}
    hinted = to_scope(**{"wsgi.early_hints": lambda headers: None})
    assert hinted["extensions"] == {
        "http.response.pathsend": {},
        "http.response.early_hint": {},
    }
    not_callable = to_scope(**{"wsgi.early_hints": "nope"})
    assert not_callable["extensions"] == {"http.response.pathsend": {}}
    for scope in (plain, hinted):
        for forbidden in (
            "http.response.trailers",
            "http.response.push",
            "http.response.debug",
        ):
            assert forbidden not in scope["extensions"]
        assert "websocket.http.response" not in scope["extensions"]
    given: dict[str, Any] = {"http.response.zerocopysend": {}}
    assert environ_to_scope(make_environ(), extensions=given)["extensions"] is given


def test_A2W_SCOPE_13_wsgi_environ_and_keys() -> None:
    """A2W-SCOPE-13: wsgi_environ is the environ itself; no other extra keys."""
    environ = make_environ()
    scope = environ_to_scope(environ)
    assert scope["wsgi_environ"] is environ
    assert set(scope) == {
        "type",
        "asgi",
        "http_version",
        "method",
        "scheme",
        "path",
        "raw_path",
        "query_string",
        "root_path",
        "headers",
        "client",
        "server",
        "state",
        "extensions",
        "wsgi_environ",
    }


@pytest.mark.parametrize(
    ("content_length", "terminated", "expected"),
    [
        ("10", MISSING, 10),
        ("0", True, 0),
        (" 7\t", False, 7),
        ("007", False, 7),
        (MISSING, True, None),
        ("", True, None),
        (MISSING, MISSING, 0),
        ("", False, 0),
        (None, True, None),
    ],
)
def test_A2W_RECV_01_body_length(
    content_length: Any, terminated: Any, expected: int | None
) -> None:
    """A2W-RECV-01: CONTENT_LENGTH; else read to EOF only when wsgi.input_terminated."""
    environ = make_environ(
        CONTENT_LENGTH=content_length, **{"wsgi.input_terminated": terminated}
    )
    assert request_body_length(environ) == expected


@pytest.mark.parametrize(
    "content_length",
    ["-1", "abc", "1.5", "5, 5", "\u0665", "1" * 5000, "\u20ac"]
    + [-1, True, False, 5.0, 2**64, 10**5000],
    ids=lambda value: short(value)[:20],
)
def test_A2W_RECV_02_invalid_length_400(content_length: Any) -> None:
    """A2W-RECV-02: invalid CONTENT_LENGTH gives E400; a bool, a negative or a
    huge int too."""
    with pytest.raises(RequestRejected) as info:
        request_body_length(make_environ(CONTENT_LENGTH=content_length))
    assert info.value.status == 400
    assert "A2W-RECV-02" in info.value.reason


@pytest.mark.parametrize(("content_length", "expected"), [(5, 5), (0, 0)])
def test_A2W_RECV_02_int_length_read_as_its_decimal_string(
    content_length: int, expected: int
) -> None:
    """A2W-RECV-02 (amended): a non-negative int CONTENT_LENGTH, as Django's test
    environs carry, is read as its decimal string, in the length and the scope."""
    environ = make_environ(CONTENT_LENGTH=content_length)
    assert request_body_length(environ) == expected
    headers = environ_to_scope(environ)["headers"]
    lengths = [value for name, value in headers if name == b"content-length"]
    assert lengths == ([str(expected).encode()] if expected else [])


# ---------------------------------------------------------------------------
# SEC-*
# ---------------------------------------------------------------------------


def test_SEC_01_no_cr_lf_nul_crosses() -> None:
    """SEC-01: CR/LF/NUL never cross in names, values or reason phrases."""
    with pytest.raises(RequestRejected):
        with_headers((b"x-a", b"v\r\nX-Injected: 1"))
    environ = with_headers((b"x-a\r\nx-b", b"v"))
    assert not any("\r" in k or "\n" in k for k in environ)
    with pytest.raises(RequestRejected) as info:
        to_scope(HTTP_X_A="v\r\nInjected: 1")
    assert info.value.status == 400 and "SEC-01" in info.value.reason
    with pytest.raises(RequestRejected):
        to_scope(CONTENT_TYPE="text/plain\x00")
    with pytest.raises(WSGIProtocolError):
        wsgi_response_headers([("X-A", "v\r\nInjected: 1")])
    with pytest.raises(ASGIProtocolError):
        asgi_response_headers([(b"x-a", b"v\nInjected: 1")])
    with pytest.raises(WSGIProtocolError):
        parse_status_line("200 OK\r\nInjected: 1")


@pytest.mark.parametrize("order", [0, 1])
def test_SEC_03_underscore_spoofing(order: int) -> None:
    """SEC-03: X_Forwarded_For never spoofs or merges into HTTP_X_FORWARDED_FOR."""
    headers = [(b"x-forwarded-for", b"1.1.1.1"), (b"X_Forwarded_For", b"6.6.6.6")]
    if order:
        headers.reverse()
    environ = with_headers(*headers)
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1"


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"5"), (b"content-length", b"7")],
        [(b"content-length", b"-1")],
        [(b"content-length", b"x")],
    ],
)
def test_SEC_04_length_conflicts_400(headers: Headers) -> None:
    """SEC-04: conflicting or invalid lengths give E400 (W2A and A2W)."""
    with pytest.raises(RequestRejected) as info:
        with_headers(*headers)
    assert info.value.status == 400
    with pytest.raises(RequestRejected):
        request_body_length(make_environ(CONTENT_LENGTH="-1"))


def test_SEC_06_header_flood_431() -> None:
    """SEC-06: a flood of 10,000 duplicate lines answers E431 (linear, capped)."""
    with pytest.raises(RequestRejected) as info:
        with_headers(*[(b"x-flood", b"v")] * 10_000)
    assert info.value.status == 431
    with pytest.raises(RequestRejected) as info:
        with_headers(*[(b"cookie", b"a=1")] * 10_000)
    assert info.value.status == 431


def test_SEC_07_path_meaning_kept() -> None:
    """SEC-07: %2F survives in raw_path/RAW_URI, no double decoding, no dot-segments."""
    environ = to_environ(path="/a%2F../b", raw_path=b"/a%252F../b")
    assert environ["PATH_INFO"] == "/a%2F../b"
    assert environ["RAW_URI"] == "/a%252F../b"
    scope = environ_to_scope(environ)
    assert scope["path"] == "/a%2F../b"
    assert scope["raw_path"] == b"/a%252F../b"
    assert b"%2F" in to_scope(PATH_INFO="/a/b", REQUEST_URI="/a%2Fb")["raw_path"]


def test_SEC_08_identity_only_from_scope_or_environ() -> None:
    """SEC-08: SCRIPT_NAME, scheme, client, server name never come from headers."""
    scope = to_scope(
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        HTTP_HOST="evil.example",
        HTTP_SCRIPT_NAME="/evil",
    )
    assert scope["scheme"] == "http"
    assert scope["client"] == ("127.0.0.1", 50000)
    assert scope["server"] == ("localhost", 80)
    assert scope["root_path"] == ""
    environ = with_headers((b"x-forwarded-proto", b"https"), (b"host", b"evil.example"))
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["wsgi.url_scheme"] == "http"


def test_SEC_11_huge_int_status_is_a_clear_error() -> None:
    """SEC-11: an int too long to print is refused with a message, never a crash."""
    with pytest.raises(WSGIProtocolError, match="CORE-STAT-01.*too large to show"):
        parse_status_line(10**5000)
    with pytest.raises(ASGIProtocolError, match="CORE-STAT-02.*too large to show"):
        status_line(10**5000)


def test_SEC_11_invalid_status_both_directions() -> None:
    """SEC-11: out of range, bool, str ASGI code, code run into the phrase: rejected."""
    for bad in ("99 OK", "1000 X", "199 X", "200OK", "20x OK", True, 1000, 100):
        with pytest.raises(WSGIProtocolError):
            parse_status_line(bad)
    for bad_code in (True, "200", 199, 1000, 99, 100):
        with pytest.raises(ASGIProtocolError):
            status_line(bad_code)


@pytest.mark.parametrize(
    "name",
    [
        b"http-content-length",
        b"http_content_type",
        b"content_length",
        b"request-method",
        b"server-name",
        b"query-string",
    ],
)
@pytest.mark.parametrize("mode", ["drop", "keep"])
def test_SEC_12_no_cgi_keys_from_names(name: bytes, mode: str) -> None:
    """SEC-12: normalisation never creates CONTENT_* or another CGI key."""
    environ = with_headers((name, b"666"), underscore_headers=mode)
    assert "CONTENT_LENGTH" not in environ
    assert "CONTENT_TYPE" not in environ
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["QUERY_STRING"] == ""
    assert all(v != "666" for k, v in environ.items() if not k.startswith("HTTP_"))


# ---------------------------------------------------------------------------
# Bounded caches (CORE-HDR-01/07 performance, SEC-06)
# ---------------------------------------------------------------------------


def test_caches_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name caches never grow past _CACHE_MAX; lookups stay correct when full."""
    caches = {
        _environ_headers: "_REQUEST_KEYS_DROP",
        _response_headers: ("_WSGI_NAMES", "_ASGI_NAMES"),
        _environ_to_scope: "_ENVIRON_NAMES",
    }
    for module, attrs in caches.items():
        monkeypatch.setattr(module, "CACHE_MAX", 4)
        for attr in (attrs,) if isinstance(attrs, str) else attrs:
            monkeypatch.setattr(module, attr, {})
    names = [f"x-random-{i}".encode() for i in range(20)]
    environ = with_headers(*[(n, b"v") for n in names])
    assert len(_environ_headers._REQUEST_KEYS_DROP) == 4
    assert all(environ[f"HTTP_X_RANDOM_{i}"] == "v" for i in range(20))

    wsgi = [(f"X-R{i}", "v") for i in range(20)]
    asgi, _ = wsgi_response_headers(wsgi)
    assert len(_response_headers._WSGI_NAMES) == 4 and len(asgi) == 20
    back, _ = asgi_response_headers(asgi)
    assert len(_response_headers._ASGI_NAMES) == 4 and len(back) == 20

    scope = to_scope(**{f"HTTP_X_R{i}": "v" for i in range(20)})
    assert len(_environ_to_scope._ENVIRON_NAMES) == 4 and len(scope["headers"]) == 20


def test_cache_cannot_be_grown_by_a_client() -> None:
    """A client sending many random names cannot grow the real caches without limit."""
    names = [f"x-unique-{i}".encode() for i in range(3 * CACHE_MAX)]
    with_headers(*[(n, b"v") for n in names])
    assert len(_environ_headers._REQUEST_KEYS_DROP) <= CACHE_MAX


# ---------------------------------------------------------------------------
# The core's modules and its front door
# ---------------------------------------------------------------------------

CORE_MODULES = (
    "_canned",
    "_environ_headers",
    "_environ_to_scope",
    "_paths",
    "_response_headers",
    "_scope_to_environ",
    "_status",
    "_strings",
)


@pytest.mark.parametrize("name", CORE_MODULES)
def test_core_modules_declare_what_they_export(name: str) -> None:
    """Each core module lists its names in ``__all__``, each function and class
    defined there, and imports nothing from outside sgibridge that could do I/O
    or run a loop or a thread (no anyio, asyncio, threading, socket, os)."""
    module = importlib.import_module(f"sgibridge.{name}")
    assert module.__all__ == tuple(sorted(module.__all__))
    for exported in module.__all__:
        value = getattr(module, exported)
        if callable(value):
            assert value.__module__ == module.__name__, exported
    tree = ast.parse(inspect.getsource(module))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and not node.level
    }
    io_free = {
        "__future__",
        "collections",
        "http",
        "logging",
        "sys",
        "typing",
        "urllib",
    }
    assert imported <= io_free, (name, imported - io_free)
    below = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level
    }
    allowed = set(CORE_MODULES) | {"_exceptions", "_rules", "_version"}
    assert below <= allowed, (name, below - allowed)  # never an adapter or _body


def test_front_door_reexports_the_same_objects() -> None:
    """``sgibridge._translate`` re-exports each name from the module that defines it."""
    from sgibridge import _translate

    defined = {}
    for name in CORE_MODULES:
        module = importlib.import_module(f"sgibridge.{name}")
        defined.update({n: getattr(module, n) for n in module.__all__})
    for name in _translate.__all__:
        assert getattr(_translate, name) is defined[name], name
