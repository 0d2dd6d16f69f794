"""A raw ASGI app served through ASGIToWSGI, for the on-the-wire tests of
``tests/integration/test_a2w_wire.py`` (issue 13 §2, §3).

Routes:

- ``/ok``: a small complete response.
- ``/fail-after-start``: ``http.response.start`` with ``content-length: 1000``,
  then the app raises before any body.
- ``/fail-after-bytes``: the same start with a larger ``content-length``, two
  2 MiB chunks, then the app raises. Each chunk is above the adapter's high
  watermark, so the second ``send()`` returns only once the WSGI server's
  thread took it from the response iterator: by then the first bytes went to
  the server, and the failure can only be an abort.
- ``/hang``: never answers until ``request_timeout`` (from the environment
  variable ``A2W_WIRE_REQUEST_TIMEOUT``, off when unset) cancels it.
- ``/stats``: :meth:`ASGIToWSGI.stats` as JSON, from a small WSGI route in
  front of the adapter, as the README shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from sgibridge import ASGIToWSGI

Message = dict[str, Any]
CHUNK = b"w" * (2 * 1024 * 1024)


async def _app(
    scope: Message,
    receive: Callable[[], Any],
    send: Callable[[Message], Any],
) -> None:
    if scope["type"] != "http":
        return  # lifespan: unsupported
    path = scope["path"]
    text = [(b"content-type", b"text/plain")]
    if path == "/ok":
        await send({"type": "http.response.start", "status": 200, "headers": text})
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/fail-after-start":
        headers = [*text, (b"content-length", b"1000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise RuntimeError("WIRE-FAIL after start")
    elif path == "/fail-after-bytes":
        size = str(3 * len(CHUNK)).encode()
        headers = [*text, (b"content-length", size)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        raise RuntimeError("WIRE-FAIL after bytes")
    elif path == "/hang":
        await anyio.sleep_forever()
    else:
        await send({"type": "http.response.start", "status": 404, "headers": text})
        await send({"type": "http.response.body", "body": b"not found"})


_timeout = os.environ.get("A2W_WIRE_REQUEST_TIMEOUT", "")
adapter = ASGIToWSGI(
    _app, lifespan="off", request_timeout=float(_timeout) if _timeout else None
)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The adapter, with ``/stats`` in front of it."""
    if environ.get("PATH_INFO") == "/stats":
        body = json.dumps(adapter.stats()).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
    return adapter(environ, start_response)
