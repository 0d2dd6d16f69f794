"""A FastAPI app served through ASGIToWSGI, for the real-server tests.

Importing this module prints ``IMPORTED <pid>``; lifespan prints ``STARTUP <pid>`` and
``SHUTDOWN <pid>``, all to stderr, so the tests can count them per process in the server log (with
gunicorn ``--preload`` the import happens in the master, lifespan in each worker). Endpoints that
print (``SEND-RAISED ...``) do so the same way. Startup takes a moment on purpose, so that
concurrent first requests pile up behind it (A2W-LIFE-02).

A gate for ``/gated`` is a file, not an event: under gunicorn with two workers the request that
would release an event may well reach the other process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from starlette.responses import FileResponse, StreamingResponse

from sgibridge import ASGIToWSGI

Message = MutableMapping[str, Any]
BLOCK = b"d" * 65536
#: How long ``/gated`` waits for its gate file before it gives up.
GATE_TIMEOUT = 15.0


def say(text: str) -> None:
    # One write() per line: print() writes the text and the newline apart,
    # and two workers writing at once interleaved their lines in the log.
    sys.stderr.write(f"{text} {os.getpid()}\n")
    sys.stderr.flush()


say("IMPORTED")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    say("STARTUP")
    await asyncio.sleep(0.2)
    app.state.boot_pid = os.getpid()
    yield {"lifespan_pid": os.getpid()}
    say("SHUTDOWN")


fastapi_app = FastAPI(lifespan=lifespan)


@fastapi_app.get("/pid")
async def pid(request: Request, hold: float = 0.0) -> dict[str, Any]:
    """The serving process and what lifespan left for it; ``hold`` keeps the worker busy."""
    if hold:
        await asyncio.sleep(hold)
    leaked = getattr(request.state, "mutated", False)
    request.state.mutated = True  # must not leak into the next request's copy
    return {
        "pid": os.getpid(),
        "boot_pid": getattr(request.app.state, "boot_pid", None),
        "lifespan_pid": getattr(request.state, "lifespan_pid", None),
        "leaked": leaked,
    }


@fastapi_app.get("/gated")
async def gated(gate: str) -> StreamingResponse:
    """Yields one chunk, then waits (bounded) for the file ``gate`` to exist."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        deadline = time.monotonic() + GATE_TIMEOUT
        while not await anyio.Path(gate).exists():
            if time.monotonic() > deadline:
                yield b"timed out\n"
                return
            await asyncio.sleep(0.02)
        yield b"released\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@fastapi_app.get("/file")
async def file(path: str) -> FileResponse:
    return FileResponse(path, media_type="application/octet-stream")


@fastapi_app.get("/download")
async def download(size: int) -> StreamingResponse:
    async def blocks() -> AsyncIterator[bytes]:
        left = size
        while left > 0:
            yield BLOCK[: min(left, len(BLOCK))]
            left -= len(BLOCK)

    return StreamingResponse(
        blocks(),
        media_type="application/octet-stream",
        headers={"content-length": str(size)},
    )


@fastapi_app.post("/upload")
async def upload(request: Request) -> dict[str, int]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
    return {"bytes": total}


@fastapi_app.get("/endless-stream")
async def endless_stream(tag: str) -> StreamingResponse:
    """A StreamingResponse that streams until the client leaves (at most 4 GiB).

    The adapter advertises ASGI spec 2.4, so Starlette does not watch ``receive()`` for a
    disconnect: its ``send()`` raises, Starlette raises ``ClientDisconnect``, and the generator
    is left suspended at its ``yield`` until it is garbage: it says when it is closed.
    """

    async def blocks() -> AsyncIterator[bytes]:
        try:
            for _ in range(65536):
                yield BLOCK
        except BaseException as exc:
            say(f"GENERATOR-CLOSED {type(exc).__name__} tag={tag}")
            raise

    return StreamingResponse(blocks(), media_type="application/octet-stream")


async def endless(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """A raw ASGI endpoint that streams until ``send()`` raises (at most 4 GiB)."""
    tag = scope["query_string"].decode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    try:
        for _ in range(65536):
            await send({"type": "http.response.body", "body": BLOCK, "more_body": True})
    except Exception as exc:
        say(f"SEND-RAISED {type(exc).__name__} {tag}")
        return
    await send({"type": "http.response.body", "body": b""})


fastapi_app.mount("/endless", endless)

app = ASGIToWSGI(fastapi_app)
