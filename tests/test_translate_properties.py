"""Hypothesis round-trip properties of the translation core (STYLE.md §4).

The properties run pure functions only, so they need no event loop.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgibridge._exceptions import WSGIProtocolError
from sgibridge._translate import (
    HOP_BY_HOP,
    RequestRejected,
    asgi_response_headers,
    asgi_to_wsgi_path,
    environ_template,
    environ_to_scope,
    normalize_root_path,
    scope_to_environ,
    wsgi_response_headers,
    wsgi_to_asgi_path,
)

TEMPLATE = environ_template(
    errors=io.StringIO(), multithread=True, multiprocess=False, file_wrapper=object()
)
SETTINGS = settings(max_examples=200, deadline=None)

methods = st.sampled_from(
    ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
) | st.from_regex(r"[A-Z][A-Z-]{0,9}", fullmatch=True)

# --- ASGI side -------------------------------------------------------------

asgi_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/"),
    max_size=6,
)
asgi_root = st.tuples(
    st.lists(asgi_segment.filter(bool), max_size=3), st.booleans()
).map(lambda t: ("/" + "/".join(t[0]) if t[0] else "") + ("/" if t[1] else ""))
asgi_suffix = st.lists(asgi_segment, max_size=4).map(
    lambda segs: "".join("/" + s for s in segs)
)
header_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(
    lambda n: n.lower() not in ("content-length", "transfer-encoding")
)
header_values = st.binary(max_size=16).map(lambda b: b.translate(None, b"\r\n\x00"))
asgi_headers = st.lists(
    st.tuples(header_names.map(str.encode), header_values),
    max_size=12,
)


def _expected_headers(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    groups: dict[bytes, list[str]] = {}
    for name, value in headers:
        if b"_" in name:
            continue
        groups.setdefault(name.lower(), []).append(
            value.strip(b" \t").decode("latin-1")
        )
    result: dict[bytes, bytes] = {}
    for name, values in groups.items():
        if name == b"cookie" and len(values) > 1:
            joined = "; ".join(p for p in (v.rstrip("; ") for v in values) if p)
        else:
            joined = ", ".join(values)
        if name == b"content-type" and not joined:
            continue
        result[name] = joined.encode("latin-1")
    return result


@SETTINGS
@given(
    method=methods,
    root_path=asgi_root,
    suffix=asgi_suffix,
    query=st.binary(max_size=24),
    headers=asgi_headers,
    with_raw_path=st.booleans(),
)
def test_scope_environ_scope_round_trip(
    method: str,
    root_path: str,
    suffix: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    with_raw_path: bool,
) -> None:
    """scope -> environ -> scope keeps method, paths, query string and headers.

    Normalisation (CORE-PATH-03, CORE-HDR-01..07): ``root_path`` comes back
    normalised (no trailing ``/``); an empty ``path`` comes back as ``"/"``;
    header names come back lowercase; names containing ``_`` are dropped
    (``underscore_headers="drop"``); values are stripped of SP/HTAB; repeated
    fields come back as one field joined with ``", "`` (``cookie``: trailing
    ``"; "`` removed from each piece, empty pieces dropped, joined with
    ``"; "``); an empty ``content-type`` is dropped.
    """
    rp = normalize_root_path(root_path)
    path = rp + suffix
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": root_path,
        "query_string": query,
        "headers": headers,
    }
    if with_raw_path:
        scope["raw_path"] = quote_from_bytes(path.encode("utf-8"), "/").encode("ascii")
    environ = scope_to_environ(scope, TEMPLATE)
    back = environ_to_scope(environ)
    assert back["method"] == method
    assert back["root_path"] == rp
    assert back["path"] == (path or "/")
    assert back["query_string"] == query
    assert dict(back["headers"]) == _expected_headers(headers)
    assert len(back["headers"]) == len(dict(back["headers"]))


# --- WSGI side -------------------------------------------------------------

latin1_segment = st.text(
    alphabet=st.characters(max_codepoint=0xFF, exclude_characters="/"), max_size=6
)
wsgi_script = st.tuples(st.lists(latin1_segment, max_size=3), st.booleans()).map(
    lambda t: "".join("/" + s for s in t[0]) + ("/" if t[1] else "")
)
wsgi_path_info = st.lists(latin1_segment, max_size=4).map(
    lambda segs: "".join("/" + s for s in segs)
)
latin1_value = st.text(
    alphabet=st.characters(max_codepoint=0xFF, exclude_characters="\r\n\x00"),
    max_size=16,
)
environ_keys = st.from_regex(
    r"[A-Z0-9]{1,6}(_[A-Z0-9]{1,6}){0,2}", fullmatch=True
).filter(lambda k: k not in ("CONTENT_TYPE", "CONTENT_LENGTH", "TRANSFER_ENCODING"))


@SETTINGS
@given(
    method=methods,
    script_name=wsgi_script,
    path_info=wsgi_path_info,
    query=st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=24),
    http=st.dictionaries(environ_keys, latin1_value, max_size=8),
    content_type=st.none() | latin1_value.filter(lambda v: bool(v.strip(" \t"))),
    content_length=st.none() | st.integers(min_value=0, max_value=10**12).map(str),
    server=st.tuples(
        st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True), st.integers(0, 65535)
    ),
    client=st.none()
    | st.tuples(st.from_regex(r"[0-9.]{1,15}", fullmatch=True), st.integers(1, 65535)),
    protocol=st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"]),
    scheme=st.sampled_from(["http", "https"]),
)
def test_environ_scope_environ_round_trip(
    method: str,
    script_name: str,
    path_info: str,
    query: str,
    http: dict[str, str],
    content_type: str | None,
    content_length: str | None,
    server: tuple[str, int],
    client: tuple[str, int] | None,
    protocol: str,
    scheme: str,
) -> None:
    """environ -> scope -> environ keeps method, paths, query string and headers.

    Normalisation (CORE-PATH-03, CORE-PATH-06, CORE-HDR-06): ``SCRIPT_NAME``
    comes back normalised (trailing ``/`` removed, the slashes moving to
    ``PATH_INFO``), so ``SCRIPT_NAME + PATH_INFO`` is preserved octet for octet,
    non-UTF-8 octets included (via ``raw_path``), except that an empty full path
    comes back as ``"/"``; header values come back stripped of SP/HTAB;
    ``SERVER_PORT`` comes back as ``str(int(port))``. ``SCRIPT_NAME`` and
    ``PATH_INFO`` are generated as PEP 3333 requires: empty or starting with ``/``.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": protocol,
        "wsgi.url_scheme": scheme,
    }
    environ.update({"HTTP_" + key: value for key, value in http.items()})
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    if client is not None:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])

    back = scope_to_environ(environ_to_scope(environ), TEMPLATE)

    assert back["REQUEST_METHOD"] == method
    assert back["SCRIPT_NAME"] == normalize_root_path(script_name)
    assert back["SCRIPT_NAME"] + back["PATH_INFO"] == (script_name + path_info or "/")
    assert back["QUERY_STRING"] == query
    assert back["SERVER_PROTOCOL"] == protocol
    assert back["wsgi.url_scheme"] == scheme
    assert (back["SERVER_NAME"], back["SERVER_PORT"]) == (server[0], str(server[1]))
    if client is None:
        assert "REMOTE_ADDR" not in back
    else:
        assert (back["REMOTE_ADDR"], back["REMOTE_PORT"]) == (client[0], str(client[1]))
    expected = {"HTTP_" + key: value.strip(" \t") for key, value in http.items()}
    if content_type is not None:
        expected["CONTENT_TYPE"] = content_type.strip(" \t")
    if content_length is not None:
        expected["CONTENT_LENGTH"] = content_length
    got = {k: v for k, v in back.items() if k.startswith(("HTTP_", "CONTENT_"))}
    assert got == expected


