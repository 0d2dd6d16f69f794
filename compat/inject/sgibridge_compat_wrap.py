"""How each adapter wraps a framework's app in a compat run.

The mode comes from ``SGIBRIDGE_COMPAT_ADAPTER``: ``native`` calls the app
as it is, ``sgibridge`` and ``a2wsgi`` pass every HTTP request through both
directions of that adapter pair at once:

- a WSGI app becomes ``ASGIToWSGI(WSGIToASGI(app))``;
- an ASGI app becomes ``WSGIToASGI(ASGIToWSGI(app))``.

In every mode the wrapper counts the requests of the running test, and for
ASGI apps the scopes and messages that cannot cross WSGI (websockets, server
push, trailers, a test client's debug extension): a test that uses them
natively is excluded for every adapter alike.
Websocket and lifespan scopes go straight to the app in every mode, so an
excluded test cannot hang a run; the test client drives the app's lifespan
itself, as it does natively, so the inner ASGIToWSGI never sends one.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import sniffio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[..., Iterable[bytes]]

MODES = ("native", "sgibridge", "a2wsgi")
MODE = os.environ.get("SGIBRIDGE_COMPAT_ADAPTER", "native")
if MODE not in MODES:
    raise RuntimeError(f"SGIBRIDGE_COMPAT_ADAPTER must be one of {MODES}, got {MODE!r}")

#: What the running test sent through a wrapper; reset before each test.
STATS: dict[str, int] = {
    "requests": 0,
    "websocket": 0,
    "push": 0,
    "trailers": 0,
    "debug": 0,
}

# Response messages of extensions a WSGI response cannot carry: server push,
# trailers, and Starlette's test-client-only ``http.response.debug`` (the
# template and context of the response, for the test to inspect).
_UNCARRIED = {
    "http.response.push": "push",
    "http.response.trailers": "trailers",
    "http.response.debug": "debug",
}

# Each adapter instance that owns a thread or a loop, with how to stop it;
# stopped after each test, so no test inherits another's threads.
_open: list[Callable[[], None]] = []


def done_tests() -> set[str]:
    """Tests an earlier attempt of this run reported (a run is restarted
    after a hang), named in the file ``SGIBRIDGE_COMPAT_DONE``."""
    path = os.environ.get("SGIBRIDGE_COMPAT_DONE")
    if not path or not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as lines:
        return {line.rstrip("\n") for line in lines if line.strip()}


def reset() -> None:
    """Forget the counts of the previous test."""
    for key in STATS:
        STATS[key] = 0


def close_all() -> None:
    """Stop every adapter instance the test created."""
    while _open:
        _open.pop()()


def _sgibridge_wsgi(app: WSGIApp) -> WSGIApp:
    from sgibridge import ASGIToWSGI, WSGIToASGI

    outer = ASGIToWSGI(WSGIToASGI(app))
    _open.append(outer.shutdown)
    return outer


def _sgibridge_asgi(app: ASGIApp, backend: str) -> ASGIApp:
    from sgibridge import ASGIToWSGI, WSGIToASGI

    inner = ASGIToWSGI(
        app, lifespan="off", backend="trio" if backend == "trio" else "asyncio"
    )
    _open.append(inner.shutdown)
    return WSGIToASGI(inner)


# a2wsgi has no way to stop an ASGIMiddleware's loop: a stopped loop strands
# the calls still on it (and the worker threads waiting on them), and is
# then collected with warnings. One loop shared by every test would let one
# test's stuck call block the next. So each pair gets a loop of its own
# (a2wsgi's ``loop`` argument), never stopped: after the test it is reused
# by a later pair if nothing is left on it.
_idle_loops: list[asyncio.AbstractEventLoop] = []


def _a2wsgi_loop() -> asyncio.AbstractEventLoop:
    if _idle_loops:
        loop = _idle_loops.pop()
    else:
        loop = asyncio.new_event_loop()
        threading.Thread(
            target=loop.run_forever, daemon=True, name="a2wsgi-loop"
        ).start()

    def reuse_if_idle() -> None:
        if not asyncio.all_tasks(loop):
            _idle_loops.append(loop)

    _open.append(lambda: _call_soon(loop, reuse_if_idle))
    return loop


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    loop.call_soon_threadsafe(callback)


def _a2wsgi_wsgi(app: WSGIApp) -> WSGIApp:
    import a2wsgi

    inner = a2wsgi.WSGIMiddleware(app)
    outer = a2wsgi.ASGIMiddleware(inner, loop=_a2wsgi_loop())
    _open.append(lambda: inner.executor.shutdown(wait=False))
    result: WSGIApp = outer
    return result


def _a2wsgi_asgi(app: ASGIApp, backend: str) -> ASGIApp:
    import a2wsgi

    inner = a2wsgi.ASGIMiddleware(app, loop=_a2wsgi_loop())
    outer = a2wsgi.WSGIMiddleware(inner)
    _open.append(lambda: outer.executor.shutdown(wait=False))
    result: ASGIApp = outer
    return result


class BridgedWSGI:
    """A WSGI app that calls ``app`` through the adapter pair of this run."""

    compat_wrapped = True

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._chain: WSGIApp | None = None
        self._generation = -1

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        STATS["requests"] += 1
        if MODE == "native":
            return self.app(environ, start_response)
        if self._chain is None or self._generation != _generation():
            self._chain = (
                _sgibridge_wsgi(self.app)
                if MODE == "sgibridge"
                else _a2wsgi_wsgi(self.app)
            )
            self._generation = _generation()
        return self._chain(environ, start_response)


class BridgedASGI:
    """An ASGI app that calls ``app`` through the adapter pair of this run."""

    compat_wrapped = True

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._chains: dict[str, tuple[int, ASGIApp]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            STATS["websocket"] += 1
        if kind != "http":
            await self.app(scope, receive, send)
            return
        STATS["requests"] += 1
        if MODE == "native":
            await self.app(scope, receive, _watch(send))
            return
        backend = sniffio.current_async_library()
        generation, chain = self._chains.get(backend, (-1, self.app))
        if generation != _generation():
            build = _sgibridge_asgi if MODE == "sgibridge" else _a2wsgi_asgi
            chain = build(self.app, backend)
            self._chains[backend] = (_generation(), chain)
        await chain(scope, receive, send)


def _watch(send: Send) -> Send:
    async def watched(message: Message) -> None:
        kind = _UNCARRIED.get(message.get("type", ""))
        if kind is not None:
            STATS[kind] += 1
        await send(message)

    return watched


_closed_count = [0]


def _generation() -> int:
    """Bumped after each test, so a wrapper kept across tests rebuilds its
    adapters instead of using ones that were stopped."""
    return _closed_count[0]


def next_test() -> None:
    """Stop this test's adapters and start counting the next test."""
    close_all()
    _wrappers.clear()
    _closed_count[0] += 1
    reset()


# One wrapper per app object for the running test: a test client that calls
# the same app many times reuses one adapter pair, as a server would.
_wrappers: dict[int, tuple[Any, Any]] = {}


def wrap_wsgi(app: Any) -> Any:
    """``app`` through this run's adapter pair (the same object if already)."""
    if getattr(app, "compat_wrapped", False):
        return app
    known = _wrappers.get(id(app))
    if known is None or known[0] is not app:
        known = _wrappers[id(app)] = (app, BridgedWSGI(app))
    return known[1]


def wrap_asgi(app: Any) -> Any:
    """``app`` through this run's adapter pair (the same object if already)."""
    if getattr(app, "compat_wrapped", False):
        return app
    known = _wrappers.get(id(app))
    if known is None or known[0] is not app:
        known = _wrappers[id(app)] = (app, BridgedASGI(app))
    return known[1]
