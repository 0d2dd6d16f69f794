"""A WSGI app served through WSGIToASGI for the client-gone tests (issue 13 §1).

``/sse?tag=T&read=R&mode=M`` answers 200 with ``text/event-stream``:

- ``read``: ``none`` never touches ``wsgi.input``; ``all`` reads it whole first.
- ``mode``: ``stream`` yields events for ever (one 1 KiB event every few
  milliseconds, like an SSE generator); ``write`` sends them with ``write()``;
  ``whole`` returns one list.

Marker lines go to stderr (the server log), one ``write()`` each:
``W2A-CLOSE <tag>`` when the iterable is closed, ``W2A-GONE <tag>`` when the
app saw ``ClientDisconnected``, ``W2A-READ <tag> <n>`` after reading ``n`` bytes.
``/health`` answers ``ok``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

from sgibridge import ClientDisconnected, WSGIToASGI
from sgibridge._workers import WorkerPool

__all__ = ("asgi_app", "wsgi_app")

WORKERS = 4
EVENT = b"data: " + b"z" * 1016 + b"\n\n"


def mark(kind: str, tag: str, extra: str = "") -> None:
    sys.stderr.write(f"W2A-{kind} {tag}{extra}\n")
    sys.stderr.flush()


class _Marked:
    def __init__(self, chunks: Iterator[bytes] | list[bytes], tag: str) -> None:
        self._chunks = chunks
        self._tag = tag

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        mark("CLOSE", self._tag)


def _events() -> Iterator[bytes]:
    while True:
        yield EVENT
        time.sleep(0.002)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> _Marked:
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    tag = query.get("tag", "")
    if environ["PATH_INFO"] != "/sse":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _Marked([b"ok"], tag)
    try:
        if query.get("read") == "all":
            data = environ["wsgi.input"].read()
            mark("READ", tag, f" {len(data)}")
        write = start_response("200 OK", [("Content-Type", "text/event-stream")])
        mode = query.get("mode", "stream")
        if mode == "whole":
            return _Marked([EVENT, EVENT], tag)
        if mode == "write":
            while True:
                write(EVENT)
                time.sleep(0.002)
    except ClientDisconnected:
        mark("GONE", tag)
        raise
    return _Marked(_events(), tag)


asgi_app = WSGIToASGI(wsgi_app, workers=WORKERS)
asgi_app._pool = WorkerPool(
    WORKERS, idle_timeout=float(os.environ.get("W2A_IDLE_TIMEOUT", "10"))
)
