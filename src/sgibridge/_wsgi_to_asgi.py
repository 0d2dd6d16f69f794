"""WSGIToASGI: an ASGI 3 application that runs a WSGI application.

Theory of operation (DESIGN §2, CONFORMANCE §2)
===============================================

One HTTP request goes like this:

1. ``scope`` becomes ``environ`` in :mod:`._translate` (a copied template).
   A request the app must not see (bad header, bad length, header flood) is
   answered there with a canned 400/404/413/431.
2. The first ``http.request`` is received on the loop before any thread is
   involved. If it holds the whole body, ``wsgi.input`` is an in-memory
   :class:`~._body.InputStream` and no synchronisation happens at all. If more
   body follows (or ``Expect: 100-continue`` asks us to wait for the app), a
   *pump* task feeds a :class:`~._body.LoopToThread` pipe ahead of the reader,
   up to the high watermark.
3. The WSGI call, its iteration and ``close()`` run as one job on one worker
   thread (W2A-CLOSE-03) from a bounded pool (W2A-THR-01).
4. The thread answers the loop once, through a :class:`~._body.Waiter`:

   - :class:`_Complete`: the whole response is known (a list or tuple result,
     an empty body, an error before headers, a ``pathsend`` file). The loop
     sends ``http.response.start`` and the body; the thread is finished. A
     small request thus costs one hand-off into the thread and one back.
   - :class:`_Streaming`: headers are ready and the first non-empty chunk is
     already in a :class:`~._body.ThreadToLoop` pipe (PEP 3333 §The
     start_response() Callable: headers wait for the first non-empty chunk,
     W2A-SR-06). The loop sends what the pipe yields while the thread keeps
     iterating, blocked only above the high watermark (W2A-BODY-02), and a
     watcher task turns ``http.disconnect`` into an abort (W2A-ERR-07).
   - ``None``: the client is gone; nothing is sent.

5. Whatever ends the request early (client disconnect, ``send()`` raising,
   cancellation) aborts both pipes, so the thread's next read or write raises
   :class:`~sgibridge.ClientDisconnected`; the thread then runs ``close()``
   and the loop waits for it before returning. No thread outlives its call.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal, TextIO, overload

import anyio

from ._body import (
    DEFAULT_HIGH_WATER,
    BodyTooLarge,
    InputStream,
    LoopBridge,
    LoopToThread,
    ThreadToLoop,
    Waiter,
)
from ._exceptions import ASGIProtocolError, ClientDisconnected, WSGIProtocolError
from ._rules import see
from ._translate import (
    RequestRejected,
    canned_asgi,
    environ_template,
    parse_status_line,
    scope_to_environ,
    wsgi_response_headers,
)
from ._workers import WorkerPool

if TYPE_CHECKING:
    from ._types import Environ, ExcInfo, WSGIApp

__all__ = ("FileWrapper", "WSGIToASGI")

logger = logging.getLogger("sgibridge")

Scope = Mapping[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Any], Any]

#: List responses up to this size leave as one ``http.response.body``.
_JOIN_LIMIT = 1024 * 1024
#: Block size for reading a ``wsgi.file_wrapper`` that cannot be path-sent.
_FILE_BLOCK = 64 * 1024


class FileWrapper:
    """``wsgi.file_wrapper`` (PEP 3333 §Optional Platform-Specific File
    Handling, CONFORMANCE W2A-ENV-16).

    Iterating yields ``filelike.read(blksize)`` until ``b""``; no I/O happens
    before that. WSGIToASGI recognises it and sends a real file with
    ``http.response.pathsend`` when the server offers that extension.
    """

    def __init__(self, filelike: IO[bytes], blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        blksize = self.blksize
        while data := read(blksize):
            yield data

    def close(self) -> None:
        """Close the file-like object, if it can be closed."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


