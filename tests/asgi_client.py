"""A hand-made ASGI server side for unit tests: scope, receive and send.

``run()`` calls an ASGI app the way a server would and records every message
it sends. The client side is scripted: the request body arrives in the given
chunks, then ``receive()`` blocks until ``disconnect`` is set (or forever),
as a real server's does while the connection is open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

Message = dict[str, Any]
ASGIApp = Callable[[Mapping[str, Any], Any, Any], Awaitable[None]]


def make_scope(
    method: str = "GET",
    path: str = "/",
    *,
    query: bytes = b"",
    headers: Iterable[tuple[bytes, bytes]] = (),
    root_path: str = "",
    extensions: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": query,
        "root_path": root_path,
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
        "extensions": dict(extensions or {}),
    }
    scope.update(extra)
    return scope


@dataclass
class Exchange:
    """What one call sent, and how it ended."""

    messages: list[Message] = field(default_factory=list)
    received: int = 0
    error: BaseException | None = None

    @property
    def start(self) -> Message:
        assert self.messages and self.messages[0]["type"] == "http.response.start", (
            self.messages
        )
        return self.messages[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.start["headers"])

    def header(self, name: bytes) -> bytes | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, values
        return values[0] if values else None

    @property
    def bodies(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.bodies)

    @property
    def finished(self) -> bool:
        bodies = self.bodies
        return bool(bodies) and not bodies[-1].get("more_body", False)


async def run(
    app: ASGIApp,
    scope: Mapping[str, Any] | None = None,
    *,
    body: bytes = b"",
    chunks: Iterable[bytes] | None = None,
    disconnect: anyio.Event | None = None,
    disconnect_mid_body: bool = False,
    on_send: Callable[[Message], Awaitable[None]] | None = None,
    limit: float = 10,
) -> Exchange:
    """Call ``app`` once; exceptions it raises are kept in ``error``."""
    scope = make_scope() if scope is None else scope
    parts = list(chunks) if chunks is not None else [body]
    script: list[Message] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if disconnect_mid_body:
        script[-1]["more_body"] = True
        script.append({"type": "http.disconnect"})
    exchange = Exchange()
    gone = disconnect or anyio.Event()

    async def receive() -> Message:
        exchange.received += 1
        if script:
            return script.pop(0)
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        exchange.messages.append(message)
        if on_send is not None:
            await on_send(message)

    with anyio.fail_after(limit):
        try:
            await app(scope, receive, send)
        except Exception as exc:
            exchange.error = exc
    return exchange
