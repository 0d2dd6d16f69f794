"""A WSGI app served through WSGIToASGI for the denial-of-service tests (issue 13 §3).

- ``GET /hang`` never answers (the thread sleeps for an hour).
- ``GET /big`` streams 256 MiB: a client that reads nothing stalls it.
- ``POST /upload`` reads the whole body and answers its size.
- ``GET /health`` answers ``ok``; ``GET /stats`` answers ``WSGIToASGI.stats()``.

``W2A_LIMITS=off`` serves with the adapter's defaults; otherwise
``send_timeout`` and ``body_timeout`` are 1 s and ``request_timeout`` 3 s.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from sgibridge import WSGIToASGI

__all__ = ("asgi_app",)

BLOCK = b"b" * 65536


def _big() -> Iterator[bytes]:
    for _ in range(4096):
        yield BLOCK


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    path = environ["PATH_INFO"]
    octets = [("Content-Type", "application/octet-stream")]
    if path == "/hang":
        time.sleep(3600)
    if path == "/big":
        start_response("200 OK", [*octets, ("Content-Length", str(4096 * len(BLOCK)))])
        return _big()
    if path == "/upload":
        size = len(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(size).encode()]
    if path == "/stats":
        body = json.dumps(asgi_app.stats()).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


if os.environ.get("W2A_LIMITS") == "off":
    asgi_app = WSGIToASGI(wsgi_app)
else:
    asgi_app = WSGIToASGI(
        wsgi_app, send_timeout=1.0, body_timeout=1.0, request_timeout=3.0
    )