class _Complete:
    """The whole response, handed to the loop in one piece."""

    __slots__ = ("body", "final", "headers", "path", "raise_after", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: Sequence[bytes] = (),
        *,
        final: bool = True,
        path: str | None = None,
        raise_after: BaseException | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.final = final
        self.path = path
        self.raise_after = raise_after


class _Streaming:
    """Headers are ready; the body follows through the response pipe."""

    __slots__ = ("headers", "out", "status")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], out: ThreadToLoop
    ) -> None:
        self.status = status
        self.headers = headers
        self.out = out


class _StreamAborted(Exception):
    """Ends the response pipe when the thread stops mid-stream."""


def _canned(status: int, raise_after: BaseException | None = None) -> _Complete:
    headers, body = canned_asgi(status)
    return _Complete(status, headers, (body,), raise_after=raise_after)


class WSGIToASGI:
    """An ASGI 3 application that runs a WSGI application in worker threads.

    Errors: an exception before the response started is answered with a
    canned 500 and then raised out of the ASGI call; one after the response
    started aborts the response (no ``more_body=False``) and is raised. An
    exception after the app's response is complete (raised by the iterable's
    ``close()``, or reported with ``exc_info`` under ``raise_exc_info``) leaves
    the response whole: it is raised once the last byte was sent, so the
    server logs it and ASGI middleware sees it (W2A-CLOSE-05).

    :param app: the WSGI application.
    :param workers: the most WSGI calls that run at once; each runs on its own
        thread from a bounded pool (CONFORMANCE W2A-THR-01).
    :param send_queue_size: accepted, like ``workers`` also by position, for a
        drop-in switch from a2wsgi's ``WSGIMiddleware(app, workers,
        send_queue_size)``: its queue held this many response messages; here
        it sets ``buffer_size`` to that many 64 KiB chunks unless
        ``buffer_size`` is also given.
    :param buffer_size: the high watermark, in bytes, of each body buffer
        (default 1 MiB): request read-ahead and unsent response bytes never
        exceed it by more than one chunk.
    :param max_body_size: answer 413 when a request body is larger than this
        many bytes: at once for a declared ``Content-Length``, otherwise as
        soon as the app reads past it. ``None`` means no limit.
    :param root_path_mode: how ``root_path`` relates to ``path``: ``"auto"``
        (``path`` includes ``root_path`` when it starts with it), ``"included"``
        (answer 404 when it does not) or ``"excluded"`` (for servers that strip
        the prefix from ``path``). See CONFORMANCE W2A-ENV-02.
    :param underscore_headers: ``"drop"`` request headers with ``_`` in their
        name (the default, against spoofing) or ``"keep"`` them.
    :param hop_by_hop: ``"drop"`` hop-by-hop response headers with a warning,
        or raise on them (``"error"``).
    :param max_duplicate_headers: most field lines per environ key before the
        request is answered with 431; ``None`` for no limit.
    :param errors: the ``wsgi.errors`` text stream (default ``sys.stderr``).
    :param multiprocess: the value of ``wsgi.multiprocess``.
    :param raise_exc_info: re-raise an exception the app reported through
        ``start_response(..., exc_info)`` once its error page was sent.
    :param websocket_status: the status of the denial sent for websocket
        connections, which a WSGI app cannot serve.
    :param on_startup: callables run in a worker thread on lifespan startup.
    :param on_shutdown: callables run in a worker thread on lifespan shutdown.
    """

    def __init__(
        self,
        app: WSGIApp,
        workers: int = 10,
        send_queue_size: int | None = None,
        *,
        buffer_size: int | None = None,
        max_body_size: int | None = None,
        root_path_mode: Literal["auto", "included", "excluded"] = "auto",
        underscore_headers: Literal["drop", "keep"] = "drop",
        hop_by_hop: Literal["drop", "error"] = "drop",
        max_duplicate_headers: int | None = 100,
        errors: TextIO | None = None,
        multiprocess: bool = True,
        raise_exc_info: bool = True,
        websocket_status: int = 403,
        on_startup: Iterable[Callable[[], object]] = (),
        on_shutdown: Iterable[Callable[[], object]] = (),
    ) -> None:
        from ._detect import refuse_asgi_for_wsgi_adapter

        refuse_asgi_for_wsgi_adapter(app)
        if buffer_size is None:
            buffer_size = DEFAULT_HIGH_WATER
            if send_queue_size is not None:
                if send_queue_size < 1:
                    raise ValueError(
                        f"send_queue_size must be at least 1, got {send_queue_size!r}"
                    )
                buffer_size = send_queue_size * 65536
        if buffer_size < 1:
            raise ValueError(
                f"buffer_size must be at least 1 byte, got {buffer_size!r}"
            )
        if max_body_size is not None and max_body_size < 0:
            raise ValueError(
                f"max_body_size must be >= 0 or None, got {max_body_size!r}"
            )
        for name, value, allowed in (
            ("root_path_mode", root_path_mode, ("auto", "included", "excluded")),
            ("underscore_headers", underscore_headers, ("drop", "keep")),
            ("hop_by_hop", hop_by_hop, ("drop", "error")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed!r}, got {value!r}")
        self.app = app
        self.workers = workers
        self.buffer_size = buffer_size
        self.max_body_size = max_body_size
        self.root_path_mode = root_path_mode
        self.underscore_headers = underscore_headers
        self.hop_by_hop = hop_by_hop
        self.max_duplicate_headers = max_duplicate_headers
        self.raise_exc_info = raise_exc_info
        self.websocket_status = websocket_status
        self.on_startup = tuple(on_startup)
        self.on_shutdown = tuple(on_shutdown)
        self._pool = WorkerPool(workers)
        self._template = environ_template(
            errors=sys.stderr if errors is None else errors,
            multithread=workers > 1,
            multiprocess=multiprocess,
            file_wrapper=FileWrapper,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (CONFORMANCE W2A-APP-01/02)."""
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise ASGIProtocolError(
                f"WSGIToASGI serves 'http', 'websocket' and 'lifespan' scopes "
                f"(CONFORMANCE W2A-APP-02), got scope type {kind!r}"
            )

    # -- http ------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            environ = scope_to_environ(
                scope,
                self._template,
                root_path_mode=self.root_path_mode,
                underscore_headers=self.underscore_headers,
                max_duplicate_headers=self.max_duplicate_headers,
            )
        except RequestRejected as exc:
            logger.info("request rejected with %d: %s", exc.status, exc.reason)
            await _send_complete(send, _canned(exc.status))
            return
        content_length = environ.get("CONTENT_LENGTH")
        length = int(content_length) if content_length else None
        max_size = self.max_body_size
        if max_size is not None and length is not None and length > max_size:
            logger.info(
                "request rejected with 413: Content-Length %d is over max_body_size=%d",
                length,
                max_size,
            )
            await _send_complete(send, _canned(413))
            return

        call = _Call(self, environ, scope, LoopBridge())
        expect = environ.get("HTTP_EXPECT", "").lower() == "100-continue"
        if expect:
            body, more = b"", True
        else:
            message = await receive()
            kind = message["type"]
            if kind == "http.disconnect":
                return
            if kind != "http.request":
                raise ASGIProtocolError(
                    f"expected an 'http.request' message (CONFORMANCE W2A-IN-09), got {kind!r}"
                )
            body = message.get("body", b"")
            more = message.get("more_body", False)
        if not more:
            environ["wsgi.input"] = InputStream(body, length=length, max_size=max_size)
            await call.run(receive, send, None, expect=False)
        else:
            pipe = LoopToThread(call.bridge, self.buffer_size)
            environ["wsgi.input"] = InputStream(
                body, pipe, length=length, max_size=max_size
            )
            await call.run(receive, send, pipe, expect=expect)

    # -- websocket (CONFORMANCE §2.8) ------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        extensions = scope.get("extensions") or {}
        if "websocket.http.response" in extensions:
            body = b"Forbidden"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"9"),
            ]
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": self.websocket_status,
                    "headers": headers,
                }
            )
            await send(
                {
                    "type": "websocket.http.response.body",
                    "body": body,
                    "more_body": False,
                }
            )
        else:
            await send({"type": "websocket.close", "code": 1000})

    # -- lifespan (CONFORMANCE §2.9) -------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "lifespan.startup":
                hooks, phase = self.on_startup, "startup"
            elif kind == "lifespan.shutdown":
                hooks, phase = self.on_shutdown, "shutdown"
            else:
                raise ASGIProtocolError(
                    f"expected 'lifespan.startup' or 'lifespan.shutdown' "
                    f"(CONFORMANCE W2A-LIFE-04), got {kind!r}"
                )
            try:
                for hook in hooks:
                    await anyio.to_thread.run_sync(hook)
            except Exception as exc:
                logger.exception("lifespan %s hook failed", phase)
                await send({"type": f"lifespan.{phase}.failed", "message": str(exc)})
            else:
                await send({"type": f"lifespan.{phase}.complete"})
            if phase == "shutdown":
                return


async def _send_complete(send: Send, response: _Complete) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": response.headers,
        }
    )
    if response.path is not None:
        await send({"type": "http.response.pathsend", "path": response.path})
        return
    body = response.body
    if not response.final:  # a short body: send what there is, then abort
        for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        return
    if len(body) > 1:
        if sum(map(len, body)) <= _JOIN_LIMIT:
            body = (b"".join(body),)
        else:
            for chunk in body[:-1]:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
            body = body[-1:]
    await send(
        {
            "type": "http.response.body",
            "body": body[0] if body else b"",
            "more_body": False,
        }
    )


class _Call:
    """One HTTP request: the loop side and the thread side."""

    def __init__(
        self, mw: WSGIToASGI, environ: Environ, scope: Scope, bridge: LoopBridge
    ) -> None:
        self.mw = mw
        self.environ = environ
        self.bridge = bridge
        self.head = environ["REQUEST_METHOD"] == "HEAD"
        self.start: Waiter[_Complete | _Streaming | None] = bridge.waiter()
        # Made by the thread only when the response streams (_send_headers):
        # a response that leaves in one piece needs neither.
        self.done: Waiter[BaseException | None]
        self.out: ThreadToLoop | None = None
        self.pipe_in: LoopToThread | None = None
        self.disconnected = False
        # Set once http.response.start of a streamed response went out: from
        # then on the pump never parks where it could miss a disconnect.
        self.streaming = False
        self._parked: anyio.CancelScope | None = None
        self._discarding = False
        extensions = scope.get("extensions") or {}
        self.pathsend = "http.response.pathsend" in extensions
        # Thread-side response state.
        self.sr_called = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.length: int | None = None
        self.sent = 0
        self.headers_sent = False
        self.complete = False
        self.app_error: BaseException | None = None
        self._send: Send | None = None
        if "http.response.early_hint" in extensions:
            environ["wsgi.early_hints"] = self._early_hints

    # -- loop side -------------------------------------------------------

    async def run(
        self, receive: Receive, send: Send, pipe: LoopToThread | None, *, expect: bool
    ) -> None:
        self.pipe_in = pipe
        if "wsgi.early_hints" in self.environ:
            self._send = send
        self.mw._pool.submit(self.work)
        error: Exception | None = None
        try:
            if pipe is None:
                response = await self.start.wait()
                if isinstance(response, _Complete):
                    await self._send_complete(send, response)
                elif response is not None:
                    # Errors stay out of the task group, so that the server
                    # sees the app's exception, not an exception group.
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._watch, receive)
                        try:
                            await self._stream(send, response)
                        except Exception as exc:
                            error = exc
                        tg.cancel_scope.cancel()
            else:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._pump, receive, pipe, expect)
                    try:
                        response = await self.start.wait()
                        if isinstance(response, _Complete):
                            await self._send_complete(send, response)
                        elif response is not None:
                            await self._stream(send, response)
                    except Exception as exc:
                        error = exc
                    tg.cancel_scope.cancel()
        except BaseException:
            await self._abandon()
            raise
        if error is not None:
            await self._abandon()
            raise error

    async def _abandon(self) -> None:
        """The loop side failed or was cancelled: stop the thread, wait for it."""
        self._disconnect()
        with anyio.CancelScope(shield=True):
            response = await self.start.wait()
            if isinstance(response, _Streaming):
                await self.done.wait()

    def _disconnect(self) -> None:
        # Set the flag before looking for the pipe: the thread makes the pipe
        # and then checks the flag, so one of the two sides always aborts it.
        self.disconnected = True
        if self.out is not None:
            self.out.abort(
                ClientDisconnected("the client disconnected during the response")
            )
        if self.pipe_in is not None:
            self.pipe_in.fail(
                ClientDisconnected("the client disconnected during the request body")
            )

    async def _send_complete(self, send: Send, response: _Complete) -> None:
        try:
            await _send_complete(send, response)
        except OSError as exc:
            logger.debug("send() failed, the client is gone: %r", exc)
            return
        if response.raise_after is not None:
            raise response.raise_after

    async def _stream(self, send: Send, response: _Streaming) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": response.headers,
                }
            )
            self.streaming = True
            if self._parked is not None:
                self._parked.cancel()
            read = response.out.read
            while True:
                try:
                    data = await read()
                except _StreamAborted:
                    break
                if not data:
                    await send(
                        {"type": "http.response.body", "body": b"", "more_body": False}
                    )
                    break
                await send(
                    {"type": "http.response.body", "body": data, "more_body": True}
                )
        except OSError as exc:
            logger.debug("send() failed, the client is gone: %r", exc)
            self._disconnect()
            await self.done.wait()
            return
        error = await self.done.wait()
        if error is not None and not (
            self.disconnected and isinstance(error, ClientDisconnected)
        ):
            raise error

    async def _pump(self, receive: Receive, pipe: LoopToThread, expect: bool) -> None:
        """Feed the request body ahead of the reader, then watch for a disconnect."""
        try:
            await self._feed(receive, pipe, expect)
        except Exception as exc:  # receive() itself failed: treat the client as gone
            logger.debug("receive() raised while reading the request body: %r", exc)
            self._disconnect()

    async def _feed(self, receive: Receive, pipe: LoopToThread, expect: bool) -> None:
        """Receive the body into ``pipe``, ahead of the reader up to the watermark.

        Before the response streams, the pump may park: until the app first
        reads an ``Expect: 100-continue`` body (W2A-IN-12), and while the
        pipe is over the watermark (W2A-IN-01). Once a streamed response
        started, the only way to see the client leave is ``receive()`` (Uvicorn
        and Hypercorn do not raise from ``send()``), so the pump stops parking
        for an app that never read: the body goes on arriving, up to twice the
        watermark, past that it is discarded and the app's read raises
        ``BodyTooLarge`` (W2A-IN-14). An app that reads keeps its backpressure.
        """
        if expect:
            await self._park(pipe.wait_demand)
        while True:
            await self._wait_room(pipe)
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                self._put(pipe, message.get("body", b""))
                if not message.get("more_body", False):
                    pipe.close()
                    break
            elif kind == "http.disconnect":
                self._disconnect()
                return
            else:
                pipe.fail(
                    ASGIProtocolError(
                        f"expected an 'http.request' message (CONFORMANCE W2A-IN-09), got {kind!r}"
                    )
                )
                return
        await self._watch(receive)

    async def _park(self, wait: Callable[[], Awaitable[None]]) -> None:
        """Await ``wait()``, but no longer than until the response streams."""
        if self.streaming:
            return
        with anyio.CancelScope() as scope:
            self._parked = scope
            await wait()
        self._parked = None

    async def _wait_room(self, pipe: LoopToThread) -> None:
        high = self.mw.buffer_size
        while pipe.buffered > high:
            if not self.streaming:
                await self._park(pipe.drain)
            elif pipe.demanded:
                await pipe.drain()  # an app that reads: backpressure as usual
            else:
                return  # an app that never read: keep watching (W2A-IN-14)

    def _put(self, pipe: LoopToThread, body: bytes) -> None:
        if self._discarding:
            return
        limit = 2 * self.mw.buffer_size
        if body and pipe.buffered + len(body) > limit and not pipe.demanded:
            self._discarding = True
            pipe.fail(
                BodyTooLarge(
                    f"W2A-IN-14: the app left more than {limit} bytes of the request "
                    "body unread while its response streamed; the rest was discarded "
                    f"({see('W2A-IN-14')})"
                )
            )
            return
        pipe.put(body)

    async def _watch(self, receive: Receive) -> None:
        """After the body: a disconnect stops the app at its next chunk (W2A-ERR-07)."""
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
        except Exception as exc:
            logger.debug("receive() raised while watching for a disconnect: %r", exc)
        self._disconnect()

    # -- thread side -----------------------------------------------------

    def work(self) -> None:
        """The whole WSGI call, on one worker thread. Never raises."""
        result: Iterable[bytes] | None = None
        response: _Complete | None = None
        error: BaseException | None = None
        try:
            result = self.mw.app(self.environ, self.start_response)
            response = self._consume(result)
        except BaseException as exc:
            error = exc
        late = _close(result)
        if error is not None:
            error = _chain(error, late)
            if not self.headers_sent:
                self.start.set_threadsafe(self._fail(error))
            else:
                self._pipe_out().fail(_StreamAborted())
                self.done.set_threadsafe(error)
        elif not self.headers_sent:
            # The body is complete: a close() error cannot change the response;
            # it goes out whole, then the error propagates (W2A-CLOSE-05).
            if response is None:
                response = self._finish()
            response.raise_after = _chain(response.raise_after, late)
            self.start.set_threadsafe(response)
        else:
            self.done.set_threadsafe(_chain(self._end_stream(), late))
        self.environ = {}  # drop references to the request early

    def _short(self) -> bool:
        """Did the body end before the declared Content-Length (W2A-BODY-07)?"""
        return (
            self.length is not None
            and self.sent < self.length
            and not self.head
            and self.status != 204
            and self.status != 304
        )

    def _short_error(self) -> WSGIProtocolError:
        error = WSGIProtocolError(
            f"the WSGI app declared Content-Length {self.length} but its body had "
            f"{self.sent} bytes (CONFORMANCE W2A-BODY-07)"
        )
        logger.error("%s", error)
        return error

    def _end_stream(self) -> BaseException | None:
        self.complete = True
        if self._short():
            self._pipe_out().fail(_StreamAborted())
            return self._short_error()
        self._pipe_out().close()
        return self._late_error()

    def _late_error(self) -> BaseException | None:
        if self.app_error is not None and self.mw.raise_exc_info:
            return self.app_error
        if self.app_error is not None:
            logger.error(
                "the WSGI app reported an error with exc_info", exc_info=self.app_error
            )
        return None

    def _fail(self, error: BaseException) -> _Complete | None:
        """Turn an exception before the headers into what the loop sends."""
        if isinstance(error, ClientDisconnected) and self.disconnected:
            return None
        if isinstance(error, BodyTooLarge):
            logger.info("request rejected with 413: %s", error)
            return _canned(413)
        return _canned(500, raise_after=error)

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response`` (CONFORMANCE W2A-SR-01..10)."""
        try:
            if exc_info is not None and exc_info[1] is not None:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
                self.app_error = exc_info[1]
            elif self.sr_called:
                raise WSGIProtocolError(
                    "start_response() was called a second time without exc_info "
                    "(PEP 3333, CONFORMANCE W2A-SR-07)"
                )
        finally:
            exc_info = None
        self.sr_called = True
        code = parse_status_line(status)
        asgi_headers, length = wsgi_response_headers(
            headers, hop_by_hop=self.mw.hop_by_hop
        )
        self.status, self.headers, self.length = code, asgi_headers, length
        return self._write

    def _check_chunk(self, chunk: object, where: str) -> bytes:
        """The chunk as ``bytes``: a ``bytearray`` or ``memoryview`` is copied,
        as Uvicorn and the frameworks' test clients accept them (W2A-BODY-04)."""
        if not isinstance(chunk, bytes):
            if not isinstance(chunk, (bytearray, memoryview)):
                raise WSGIProtocolError(
                    f"W2A-BODY-04: a WSGI body chunk must be bytes (PEP 3333), got "
                    f"{type(chunk).__name__} from {where} ({see('W2A-BODY-04')})"
                )
            chunk = bytes(chunk)
        if not self.sr_called:
            raise WSGIProtocolError(
                f"W2A-SR-11: a body chunk came from {where} before start_response() "
                f"was called ({see('W2A-SR-11')})"
            )
        return chunk

    def _consume(self, result: Iterable[bytes]) -> _Complete | None:
        """Iterate the app's result; a returned response leaves in one piece."""
        if isinstance(result, (str, bytes)):
            raise WSGIProtocolError(
                "a WSGI app must return an iterable of bytes, not a "
                f"{type(result).__name__} (CONFORMANCE W2A-BODY-13)"
            )
        if not self.headers_sent:
            if type(result) is list or type(result) is tuple:
                return self._collect(result)
            if type(result) is FileWrapper and self.pathsend:
                response = self._pathsend(result)
                if response is not None:
                    return response
        if type(result) is FileWrapper:
            result = _blocks(result)
        check = self._check_chunk
        for item in result:
            chunk = check(item, "the iterable")
            if chunk and self._emit(chunk):
                break
        return None

    def _collect(self, result: list[bytes] | tuple[bytes, ...]) -> _Complete:
        chunks: list[bytes] = []
        total = 0
        for item in result:
            chunk = self._check_chunk(item, "the iterable")
            if chunk:
                chunks.append(chunk)
                total += len(chunk)
        if not self.sr_called:
            raise WSGIProtocolError(
                "the WSGI app returned without calling start_response() (CONFORMANCE W2A-ERR-02)"
            )
        status, headers, length = self.status, self.headers, self.length
        if length is not None:
            if total > length:
                chunks = _truncate(chunks, length)
                total = length
        elif status != 204 and status != 304 and (total or not self.head):
            # A HEAD's empty body says nothing about GET's length (W2A-BODY-10).
            headers = [*headers, (b"content-length", str(total).encode("ascii"))]
        if status == 204:
            headers = [(k, v) for k, v in headers if k != b"content-length"]
        self.sent = total
        self.complete = True
        if self.head or status == 204 or status == 304:
            chunks = []
        if self._short():
            return _Complete(
                status, headers, chunks, final=False, raise_after=self._short_error()
            )
        return _Complete(status, headers, chunks, raise_after=self._late_error())

    def _pathsend(self, wrapper: FileWrapper) -> _Complete | None:
        filelike = wrapper.filelike
        name = getattr(filelike, "name", None)
        try:
            if (
                not isinstance(name, str)
                or not os.path.isabs(name)
                or filelike.tell() != 0
            ):
                return None
            size = os.fstat(filelike.fileno()).st_size
        except (OSError, ValueError, AttributeError):
            return None
        if (
            self.head
            or self.status in (204, 304)
            or (self.length is not None and self.length != size)
        ):
            return None
        headers = self.headers
        if self.length is None:
            headers = [*headers, (b"content-length", str(size).encode("ascii"))]
        self.complete = True
        return _Complete(
            self.status, headers, path=name, raise_after=self._late_error()
        )

    def _emit(self, chunk: bytes) -> bool:
        """Send one non-empty chunk; True once Content-Length is reached."""
        length = self.length
        if length is not None:
            room = length - self.sent
            if len(chunk) >= room:
                chunk = chunk[:room]
        if not self.headers_sent:
            self._send_headers()
        self.sent += len(chunk)
        if not self.head and self.status != 204 and self.status != 304:
            self._pipe_out().write(chunk)
        return length is not None and self.sent >= length

    def _pipe_out(self) -> ThreadToLoop:
        """The response pipe, which exists once the headers went out."""
        out = self.out
        assert out is not None
        return out

    def _send_headers(self) -> None:
        self.headers_sent = True
        headers = self.headers
        if self.status == 204:
            headers = [(k, v) for k, v in headers if k != b"content-length"]
        self.done = self.bridge.waiter()
        self.out = out = ThreadToLoop(self.bridge, self.mw.buffer_size)
        if self.disconnected:
            out.abort(ClientDisconnected("the client disconnected before the response"))
        self.start.set_threadsafe(_Streaming(self.status, headers, out))

    def _finish(self) -> _Complete:
        """The iterable ended (or reached Content-Length)."""
        if not self.sr_called:
            raise_after = WSGIProtocolError(
                "the WSGI app returned without calling start_response() (CONFORMANCE W2A-ERR-02)"
            )
            return _canned(500, raise_after=raise_after)
        self.complete = True
        # An empty body: the headers go out now, at the end (W2A-SR-06).
        headers = self.headers
        if (
            self.length is None
            and self.status != 204
            and self.status != 304
            and not self.head  # GET's length is unknown (W2A-BODY-10)
        ):
            headers = [*headers, (b"content-length", b"0")]
        if self.status == 204:
            headers = [(k, v) for k, v in headers if k != b"content-length"]
        if self._short():
            return _Complete(
                self.status, headers, final=False, raise_after=self._short_error()
            )
        return _Complete(self.status, headers, raise_after=self._late_error())

    def _write(self, data: bytes) -> None:
        """The PEP 3333 ``write()`` callable (CONFORMANCE W2A-BODY-05)."""
        data = self._check_chunk(data, "write()")
        if self.complete:
            raise WSGIProtocolError(
                "write() was called after the response was complete (W2A-BODY-05)"
            )
        if self.length is not None and self.sent + len(data) > self.length:
            raise WSGIProtocolError(
                f"write() of {len(data)} bytes goes past the declared Content-Length "
                f"{self.length} ({self.sent} sent; CONFORMANCE W2A-BODY-06)"
            )
        if not self.headers_sent:
            self._send_headers()
        if data:
            self.sent += len(data)
            if not self.head and self.status != 204 and self.status != 304:
                self._pipe_out().write(data)
                self._pipe_out().flush()

    def _early_hints(self, headers: list[tuple[str, str]]) -> None:
        """``wsgi.early_hints`` (CONFORMANCE W2A-ENV-20)."""
        if self.headers_sent or self._send is None:
            return
        links = [v.encode("latin-1") for k, v in headers if k.lower() == "link"]
        message = {"type": "http.response.early_hint", "links": links}
        self.bridge.run_from_thread(self._send, message)


def _close(result: Iterable[bytes] | None) -> BaseException | None:
    """Call the result's ``close()``, if any (W2A-CLOSE-01); return what it raised."""
    close = getattr(result, "close", None)
    if close is None:
        return None
    try:
        close()
    except BaseException as exc:
        logger.exception("the WSGI iterable's close() raised")
        return exc
    return None


@overload
def _chain(first: BaseException, then: BaseException | None) -> BaseException: ...
@overload
def _chain(
    first: BaseException | None, then: BaseException | None
) -> BaseException | None: ...
def _chain(
    first: BaseException | None, then: BaseException | None
) -> BaseException | None:
    """The exception to raise: ``first``, with ``then`` as its context (W2A-CLOSE-04)."""
    if first is None:
        return then
    if then is not None and first.__context__ is None:
        first.__context__ = then
    return first


def _blocks(wrapper: FileWrapper) -> Iterator[bytes]:
    read = wrapper.filelike.read
    size = max(wrapper.blksize, _FILE_BLOCK)
    while data := read(size):
        yield data


def _truncate(chunks: list[bytes], length: int) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        if len(chunk) >= length:
            if length:
                out.append(chunk[:length])
            break
        out.append(chunk)
        length -= len(chunk)
    return out
