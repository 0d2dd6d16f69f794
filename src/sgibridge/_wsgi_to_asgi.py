"""WSGIToASGI: an ASGI 3 application that runs a WSGI application.

Theory of operation (docs/behaviour.md §2, the W2A rules)
=========================================================

One HTTP request goes like this:

1. ``scope`` becomes ``environ`` in :mod:`._translate` (a copied template).
   A request the app must not see (bad header, bad length, header flood) is
   answered there with a canned 400/404/413/431.
2. The first ``http.request`` is received on the loop before any thread is
   involved. If it holds the whole body, ``wsgi.input`` is an in-memory
   :class:`~._body_input.InputStream` and no synchronisation happens at all. If more
   body follows (or ``Expect: 100-continue`` asks us to wait for the app), a
   *pump* task (:mod:`._w2a_request`) feeds a :class:`~._body_loop_to_thread.LoopToThread`
   pipe ahead of the reader, up to the high watermark.
3. The WSGI call, its iteration and ``close()`` run as one job on one worker
   thread (W2A-CLOSE-03) from a bounded pool (W2A-THR-01); :mod:`._w2a_call`
   holds the job and the loop side that sends.
4. The thread (:mod:`._w2a_response`) answers the loop once, through a
   :class:`~._body_bridge.Waiter`:

   - ``Complete``: the whole response is known (a list or tuple result,
     an empty body, an error before headers, a ``pathsend`` file). The loop
     sends ``http.response.start`` and the body; the thread is finished. A
     small request thus costs one hand-off into the thread and one back.
   - ``Streaming``: headers are ready and come with the first non-empty
     chunk (PEP 3333 §The start_response() Callable: headers wait for it,
     W2A-SR-06). The loop sends them, then what a
     :class:`~._body_thread_to_loop.ThreadToLoop` pipe yields while the thread keeps
     iterating, blocked only above the high watermark (W2A-BODY-02), and a
     watcher task turns ``http.disconnect`` into an abort of the app's next
     write (W2A-ERR-07, W2A-IN-14).
   - ``None``: the client is gone; nothing is sent.

5. Whatever ends the request early (client disconnect, ``send()`` raising,
   cancellation) aborts both pipes, so the thread's next read or write raises
   :class:`~sgibridge.ClientDisconnected`; the thread then runs ``close()``
   and the loop waits for it before returning. No thread outlives its call.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

import anyio

from ._body import DEFAULT_HIGH_WATER
from ._body_bridge import LoopBridge
from ._body_input import InputStream
from ._body_loop_to_thread import LoopToThread
from ._exceptions import ASGIProtocolError
from ._rules import see
from ._translate import RequestRejected, environ_template, scope_to_environ
from ._w2a_answer import canned
from ._w2a_call import Call, send_complete
from ._w2a_filewrapper import FileWrapper
from ._w2a_limits import Limits, Registry
from ._w2a_request import RequestPump
from ._w2a_response import Response
from ._workers import WorkerPool

if TYPE_CHECKING:
    from ._types import Environ, WSGIApp

__all__ = ("FileWrapper", "WSGIToASGI")  # FileWrapper lives in _w2a_filewrapper

logger = logging.getLogger("sgibridge")

Scope = Mapping[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Any], Any]


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
        thread from a bounded pool (W2A-THR-01).
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
        the prefix from ``path``). See W2A-ENV-02.
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
    :param send_timeout: seconds a ``send()`` may wait on a client that reads
        nothing; then the response is aborted and the app's next write raises
        :class:`~sgibridge.ClientDisconnected` (W2A-TIME-01). ``None``: no limit.
    :param body_timeout: seconds a request body may deliver no byte; then the
        request ends as a disconnect (W2A-TIME-02). ``None``: no limit.
    :param request_timeout: seconds a call may take: then a 504, or an abort
        once the response started; the stuck thread's stack is logged once and
        the thread counts as lost until the app returns (W2A-TIME-03/04).
    :param max_queue: most requests waiting for a worker; one more is answered
        503 with ``Retry-After`` (W2A-TIME-05). ``None``: no bound.
    :param saturation_warning: seconds every worker may be busy, with requests
        waiting, before one warning names what the workers run (W2A-STAT-02);
        ``None`` turns it off.

    :meth:`stats` tells operators what the adapter is doing now (W2A-STAT-01).
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
        send_timeout: float | None = None,
        body_timeout: float | None = None,
        request_timeout: float | None = None,
        max_queue: int | None = None,
        saturation_warning: float | None = 10.0,
    ) -> None:
        from ._detect import refuse_asgi_for_wsgi_adapter

        refuse_asgi_for_wsgi_adapter(app)
        buffer_size = _buffer_size(buffer_size, send_queue_size)
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
        self.limits = _limits(
            send_timeout=send_timeout,
            body_timeout=body_timeout,
            request_timeout=request_timeout,
            max_queue=max_queue,
            saturation_warning=saturation_warning,
        )
        self._registry = Registry()
        self._pool = WorkerPool(workers)
        self._template = environ_template(
            errors=sys.stderr if errors is None else errors,
            multithread=workers > 1,
            multiprocess=multiprocess,
            file_wrapper=FileWrapper,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (W2A-APP-01/02)."""
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise ASGIProtocolError(
                f"W2A-APP-02: WSGIToASGI serves 'http', 'websocket' and 'lifespan' "
                f"scopes, got scope type {kind!r} ({see('W2A-APP-02')})"
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
            await send_complete(send, canned(exc.status))
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
            await send_complete(send, canned(413))
            return

        extensions = scope.get("extensions") or {}
        bridge = LoopBridge()
        response = Response(
            bridge,
            bridge.waiter(),
            head=environ["REQUEST_METHOD"] == "HEAD",
            pathsend="http.response.pathsend" in extensions,
            buffer_size=self.buffer_size,
            hop_by_hop=self.hop_by_hop,
            raise_exc_info=self.raise_exc_info,
        )
        call = Call(
            self.app,
            environ,
            response,
            bridge,
            self._pool,
            self.limits,
            self._registry,
            early_hints="http.response.early_hint" in extensions,
        )
        registry = self._registry
        registry.add(call)
        try:
            await self._serve(call, environ, receive, send, length)
        finally:
            registry.discard(call)

    async def _serve(
        self,
        call: Call,
        environ: Environ,
        receive: Receive,
        send: Send,
        length: int | None,
    ) -> None:
        max_size = self.max_body_size
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
                    f"W2A-IN-09: expected an 'http.request' message, got {kind!r} "
                    f"({see('W2A-IN-09')})"
                )
            body = message.get("body", b"")
            more = message.get("more_body", False)
        if not more:
            environ["wsgi.input"] = InputStream(body, length=length, max_size=max_size)
            await call.run(receive, send)
        else:
            pipe = LoopToThread(call.bridge, self.buffer_size)
            environ["wsgi.input"] = InputStream(
                body, pipe, length=length, max_size=max_size
            )
            pump = RequestPump(
                pipe,
                self.buffer_size,
                call.disconnect,
                left=call.left,
                body_timeout=self.limits.body_timeout,
                timed_out=call.body_timed_out,
            )
            await call.run(receive, send, pump, expect=expect)

    # -- for operators (W2A-STAT-01) --------------------------------------

    def stats(self) -> dict[str, Any]:
        """What the adapter is doing now, from any thread.

        :return: a JSON-ready dict: ``workers`` (the pool's bound),
            ``threads``, ``busy`` and ``idle`` worker threads, ``queued``
            requests waiting for a worker, ``lost`` threads (stuck in a request
            that ``request_timeout`` gave up on), ``in_flight`` requests and
            the ``oldest_age`` in seconds, ``bytes_buffered`` in body buffers,
            ``requests`` served, ``rejected`` by ``max_queue``, ``timeouts``
            fired (``{"send", "body", "request"}``) and ``requests_in_flight``:
            one dict per request (``method``, ``path``, ``age``, ``phase``
            (``request``: awaiting its first body message, ``queued``, ``app``,
            ``streaming`` or ``sending``), ``lost``,
            ``buffered``), oldest first.
        """
        return {**self._pool.snapshot(), **self._registry.snapshot()}

    # -- websocket (W2A-WS-01..03) ----------------------------------------

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

    # -- lifespan (W2A-LIFE-01..04) ---------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "lifespan.startup":
                hooks, phase = self.on_startup, "startup"
            elif kind == "lifespan.shutdown":
                hooks, phase = self.on_shutdown, "shutdown"
            else:  # W2A-LIFE-04: a message no spec defines is passed over
                logger.debug(
                    "W2A-LIFE-04: ignoring lifespan message %r (%s)",
                    kind,
                    see("W2A-LIFE-04"),
                )
                continue
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


