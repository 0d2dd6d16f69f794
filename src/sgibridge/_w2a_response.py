"""WSGIToASGI, the response side of one call, on its worker thread.

:class:`Response` is what the WSGI app talks to: ``start_response``, the
``write()`` callable it returns, and the iteration of the app's result. It
turns them into one of two answers for the loop (PEP 3333 §The
start_response() Callable, §Buffering and Streaming), defined in
:mod:`._w2a_answer`:

- :class:`~._w2a_answer.Complete`: the whole response is known (a list or
  tuple result, an empty body, an error before headers, a ``pathsend`` file);
  the loop sends it and the thread is done. A small request costs one
  hand-off each way.
- :class:`~._w2a_answer.Streaming`: headers are ready with the first
  non-empty chunk (headers wait for it, W2A-SR-06); the loop sends it, then
  what a :class:`~._body_thread_to_loop.ThreadToLoop` pipe yields while the
  thread keeps iterating, blocked only above the high watermark (W2A-BODY-02).

A :class:`~._w2a_filewrapper.FileWrapper` result is path-sent when it can be,
else read in blocks (W2A-ENV-16).

It knows nothing of the request body or of ``receive()``: the only thing it
learns from the loop is :attr:`Response.disconnected`, set when the client
left, which makes the next write raise :class:`~sgibridge.ClientDisconnected`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Literal

from ._body_input import BodyTooLarge
from ._body_thread_to_loop import ThreadToLoop
from ._exceptions import ClientDisconnected, WSGIProtocolError
from ._rules import see
from ._translate import parse_status_line, wsgi_response_headers
from ._w2a_answer import Complete, StreamAborted, Streaming, canned, chain, raised
from ._w2a_filewrapper import FileWrapper, blocks, sendable_path

if TYPE_CHECKING:
    from ._body_bridge import LoopBridge, Waiter
    from ._types import ExcInfo

__all__ = ("Response",)

logger = logging.getLogger("sgibridge")


def _no_start_response() -> WSGIProtocolError:
    return WSGIProtocolError(
        "W2A-ERR-02: the WSGI app returned without calling start_response() "
        f"({see('W2A-ERR-02')})"
    )


class Response:
    """The response side of one WSGI call (W2A-SR-*, W2A-BODY-*).

    :param bridge: the loop, for the waiters and the response pipe.
    :param start: resolved once with the :class:`Complete` or
        :class:`Streaming` answer, or ``None`` when the client is gone.
    :param head: the request is a ``HEAD`` (W2A-BODY-10).
    :param pathsend: the server offers ``http.response.pathsend``.
    """

    def __init__(
        self,
        bridge: LoopBridge,
        start: Waiter[Complete | Streaming | None],
        *,
        head: bool,
        pathsend: bool,
        buffer_size: int,
        hop_by_hop: Literal["drop", "error"],
        raise_exc_info: bool,
    ) -> None:
        self.bridge = bridge
        self.start = start
        self.head = head
        self.pathsend = pathsend
        self.buffer_size = buffer_size
        self.hop_by_hop = hop_by_hop
        self.raise_exc_info = raise_exc_info
        #: Set by the loop when the client left.
        self.disconnected = False
        # Made only when the response streams (_send_headers): a response
        # that leaves in one piece needs neither.
        self.done: Waiter[BaseException | None]
        self.out: ThreadToLoop | None = None
        self.sr_called = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.length: int | None = None
        self.sent = 0
        self.headers_sent = False
        self.complete = False
        self.app_error: BaseException | None = None

    def answer_error(self, error: BaseException) -> None:
        """The call failed (``close()`` already ran): raised with nothing sent
        before the headers, an abort after them (W2A-ERR-01, W2A-ERR-03)."""
        if not self.headers_sent:
            self.start.set_threadsafe(self.fail(error))
        else:
            self.pipe_out().fail(StreamAborted())
            self.done.set_threadsafe(error)

    def answer_done(
        self, response: Complete | None, late: BaseException | None
    ) -> None:
        """The body is complete (``close()`` already ran). A ``close()`` error
        cannot change the response: it goes out whole, then ``late`` is raised
        (W2A-CLOSE-05)."""
        if not self.headers_sent:
            whole = self.finish() if response is None else response
            whole.raise_after = chain(whole.raise_after, late)
            self.start.set_threadsafe(whole)
        else:
            self.done.set_threadsafe(chain(self.end_stream(), late))

    # -- PEP 3333 callables ------------------------------------------------

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response`` (W2A-SR-01..10)."""
        try:
            if exc_info is not None and exc_info[1] is not None:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
                self.app_error = exc_info[1]
            elif self.sr_called:
                raise WSGIProtocolError(
                    "W2A-SR-07: start_response() was called a second time without "
                    f"exc_info (PEP 3333; {see('W2A-SR-07')})"
                )
        finally:
            exc_info = None
        self.sr_called = True
        code = parse_status_line(status)
        asgi_headers, length = wsgi_response_headers(
            headers, hop_by_hop=self.hop_by_hop
        )
        self.status, self.headers, self.length = code, asgi_headers, length
        return self.write

    def write(self, data: bytes) -> None:
        """The PEP 3333 ``write()`` callable (W2A-BODY-05)."""
        data = self.check_chunk(data, "write()")
        if self.complete:
            raise WSGIProtocolError(
                "W2A-BODY-05: write() was called after the response was complete "
                f"({see('W2A-BODY-05')})"
            )
        if self.length is not None and self.sent + len(data) > self.length:
            raise WSGIProtocolError(
                f"W2A-BODY-06: write() of {len(data)} bytes goes past the declared "
                f"Content-Length {self.length} ({self.sent} sent; {see('W2A-BODY-06')})"
            )
        if not self.headers_sent:
            self._send_headers()
        if data:
            self.sent += len(data)
            if not self.head and self.status != 204 and self.status != 304:
                self.pipe_out().write(data)
                self.pipe_out().flush()

    def check_chunk(self, chunk: object, where: str) -> bytes:
        """The chunk as ``bytes``: a ``bytearray``, ``memoryview`` or ``bytes``
        subclass is copied, as Uvicorn and the frameworks' test clients accept
        them, so the server gets plain ``bytes`` (W2A-BODY-04)."""
        if type(chunk) is not bytes:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
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

    # -- the app's result --------------------------------------------------

    def consume(self, result: Iterable[bytes]) -> Complete | None:
        """Iterate the app's result; a returned response leaves in one piece."""
        if isinstance(result, (str, bytes)):
            raise WSGIProtocolError(
                "W2A-BODY-13: a WSGI app must return an iterable of bytes, not a "
                f"{type(result).__name__} ({see('W2A-BODY-13')})"
            )
        if not self.headers_sent:
            if type(result) is list or type(result) is tuple:
                return self._collect(result)
            if type(result) is FileWrapper and self.pathsend:
                response = self._pathsend(result)
                if response is not None:
                    return response
        if type(result) is FileWrapper:
            result = blocks(result)
        check = self.check_chunk
        items = iter(result)
        for item in items:
            chunk = check(item, "the iterable")
            if not chunk:
                continue
            if (
                not self.headers_sent
                and self.length is not None
                and len(chunk) >= self.length
            ):
                # The first chunk holds the whole declared body (Flask's and
                # Django's responses): nothing more is iterated, so the
                # response leaves in one piece, as a list's does (W2A-BODY-15).
                return self._collect((chunk,))
            if self._emit(chunk):
                return None
            break
        else:
            return None  # only empty chunks, or none
        if self.head or self.status == 204 or self.status == 304:
            for item in items:  # the bytes are dropped, the checks still hold
                chunk = check(item, "the iterable")
                if chunk and self._emit(chunk):
                    break
            return None
        self._stream(items)
        return None

    def _stream(self, items: Iterator[object]) -> None:
        """The rest of a streamed body, once the headers went out: the
        per-chunk path of :meth:`_emit` without its per-call checks."""
        write = self.pipe_out().write
        length = self.length
        check = self.check_chunk
        for item in items:
            chunk = item if type(item) is bytes else check(item, "the iterable")
            if not chunk:
                continue
            if length is not None and len(chunk) >= length - self.sent:
                self._emit(chunk)  # the cut at Content-Length (W2A-BODY-06)
                return
            self.sent += len(chunk)
            write(chunk)

    def _collect(self, result: list[bytes] | tuple[bytes, ...]) -> Complete:
        chunks: list[bytes] = []
        total = 0
        for item in result:
            chunk = self.check_chunk(item, "the iterable")
            if chunk:
                chunks.append(chunk)
                total += len(chunk)
        if not self.sr_called:
            raise _no_start_response()
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
            return Complete(
                status, headers, chunks, final=False, raise_after=self._short_error()
            )
        return Complete(status, headers, chunks, raise_after=self._late_error())

    def _pathsend(self, wrapper: FileWrapper) -> Complete | None:
        sendable = sendable_path(wrapper)
        if sendable is None:
            return None
        name, size = sendable
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
        return Complete(self.status, headers, path=name, raise_after=self._late_error())

    def _emit(self, chunk: bytes) -> bool:
        """Send one non-empty chunk; True once Content-Length is reached."""
        length = self.length
        if length is not None:
            room = length - self.sent
            if len(chunk) >= room:
                chunk = chunk[:room]
        self.sent += len(chunk)
        body = not self.head and self.status != 204 and self.status != 304
        if not self.headers_sent:
            # The first chunk goes with the headers, past any disconnect
            # already seen; the app's next write is where one stops it.
            self._send_headers(chunk if body else b"")
        elif body:
            self.pipe_out().write(chunk)
        return length is not None and self.sent >= length

    def pipe_out(self) -> ThreadToLoop:
        """The response pipe, which exists once the headers went out."""
        out = self.out
        assert out is not None
        return out

    def _send_headers(self, first: bytes = b"") -> None:
        self.headers_sent = True
        headers = self.headers
        if self.status == 204:
            headers = [(k, v) for k, v in headers if k != b"content-length"]
        self.done = self.bridge.waiter()
        self.out = out = ThreadToLoop(self.bridge, self.buffer_size)
        # The loop sets the flag, then aborts the pipe if it exists: checking
        # the flag after making the pipe means one of the two always aborts it.
        if self.disconnected:
            out.abort(ClientDisconnected("the client disconnected before the response"))
        self.start.set_threadsafe(Streaming(self.status, headers, out, first))

    # -- endings -----------------------------------------------------------

    def finish(self) -> Complete:
        """The iterable ended (or reached Content-Length) before any byte went out."""
        if not self.sr_called:
            return raised(_no_start_response())
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
            return Complete(
                self.status, headers, final=False, raise_after=self._short_error()
            )
        return Complete(self.status, headers, raise_after=self._late_error())

    def end_stream(self) -> BaseException | None:
        """The iterable ended after the headers went out."""
        self.complete = True
        if self._short():
            self.pipe_out().fail(StreamAborted())
            return self._short_error()
        self.pipe_out().close()
        return self._late_error()

    def fail(self, error: BaseException) -> Complete | None:
        """Turn an exception before the headers into what the loop sends."""
        if isinstance(error, ClientDisconnected) and self.disconnected:
            return None
        if isinstance(error, BodyTooLarge):
            logger.info("request rejected with 413: %s", error)
            return canned(413)
        return raised(error)

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
            f"W2A-BODY-07: the WSGI app declared Content-Length {self.length} but its "
            f"body had {self.sent} bytes ({see('W2A-BODY-07')})"
        )
        logger.error("%s", error)
        return error

    def _late_error(self) -> BaseException | None:
        if self.app_error is not None and self.raise_exc_info:
            return self.app_error
        if self.app_error is not None:
            logger.error(
                "the WSGI app reported an error with exc_info", exc_info=self.app_error
            )
        return None


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