# --- Smaller properties ----------------------------------------------------


@SETTINGS
@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_CORE_PATH_01_asgi_wsgi_asgi(path: str) -> None:
    """CORE-PATH-01: ASGI -> WSGI -> ASGI is the identity; WSGI text is latin-1."""
    wsgi = asgi_to_wsgi_path(path)
    assert all(ord(c) <= 0xFF for c in wsgi)
    assert wsgi_to_asgi_path(wsgi) == path


@SETTINGS
@given(
    st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=16)), max_size=12),
    st.sampled_from(["drop", "keep"]),
)
def test_CORE_HDR_request_headers_never_leak_bad_bytes(
    headers: list[tuple[bytes, bytes]], mode: Any
) -> None:
    """CORE-STR-01, CORE-HDR-05/06, SEC-01: arbitrary header bytes give E400 or a clean environ."""
    try:
        environ = scope_to_environ(
            {"type": "http", "method": "GET", "path": "/", "headers": headers},
            TEMPLATE,
            underscore_headers=mode,
        )
    except RequestRejected as exc:
        assert exc.status == 400
        return
    for key, value in environ.items():
        if "." in key:
            continue
        assert type(value) is str
        assert not {"\r", "\n", "\x00"} & set(key + value)
        assert all(ord(c) <= 0xFF for c in value)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}", fullmatch=True),
            st.text(
                # Printable latin-1 plus HTAB; C1 (0x80-0x9F) is obs-text and allowed.
                alphabet=st.characters(
                    min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"
                )
                | st.just("\t"),
                max_size=16,
            ),
        ),
        max_size=10,
    )
)
def test_response_headers_round_trip(headers: list[tuple[str, str]]) -> None:
    """WSGI -> ASGI -> WSGI response headers keep order, duplicates and values.

    Normalisation (CORE-HDR-08/09/11, W2A-SR-05): names come back lowercase,
    values stripped of SP/HTAB; hop-by-hop fields and lines with an invalid
    ``Content-Length`` are excluded from the input.
    """
    headers = [
        (n, v)
        for n, v in headers
        if n.lower() not in HOP_BY_HOP and n.lower() != "content-length"
    ]
    asgi, length = wsgi_response_headers(headers)
    assert length is None
    wsgi, _ = asgi_response_headers(asgi)
    assert wsgi == [(n.lower(), v.strip(" \t")) for n, v in headers]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}", fullmatch=True),
            st.text(
                alphabet=st.characters(
                    min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"
                )
                | st.just("\t"),
                max_size=16,
            ),
        ),
        max_size=10,
    ),
    st.sampled_from(["tuple", "lists", "generator"]),
    st.sampled_from([bytearray, memoryview]),
    st.sampled_from(["", " ", "\t", " \t"]),
)
def test_W2A_SR_03_A2W_SEND_02_liberal_shapes_read_as_canonical(
    headers: list[tuple[str, str]], shape: str, kind: Any, pad: str
) -> None:
    """W2A-SR-03, A2W-SEND-02, CORE-HDR-08 (amended): a liberal shape gives exactly
    what the canonical one gives, or the same error: the wire never sees the
    difference."""
    canonical = [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]
    liberal: Any = {
        "tuple": tuple((pad + n + pad, v) for n, v in canonical),
        "lists": [[pad + n + pad, v] for n, v in canonical],
        "generator": ((pad + n + pad, v) for n, v in canonical),
    }[shape]
    try:
        expected = wsgi_response_headers(canonical)
    except WSGIProtocolError:
        with pytest.raises(WSGIProtocolError):
            wsgi_response_headers(liberal)
        return
    assert wsgi_response_headers(liberal) == expected
    asgi, _ = expected
    liberal_asgi = [(kind(pad.encode() + n + pad.encode()), kind(v)) for n, v in asgi]
    assert asgi_response_headers(liberal_asgi) == asgi_response_headers(asgi)