def _buffer_size(buffer_size: int | None, send_queue_size: int | None) -> int:
    """The ``buffer_size`` option: as given, else a2wsgi's ``send_queue_size``
    in 64 KiB chunks, else the default high watermark."""
    if buffer_size is None:
        buffer_size = DEFAULT_HIGH_WATER
        if send_queue_size is not None:
            if send_queue_size < 1:
                raise ValueError(
                    f"send_queue_size must be at least 1, got {send_queue_size!r}"
                )
            buffer_size = send_queue_size * 65536
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be at least 1 byte, got {buffer_size!r}")
    return buffer_size


def _limits(
    *,
    send_timeout: float | None,
    body_timeout: float | None,
    request_timeout: float | None,
    max_queue: int | None,
    saturation_warning: float | None,
) -> Limits:
    """Check the limit options (W2A-TIME-01..05, W2A-STAT-02)."""
    for name, value in (
        ("send_timeout", send_timeout),
        ("body_timeout", body_timeout),
        ("request_timeout", request_timeout),
        ("saturation_warning", saturation_warning),
    ):
        if value is not None and not value > 0:
            raise ValueError(
                f"{name} must be a positive number of seconds or None, got {value!r}"
            )
    if max_queue is not None and max_queue < 0:
        raise ValueError(f"max_queue must be >= 0 or None, got {max_queue!r}")
    return Limits(
        send_timeout=send_timeout,
        body_timeout=body_timeout,
        request_timeout=request_timeout,
        max_queue=max_queue,
        saturation_warning=saturation_warning,
    )
