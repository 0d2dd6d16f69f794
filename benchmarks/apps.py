"""The benchmark apps: one WSGI, one ASGI, answering the same paths with the same bytes.

=========================  ===================================================================
``GET /small``             ``200``, the 13-byte body ``Hello, world!`` (WSGI: a one-element list)
``POST /echo``             reads the whole body, answers it back
``GET /stream?size=N&chunk=M``  streams N bytes in M-byte chunks (WSGI: a generator)
``POST /upload``           reads the body in 64 KiB reads, answers its length as decimal text
anything else              ``404``
=========================  ===================================================================

Every response carries ``Content-Length``, so a client can tell the end of the body on a
keep-alive connection without chunked decoding.  The ASGI app is also the W2A *ceiling*
(``bare-asgi``: the same work with no adapter in between) and the WSGI app is the A2W ceiling
(``bare-wsgi``).  The ASGI app speaks lifespan, so no adapter logs an unsupported-lifespan error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any, Protocol

__all__ = (
    "ASGIApp",
    "Environ",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "StartResponse",
    "WSGIApp",
    "asgi_app",
    "wsgi_app",
)

# --- types (kept loose on purpose: every adapter brings its own, stricter, flavour) ----------

Environ = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = ..., /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

SMALL_BODY = b"Hello, world!"
READ_SIZE = 65536
MAX_STREAM = (
    1 << 31
)  # /stream refuses more than 2 GiB: keeps a typo from running forever
_TEXT = "text/plain"
_OCTETS = "application/octet-stream"


def parse_stream_query(query: str) -> tuple[int, int]:
    """Return ``(size, chunk)`` from ``size=N&chunk=M``; defaults 10 MiB and 64 KiB."""
    size, chunk = 10 * 1024 * 1024, READ_SIZE
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "size" and value.isdigit():
            size = min(int(value), MAX_STREAM)
        elif name == "chunk" and value.isdigit():
            chunk = max(1, int(value))
    return size, chunk


# --- WSGI ---------------------------------------------------------------------------------------


def _content_length(environ: Environ) -> int | None:
    value = environ.get("CONTENT_LENGTH", "")
    return int(value) if value.isdigit() else None


def _wsgi_read_all(environ: Environ) -> bytes:
    length = _content_length(environ)
    stream = environ["wsgi.input"]
    data: bytes = stream.read() if length is None else stream.read(length)
    return data


def _wsgi_count(environ: Environ) -> int:
    """Read the body in 64 KiB reads without keeping it; never past CONTENT_LENGTH."""
    stream = environ["wsgi.input"]
    remaining = _content_length(environ)
    total = 0
    while remaining is None or remaining > 0:
        want = READ_SIZE if remaining is None else min(READ_SIZE, remaining)
        data = stream.read(want)
        if not data:
            break
        total += len(data)
        if remaining is not None:
            remaining -= len(data)
    return total


def _wsgi_stream(size: int, chunk: int) -> Iterator[bytes]:
    block = b"x" * min(chunk, size) if size else b""
    full, rest = divmod(size, chunk)
    for _ in range(full):
        yield block
    if rest:
        yield block[:rest]


def _wsgi_answer(
    start_response: StartResponse, status: str, body: bytes, ctype: str = _TEXT
) -> list[bytes]:
    start_response(
        status, [("Content-Type", ctype), ("Content-Length", str(len(body)))]
    )
    return [body]


def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI benchmark app (and the A2W ceiling ``bare-wsgi``)."""
    path = environ.get("PATH_INFO", "")
    if path == "/small":
        return _wsgi_answer(start_response, "200 OK", SMALL_BODY)
    if path == "/echo":
        return _wsgi_answer(start_response, "200 OK", _wsgi_read_all(environ), _OCTETS)
    if path == "/stream":
        size, chunk = parse_stream_query(environ.get("QUERY_STRING", ""))
        start_response(
            "200 OK", [("Content-Type", _OCTETS), ("Content-Length", str(size))]
        )
        return _wsgi_stream(size, chunk)
    if path == "/upload":
        return _wsgi_answer(
            start_response, "200 OK", str(_wsgi_count(environ)).encode()
        )
    return _wsgi_answer(start_response, "404 Not Found", b"Not Found")


# --- ASGI ---------------------------------------------------------------------------------------


def _headers(ctype: str, length: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", ctype.encode()),
        (b"content-length", str(length).encode()),
    ]


async def _asgi_answer(
    send: Send, status: int, body: bytes, ctype: str = _TEXT
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _headers(ctype, len(body)),
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _asgi_body(receive: Receive, keep: bool) -> tuple[int, bytes]:
    parts: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionError(f"client went away: {message['type']!r}")
        body: bytes = message.get("body", b"")
        total += len(body)
        if keep and body:
            parts.append(body)
        if not message.get("more_body", False):
            return total, b"".join(parts)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI benchmark app (and the W2A ceiling ``bare-asgi``)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        raise ValueError(
            f"the benchmark app serves 'http' and 'lifespan', not {scope['type']!r}"
        )
    path = scope["path"]
    if path == "/small":
        await _asgi_answer(send, 200, SMALL_BODY)
    elif path == "/echo":
        _, body = await _asgi_body(receive, keep=True)
        await _asgi_answer(send, 200, body, _OCTETS)
    elif path == "/stream":
        size, chunk = parse_stream_query(
            scope.get("query_string", b"").decode("latin-1")
        )
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": _headers(_OCTETS, size),
        }
        await send(start)
        block = b"x" * min(chunk, size) if size else b""
        sent = 0
        while size - sent > chunk:
            await send({"type": "http.response.body", "body": block, "more_body": True})
            sent += chunk
        await send({"type": "http.response.body", "body": block[: size - sent]})
    elif path == "/upload":
        total, _ = await _asgi_body(receive, keep=False)
        await _asgi_answer(send, 200, str(total).encode())
    else:
        await _asgi_answer(send, 404, b"Not Found")
