"""Apps for the reliability tests on real servers (``tests/reliability``).

The same routes exist twice: ``w2a_app`` is a WSGI app served through
WSGIToASGI (for Uvicorn and Hypercorn) and ``a2w_app`` an ASGI app served
through ASGIToWSGI (for Gunicorn and Waitress).

- ``GET /bytes?n=N&seed=S`` streams :func:`pattern` ``(S, N)`` in 16 KiB
  chunks with a Content-Length.
- ``POST /echo`` reads the whole body in 8 KiB reads and answers it back.
- ``GET /raise?tag=T`` sends some chunks, then the app raises.
- ``GET /raise-first?tag=T`` (WSGI only) raises before ``start_response``.
- ``GET /health`` answers ``ok``.
- ``GET /gc`` runs a full garbage collection (on the WSGI worker thread or
  the adapter's loop) and answers how many objects it found: the soak test
  measures memory after it, so a leak is not confused with cyclic garbage
  that the next collection frees.
- ``GET /tasks`` (ASGI only) answers how many asyncio tasks the adapter's
  loop runs, this request's included: a leaked task shows there.

With a ``tag`` query parameter, an app prints marker lines to stderr (the
server log): ``REL-CLOSE <tag>`` when the WSGI iterable is closed,
``REL-GONE <tag>`` when it saw the client leave, ``REL-END <tag>`` when the
ASGI app returned. The tests count them (close exactly once).

``REL_IDLE_TIMEOUT`` sets how long WSGIToASGI's idle worker threads live, so
that a test can wait for the thread count to return to idle quickly.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from sgibridge import ASGIToWSGI, ClientDisconnected, WSGIToASGI
from sgibridge._workers import WorkerPool

__all__ = ("a2w_app", "pattern", "w2a_app")

CHUNK = 16 * 1024
WORKERS = 8
Message = MutableMapping[str, Any]


def pattern(seed: int, size: int) -> bytes:
    """``size`` deterministic bytes; the client computes the same."""
    block = bytes((seed * 7 + i) % 256 for i in range(256))
    return (block * (size // 256 + 1))[:size]


def mark(kind: str, tag: str) -> None:
    if tag:  # one write, so that other threads' log lines cannot split it
        sys.stderr.write(f"REL-{kind} {tag}\n")
        sys.stderr.flush()


def _query(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw).items()}


# --------------------------------------------------------------------------
# WSGI, served through WSGIToASGI
# --------------------------------------------------------------------------


class _Body:
    """A WSGI iterable that marks its close()."""

    def __init__(self, chunks: Iterator[bytes], tag: str) -> None:
        self._chunks = chunks
        self._tag = tag

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        mark("CLOSE", self._tag)


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _raising(tag: str) -> Iterator[bytes]:
    yield b"first chunk"
    raise RuntimeError(f"rel-apps: raising mid-stream ({tag})")


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> _Body:
    path = environ["PATH_INFO"]
    query = _query(environ.get("QUERY_STRING", ""))
    tag = query.get("tag", "")
    octets = [("Content-Type", "application/octet-stream")]
    if path == "/bytes":
        data = pattern(int(query.get("seed", "0")), int(query.get("n", "0")))
        start_response("200 OK", [*octets, ("Content-Length", str(len(data)))])
        return _Body(_chunks(data), tag)
    if path == "/echo":
        stream = environ["wsgi.input"]
        parts = []
        try:
            while part := stream.read(8192):
                parts.append(part)
        except ClientDisconnected:
            mark("GONE", tag)
            raise
        data = b"".join(parts)
        start_response("200 OK", [*octets, ("Content-Length", str(len(data)))])
        return _Body(iter([data]), tag)
    if path == "/raise":
        start_response("200 OK", octets)
        return _Body(_raising(tag), tag)
    if path == "/raise-first":
        raise RuntimeError(f"rel-apps: raising before start_response ({tag})")
    if path == "/gc":  # collect cyclic garbage; answer how much was found
        found = str(gc.collect()).encode()
        start_response("200 OK", [("Content-Length", str(len(found)))])
        return _Body(iter([found]), tag)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return _Body(iter([b"ok"]), tag)


w2a_app = WSGIToASGI(wsgi_app, workers=WORKERS)
# The tests wait for idle worker threads to retire; the default is 10 s.
w2a_app._pool = WorkerPool(
    WORKERS, idle_timeout=float(os.environ.get("REL_IDLE_TIMEOUT", "10"))
)


# --------------------------------------------------------------------------
# ASGI, served through ASGIToWSGI
# --------------------------------------------------------------------------

Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def _start(send: Send, size: int | None = None) -> None:
    headers = [(b"content-type", b"application/octet-stream")]
    if size is not None:
        headers.append((b"content-length", str(size).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if os.environ.get("REL_LIFESPAN") == "fail":
                await send({"type": "lifespan.startup.failed", "message": "rel: no"})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    query = _query(scope["query_string"].decode("latin-1"))
    tag = query.get("tag", "")
    try:
        await _http(scope["path"], query, tag, receive, send)
    except ClientDisconnected:
        mark("GONE", tag)
    finally:
        mark("END", tag)


async def _http(
    path: str, query: dict[str, str], tag: str, receive: Receive, send: Send
) -> None:
    if path == "/bytes":
        data = pattern(int(query.get("seed", "0")), int(query.get("n", "0")))
        await _start(send, len(data))
        for start in range(0, len(data), CHUNK):
            await send(
                {
                    "type": "http.response.body",
                    "body": data[start : start + CHUNK],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b""})
    elif path == "/echo":
        parts = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                mark("GONE", tag)
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        data = b"".join(parts)
        await _start(send, len(data))
        await send({"type": "http.response.body", "body": data})
    elif path == "/gc":
        found = str(gc.collect()).encode()
        await _start(send, len(found))
        await send({"type": "http.response.body", "body": found})
    elif path == "/tasks":
        count = str(len(asyncio.all_tasks())).encode()
        await _start(send, len(count))
        await send({"type": "http.response.body", "body": count})
    elif path == "/raise":
        # 4 MiB is past the adapter's high watermark (1 MiB), so send() has
        # waited for the server to take chunks: the raise comes mid-stream.
        await _start(send)
        for _ in range(256):
            await send(
                {"type": "http.response.body", "body": b"f" * CHUNK, "more_body": True}
            )
        raise RuntimeError(f"rel-apps: raising mid-stream ({tag})")
    else:
        await _start(send, 2)
        await send({"type": "http.response.body", "body": b"ok"})


a2w_app = ASGIToWSGI(asgi_app)
