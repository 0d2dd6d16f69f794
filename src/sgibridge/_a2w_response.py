"""ASGIToWSGI's response side: ``send()`` messages become the WSGI response.

Theory of operation (docs/behaviour.md, A2W-SEND-01..12, A2W-EXT, A2W-ERR)
=========================================================================

:class:`Response` holds the response state of one request. Its *loop side*
is the app's ``send()``: ``http.response.start`` is validated on the loop
(A2W-SEND-02) and kept; body bytes go into the request's
:class:`~._body_loop_to_thread.LoopToThread` pipe, and ``send()`` returns at once unless more
than the high watermark is unread (A2W-SEND-06). The final body closes the
pipe; a body short of the declared ``content-length`` fails it instead
(A2W-SEND-11).

Its *thread side* runs on the WSGI server's thread T. :meth:`Response.respond`
takes from the pipe until the first bytes, the end, or a failure, and only
then calls ``start_response``, once (A2W-SEND-03), so no server can put two
sets of headers on the wire. An exception of the app's own before any byte
is raised from the WSGI call itself (:class:`~._a2w_errors.AppRaised`, A2W-ERR-01); any
other failure there is an E500 that is the only ``start_response`` call
(A2W-ERR-03/04). A complete response returns as a list
(:class:`~._a2w_result.Body`); a streaming one as
:class:`~._a2w_result.Stream`, which raises from ``next()`` on a later
failure so that the server aborts (A2W-ERR-02). ``close()`` on the result
ends the request (A2W-ERR-06/07/08) and raises what the app raised after a
complete response, or after the server took the whole declared body
(A2W-ERR-08).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from ._a2w_errors import AppRaised, IncompleteResponse, RequestTimedOut, exc_info_of
from ._a2w_result import Body, FileStream, PathFile, Stream
from ._exceptions import ASGIProtocolError, ClientDisconnected
from ._rules import see
from ._translate import asgi_response_headers, canned_wsgi, status_line

if TYPE_CHECKING:
    from ._a2w_exchange import Exchange
    from ._types import Environ, StartResponse

__all__ = ("Response",)

logger = logging.getLogger("sgibridge")

Message = dict[str, Any]

#: A2W-EXT-05: extension messages a WSGI server cannot carry; dropped, not an error.
_DROPPED_TYPES = frozenset({"http.response.push", "http.response.debug"})

_TYPES = frozenset(
    {
        "http.response.start",
        "http.response.body",
        "http.response.pathsend",
        "http.response.trailers",
        "http.response.early_hint",
    }
)


def _first_not_start(kind: object) -> ASGIProtocolError:
    return ASGIProtocolError(
        f"A2W-SEND-01: the first message must be 'http.response.start', got "
        f"{kind!r} ({see('A2W-SEND-01')})"
    )


class Response:
    """The response of one request: ``send()`` on the loop, the WSGI result
    on T."""

    __slots__ = (
        "body_sent",
        "chunk_size",
        "closed_early",
        "dropped",
        "ended",
        "environ",
        "eof",
        "exchange",
        "head",
        "headers",
        "keep_body",
        "limit",
        "out",
        "path",
        "sent",
        "start_error",
        "start_response",
        "started",
        "status",
        "taken",
        "warned",
    )

    def __init__(
        self,
        exchange: Exchange,
        environ: Environ,
        start_response: StartResponse,
        head: bool,
        chunk_size: int,
        dropped: set[str],
    ) -> None:
        self.exchange = exchange
        self.out = exchange.out
        self.environ = environ
        self.start_response = start_response
        self.head = head
        self.chunk_size = chunk_size
        #: Extension types already logged as dropped, per middleware (A2W-EXT-05).
        self.dropped = dropped
        # written on the loop
        self.started = False
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.ended = False
        self.body_sent = False
        self.keep_body = True
        self.limit: int | None = None
        self.sent = 0
        self.warned = False
        self.path: str | None = None
        # written on T
        self.eof = False
        #: Body bytes handed to the server (a streamed response).
        self.taken = 0
        self.closed_early = False
        self.start_error: BaseException | None = None

    # -- loop side: send() ----------------------------------------------

    async def send(self, message: Message) -> None:
        """ASGI ``send`` (A2W-SEND-01..12, A2W-EXT-01..05)."""
        kind = message.get("type")
        if kind not in _TYPES:
            if kind in _DROPPED_TYPES:
                self._drop(kind)  # A2W-EXT-05
                return
            if isinstance(kind, str) and kind.startswith("websocket."):
                raise ASGIProtocolError(
                    f"A2W-EXT-05: message type {kind!r} has no meaning on an 'http' "
                    f"scope ({see('A2W-EXT-05')})"
                )
            raise ASGIProtocolError(
                f"A2W-SEND-09: unknown ASGI message type {kind!r} on an 'http' scope "
                f"({see('A2W-SEND-09')})"
            )
        if kind == "http.response.trailers":  # A2W-EXT-04: accepted and dropped
            if not self.started:
                raise _first_not_start(kind)
            return
        if self.exchange.disconnected:
            if self.start_error is not None:
                raise self.start_error  # A2W-ERR-05
            raise ClientDisconnected(
                f"A2W-SEND-08: the client disconnected; cannot send {kind!r} "
                f"({see('A2W-SEND-08')})"
            )
        if kind == "http.response.body":
            await self._body(message)
        elif kind == "http.response.start":
            self._start(message)
        elif not self.started:
            raise _first_not_start(kind)
        elif kind == "http.response.pathsend":
            self._pathsend(message)
        else:
            await self._early_hint(message)

    def _start(self, message: Message) -> None:
        if self.started:
            if self.ended:
                return  # A2W-SEND-08
            raise ASGIProtocolError(
                "A2W-SEND-05: 'http.response.start' was sent a second time "
                f"({see('A2W-SEND-05')})"
            )
        status = status_line(message.get("status"))
        headers, length = asgi_response_headers(message.get("headers", ()))
        self.started = True
        code = message["status"]
        self.keep_body = not (self.head or code == 204 or code == 304)  # A2W-SEND-10
        self.limit = length if self.keep_body else None
        # start_response runs on T once, when the first body bytes or the end
        # are known (A2W-SEND-03), so a failure before then is a clean E500
        # with one set of headers. send() does not wait for it: a round trip
        # to T and back would cost every request a second hand-off, for an
        # error that the checks above already rule out for every header a
        # PEP 3333 server rejects. Should the server raise anyway, the client
        # gets E500 and the app's next send() raises the server's error
        # (A2W-ERR-05).
        self.status = status
        self.headers = headers

    async def _body(self, message: Message) -> None:
        if not self.started:
            raise _first_not_start("http.response.body")
        if self.path is not None:
            raise ASGIProtocolError(
                "A2W-EXT-01: 'http.response.body' after 'http.response.pathsend' "
                f"({see('A2W-EXT-01')})"
            )
        if self.ended:
            return  # A2W-SEND-08
        body = message.get("body", b"")
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise ASGIProtocolError(
                    f"A2W-SEND-06: 'body' must be bytes, bytearray or memoryview, got "
                    f"{type(body).__name__} ({see('A2W-SEND-06')})"
                )
            # Liberal in what the app hands us, as Uvicorn and Starlette's
            # TestClient are: a copy, so the app may reuse its buffer.
            body = bytes(body)
        self.body_sent = True
        more = message.get("more_body", False)
        if not more:
            self.ended = True  # before the last put: T relies on the order
        if body and self.keep_body:
            limit = self.limit
            if limit is not None and len(body) > limit - self.sent:
                body = self._cut(body, limit)
            if body:
                self.sent += len(body)
                self.out.put(body)
                if more:
                    await self.exchange.drain()
        if not more:
            self.complete()

    def _cut(self, body: bytes, limit: int) -> bytes:
        """A2W-SEND-11: never more than the declared content-length."""
        if not self.warned:
            self.warned = True
            logger.warning(
                "A2W-SEND-11: the ASGI app sent more than its content-length %d; "
                "the body was cut (%s)",
                limit,
                see("A2W-SEND-11"),
            )
        return body[: limit - self.sent]

    def _pathsend(self, message: Message) -> None:
        if self.path is not None or self.body_sent:
            raise ASGIProtocolError(
                "A2W-EXT-01: 'http.response.pathsend' must be the only body message "
                f"({see('A2W-EXT-01')})"
            )
        if self.ended:  # pragma: no cover - ended implies a body or a pathsend
            return
        path = message.get("path")
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise ASGIProtocolError(
                f"A2W-EXT-01: 'path' must be a str path, got {path!r} "
                f"({see('A2W-EXT-01')})"
            )
        # A relative path (Starlette's FileResponse("image.png")) means the
        # process's working directory, as it does to open(). It is resolved
        # where the file is opened, on T: os.path.abspath() is a getcwd()
        # system call, which must not block the loop.
        self.path = path
        self.ended = True
        self.complete()

    def _drop(self, kind: str) -> None:
        """Drop an extension message the WSGI side cannot carry (A2W-EXT-05);
        logged at DEBUG once per message type and middleware."""
        dropped = self.dropped
        if kind not in dropped:
            dropped.add(kind)
            logger.debug(
                "A2W-EXT-05: %r cannot be carried by a WSGI server; dropped (%s)",
                kind,
                see("A2W-EXT-05"),
            )

    async def _early_hint(self, message: Message) -> None:
        hints = self.environ.get("wsgi.early_hints")
        if not callable(hints):
            # A2W-EXT-02: not advertised, so there is nowhere to send it. Hints
            # are advice: dropping them changes nothing the client relies on.
            self._drop("http.response.early_hint")
            return
        if self.ended:
            return  # A2W-SEND-08
        links = message.get("links", ())
        if not all(isinstance(link, bytes) for link in links):
            raise ASGIProtocolError(
                f"A2W-EXT-02: 'links' must be a list of bytes, got {links!r} "
                f"({see('A2W-EXT-02')})"
            )
        headers = [("Link", link.decode("latin-1")) for link in links]
        error = await self.exchange.on_thread(
            partial(_call_hints, hints, headers),
            ClientDisconnected(
                f"A2W-ERR-06: the WSGI server closed the response ({see('A2W-ERR-06')})"
            ),
        )
        if error is not None:
            raise error

    def complete(self) -> None:
        """The final body message was sent (A2W-SEND-07)."""
        limit = self.limit
        if limit is not None and self.path is None and self.sent < limit:
            self.out.fail(
                IncompleteResponse(
                    f"A2W-SEND-11: the ASGI app declared content-length {limit} but "
                    f"sent {self.sent} bytes ({see('A2W-SEND-11')})"
                )
            )
        else:
            self.out.close()
        self.exchange.wake_ended()

    # -- thread side: the WSGI result ------------------------------------

    def respond(self) -> Iterable[bytes]:
        """Wait for the first bytes, the end or a failure (A2W-SEND-03/06)."""
        out = self.out
        chunks: list[bytes] = []
        try:
            first = out.take()
            if self.ended or not first:
                # Complete: the rest comes without any await in between.
                while first:
                    chunks.append(first)
                    first = out.take()
                self.eof = True
        except Exception as exc:
            return self.fail(exc)
        if self.path is not None and self.keep_body:
            return self._file_response(self.path)
        error = self._begin()
        if error is not None:
            return self.fail(error)
        if not self.eof:
            return Stream(self, first)
        return Body(chunks, self)

    def _begin(self) -> BaseException | None:
        """Call ``start_response``, once, now that the first body bytes or the
        end are known (A2W-SEND-03); the server's error, if it raised."""
        try:
            self.start_response(self.status, self.headers)
        except Exception as exc:  # A2W-ERR-05: raised into the app by its next send()
            self.start_error = exc
            return exc
        return None

    def fail(self, exc: BaseException) -> Body:
        """The app failed before any byte was yielded: E500 (A2W-ERR-03/04),
        E504 when ``request_timeout`` cancelled it (A2W-TIME-01), or, for an
        exception of the app's own, :class:`AppRaised` once the app has ended
        (A2W-ERR-01)."""
        self.eof = True
        status = 500
        raised = False
        if isinstance(exc, RequestTimedOut):
            status = 504  # logged where the timeout fired
        elif isinstance(exc, ClientDisconnected) and self.exchange.disconnected:
            logger.info("the ASGI app stopped after the client disconnected: %r", exc)
        elif isinstance(exc, IncompleteResponse):
            logger.error("%s", exc)
        else:
            # Nothing of the app's response has gone out: the WSGI call raises
            # the app's own exception, as a WSGI app that fails does, and the
            # server (or WSGI middleware outside: a debugger, an error
            # reporter, a test client) answers and logs it, so it is logged
            # here at DEBUG only. WSGIToASGI does the same the other way
            # round (W2A-ERR-01).
            raised = exc is self.exchange.app_error
            logger.log(
                logging.DEBUG if raised else logging.ERROR,
                "A2W-ERR-01: the ASGI app raised before the response body was sent (%s)",
                see("A2W-ERR-01"),
                exc_info=exc,
            )
        self.closed_early = True
        # An app that still runs (it is past a send() whose bytes T never
        # took) stops at its next send(): the server's error or a disconnect.
        self.out.abort(
            self.start_error
            or ClientDisconnected(
                "A2W-ERR-01: the response failed before its first byte "
                f"({see('A2W-ERR-01')})"
            )
        )
        self.exchange.runner.call_soon(self.exchange.closed_on_loop)
        if raised:
            self.exchange.app_error = None  # raised here, not again by end()
            self.exchange.end()  # the app has ended (A2W-ERR-07)
            raise AppRaised(exc)
        line, headers, body = canned_wsgi(status)
        self.start_response(line, headers, exc_info_of(exc))
        return Body([body], self)

    def _file_response(self, path: str) -> Iterable[bytes]:
        """``http.response.pathsend``: the file is opened and read on T (A2W-EXT-01)."""
        try:
            path = os.path.abspath(path)
            file = open(path, "rb")  # noqa: SIM115 - the result's close() closes it
        except OSError as exc:
            return self.fail(exc)
        error = self._begin()
        if error is not None:
            file.close()
            return self.fail(error)
        limit = self.limit
        wrapper = self.environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            try:
                size: int | None = os.fstat(file.fileno()).st_size
            except (OSError, ValueError):  # pragma: no cover - not a real file
                size = None
            if limit is None or limit == size:
                # The server may sendfile() it; close() closes it and ends the request.
                result: Iterable[bytes] = wrapper(PathFile(file, self), self.chunk_size)
                return result
        return FileStream(self, file)

    def close(self) -> None:
        """The result's ``close()`` (A2W-ERR-06/07/08)."""
        if not self.eof:
            self.eof = True
            limit = self.limit
            if limit is not None and self.taken >= limit:
                # The server has taken the whole declared Content-Length and
                # stopped there, as PEP 3333 lets it: the response is whole,
                # not cut, so the app's closing message is no disconnect and
                # its later error reaches close() (A2W-ERR-06). T takes
                # nothing more: a later job or put gets the usual answer.
                self.out.abort(
                    ClientDisconnected(
                        "A2W-ERR-06: the WSGI server took the whole response "
                        f"and closed it ({see('A2W-ERR-06')})"
                    )
                )
                self.exchange.runner.call_soon(self._whole_on_loop)
                self.exchange.end(whole=True)
                return
            self.closed_early = True
            self.out.abort(
                ClientDisconnected(
                    "A2W-ERR-06: the WSGI server closed the response before its end "
                    f"({see('A2W-ERR-06')})"
                )
            )
            self.exchange.runner.call_soon(self.exchange.closed_on_loop)
        self.exchange.end()

    def _whole_on_loop(self) -> None:
        """On the loop: the server took the whole declared body and closed."""
        self.ended = True
        self.exchange.released_on_loop()


def _call_hints(hints: Callable[..., object], headers: list[tuple[str, str]]) -> object:
    try:
        hints(headers)
    except Exception as exc:
        return exc
    return None
