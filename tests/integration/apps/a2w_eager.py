"""ASGIToWSGI(app, eager=True) for the real-server tests (A2W-EAGER-01).

Each answer names the thread the app ran on, so the test sees where it ran: a Gunicorn worker
thread (``MainThread`` under the sync worker, a pool thread under gthread) or the adapter's loop
thread (``sgibridge-loop``).

- ``/hello``: answers at once; with eager start it never leaves the server's thread.
- ``/big``: 3 MiB in 64 KiB sends (past the high watermark, so it moves to the loop), then an
  ``asyncio.sleep`` (needs the running loop), then the name of the thread it ends on.
- ``/needs-loop``: awaits ``asyncio.sleep`` before answering: E500 under eager start.
- ``/api``: a FastAPI ``async def`` endpoint.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from sgibridge import ASGIToWSGI

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BLOCK = b"b" * 65536
api = FastAPI()


@api.get("/api")
async def from_fastapi() -> PlainTextResponse:
    return PlainTextResponse(threading.current_thread().name)


async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http" or scope["path"] == "/api":
        await api(scope, receive, send)
        return
    path = scope["path"]
    if path == "/needs-loop":
        await asyncio.sleep(0.001)
    start = threading.current_thread().name.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"x-started-on", start)],
        }
    )
    if path == "/big":
        for _ in range(48):
            await send({"type": "http.response.body", "body": BLOCK, "more_body": True})
        await asyncio.sleep(0.001)
    end = threading.current_thread().name.encode()
    await send({"type": "http.response.body", "body": b"ended on " + end})


app = ASGIToWSGI(asgi, eager=True)
