"""Framework-free apps for the harness self-test: one WSGI, one ASGI, same answers.

``GET /`` answers ``200`` with ``hello from <interface>``; anything else answers ``404``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

__all__ = ("asgi_app", "wsgi_app")

Message = MutableMapping[str, Any]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = ..., /
    ) -> Callable[[bytes], object]: ...


def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """A bare PEP 3333 app."""
    if environ["PATH_INFO"] != "/":
        start_response(
            "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")]
        )
        return [b"Not Found"]
    body = b"hello from wsgi"
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]


async def asgi_app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """A bare ASGI 3 app that also speaks lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        raise ValueError(
            f"expected an 'http' or 'lifespan' scope, got {scope['type']!r}"
        )
    if scope["path"] == "/":
        status, body = 200, b"hello from asgi"
    else:
        status, body = 404, b"Not Found"
    headers = [
        (b"content-type", b"text/plain"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
