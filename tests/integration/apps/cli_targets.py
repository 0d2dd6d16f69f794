"""Targets for ``sgibridge serve`` and ``sgibridge inspect`` in the CLI tests.

Every app answers ``GET /`` with ``<interface> <pid>`` and lifespan-free, framework-free code, so
the tests see which interface was served and by which process.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = (
    "ASGI2App",
    "asgi3_app",
    "create_app",
    "not_an_app",
    "three_arguments",
    "whoami",
    "wsgi_app",
)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def wsgi_app(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    body = f"wsgi {os.getpid()} {environ['SCRIPT_NAME']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


async def _answer(send: Send, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


async def asgi3_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await _answer(send, f"asgi3 {os.getpid()} {scope.get('root_path', '')}")


class ASGI2App:
    """An ASGI 2 ("double callable") app: built with the scope, then awaited."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None:
        if self.scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await _answer(send, f"asgi2 {os.getpid()} {self.scope.get('root_path', '')}")


def whoami(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """``REMOTE_ADDR wsgi.url_scheme``: what a trusted proxy's headers changed."""
    body = f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def create_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """An app factory (``--factory``): returns the WSGI app."""
    return wsgi_app


not_an_app = 42


def three_arguments(a: object, b: object, c: object) -> None:
    """Three parameters, not ``async def``, not named as ASGI's: not an app (issue 11)."""
