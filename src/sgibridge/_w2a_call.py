"""WSGIToASGI, one HTTP call: the loop side that sends, and the worker job.

:meth:`Call.run` submits :meth:`Call.work` to the worker pool and waits for
the thread's one answer (:class:`~._w2a_answer.Complete`,
:class:`~._w2a_answer.Streaming` or ``None``), then sends it. Beside it run
the request side (a :class:`~._w2a_request.RequestPump`, or the disconnect
watcher alone when the body came whole).

Whatever ends the call early (the client leaving, ``send()`` raising,
cancellation) goes through :meth:`Call.disconnect`, which aborts both pipes so
that the thread's next read or write raises
:class:`~sgibridge.ClientDisconnected`; the thread then runs ``close()`` and
the loop waits for it before returning (W2A-ERR-05/06/07). No thread
outlives its call, except one that ``request_timeout`` gave up on
(W2A-TIME-03): that call is answered 504 (or aborted, once its response
started), the thread's stack is logged once, and the pool counts the thread
as lost until its job returns.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ._exceptions import ClientDisconnected
from ._w2a_answer import (
    Complete,
    StreamAborted,
    Streaming,
    canned,
    chain,
    close_result,
)
from ._w2a_limits import Limits, Registry, timed_send
from ._w2a_request import RequestPump, watch

if TYPE_CHECKING:
    from ._body_bridge import LoopBridge
    from ._types import Environ, WSGIApp
    from ._w2a_response import Response
    from ._workers import WorkerPool

__all__ = ("Call", "send_complete")

logger = logging.getLogger("sgibridge")

Message = Mapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Any], Any]

#: List responses up to this size leave as one ``http.response.body``.
_JOIN_LIMIT = 1024 * 1024


async def send_complete(send: Send, response: Complete) -> None:
    """Send a response that is known whole (W2A-BODY-01/08/09)."""
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


class Call:
    """One HTTP request: :meth:`run` on the loop, :meth:`work` on a worker.

    :param app: the WSGI application.
    :param environ: the request's environ, ``wsgi.input`` included.
    :param response: the response side, which the app's ``start_response``
        belongs to.
    :param bridge: the running loop.
    :param pool: the worker pool to run on.
    :param limits: the adapter's timeouts and queue bound.
    :param registry: where the call is listed while in flight.
    :param early_hints: the server offers ``http.response.early_hint``.
    """

    def __init__(
        self,
        app: WSGIApp,
        environ: Environ,
        response: Response,
        bridge: LoopBridge,
        pool: WorkerPool,
        limits: Limits,
        registry: Registry,
        *,
        early_hints: bool = False,
    ) -> None:
        self.app = app
        self.environ = environ
        self.response = response
        self.bridge = bridge
        self.pool = pool
        self.limits = limits
        self.registry = registry
        self.pump: RequestPump | None = None
        self._send: Send | None = None
        self.method: str = environ["REQUEST_METHOD"]
        self._script_name: str = environ.get("SCRIPT_NAME", "")
        self._path_info: str = environ["PATH_INFO"]
        self.started_at = time.monotonic()
        self.submitted = False
        #: When the worker thread started the WSGI call, and its ident.
        self.thread_started_at: float | None = None
        self.thread: int | None = None
        #: http.response.start went (or is going) out.
        self.sending = False
        self._finished = False
        self._lost = False
        #: The request ended before the app was due to run (disconnect mid-body,
        #: timeout, cancellation): a queued call never starts it.
        self._abandoned = False
        self._lock = threading.Lock()
        self._deadline: anyio.CancelScope | None = None
        if early_hints:
            environ["wsgi.early_hints"] = self._early_hints

    @property
    def path(self) -> str:
        """The request's path, ``SCRIPT_NAME`` and ``PATH_INFO``, for logs and stats."""
        return self._script_name + self._path_info

    def describe(self, now: float) -> dict[str, Any]:
        """What this call is doing, for ``WSGIToASGI.stats()`` (W2A-STAT-01)."""
        response = self.response
        if not self.submitted:
            phase = "request"  # the first body message is still on its way
        elif self.thread_started_at is None:
            phase = "queued"
        elif self._finished:
            phase = "sending"
        elif not response.headers_sent:
            phase = "app"
        else:
            phase = "streaming"
        out = response.out
        pump = self.pump
        return {
            "method": self.method,
            "path": self.path,
            "age": round(now - self.started_at, 3),
            "phase": phase,
            "lost": self._lost,
            "buffered": (out.buffered if out is not None else 0)
            + (pump.pipe.buffered if pump is not None else 0),
        }

    # -- loop side -------------------------------------------------------

    async def run(
        self,
        receive: Receive,
        send: Send,
        pump: RequestPump | None = None,
        *,
        expect: bool = False,
    ) -> None:
        """Run the call to its end; raise what the app raised (W2A-ERR-01/03)."""
        limits = self.limits
        self.pump = pump
        self._send = send
        if limits.send_timeout is not None:
            send = timed_send(send, limits.send_timeout, self._send_timed_out)
        if not self.pool.submit(self.work, limits.max_queue):
            await self._refuse(send)
            return
        self.submitted = True
        if limits.saturation_warning is not None:
            self._warn_saturation(limits.saturation_warning)
        if limits.request_timeout is None:
            await self._run(receive, send, pump, expect)
            return
        with anyio.move_on_after(limits.request_timeout) as deadline:
            self._deadline = deadline
            await self._run(receive, send, pump, expect)
        if deadline.cancelled_caught:
            await self._timed_out(send)

    async def _run(
        self, receive: Receive, send: Send, pump: RequestPump | None, expect: bool
    ) -> None:
        error: Exception | None = None
        try:
            # Errors stay out of the task group, so that the server sees the
            # app's exception, not an exception group.
            if pump is None:
                answer = await self.response.start.wait()
                if isinstance(answer, Complete):
                    await self._send_complete(send, answer)
                elif answer is not None:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(watch, receive, self.left)
                        try:
                            await self._stream(send, answer)
                        except Exception as exc:
                            error = exc
                        tg.cancel_scope.cancel()
            else:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(pump.run, receive, expect)
                    try:
                        answer = await self.response.start.wait()
                        if isinstance(answer, Complete):
                            await self._send_complete(send, answer)
                        elif answer is not None:
                            await self._stream(send, answer)
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
        """The loop side failed or was cancelled: stop the thread, wait for it
        (not for one that request_timeout gave up on)."""
        self.disconnect()
        if self._deadline is not None and self._deadline.cancel_called:
            return
        with anyio.CancelScope(shield=True):
            answer = await self.response.start.wait()
            if isinstance(answer, Streaming):
                await self.response.done.wait()

    def disconnect(self) -> None:
        """The request ends early (the client left mid-body, a timeout, the
        loop side failed): a call still queued never starts the app, and the
        thread's next read or write raises."""
        self._abandoned = True
        self.left()

    def left(self) -> None:
        """The client left: the thread's next write raises, so a response that
        is still being produced ends there. What the app hands over complete
        (a list, a first chunk with the headers, the end of the body) is still
        sent (W2A-IN-14). After a whole request the app runs even if queued."""
        response = self.response
        # Set the flag before looking for the pipe: the thread makes the pipe
        # and then checks the flag, so one of the two sides always aborts it.
        response.disconnected = True
        if response.out is not None:
            response.out.abort(
                ClientDisconnected("the client disconnected during the response")
            )
        if self.pump is not None:
            self.pump.pipe.fail(
                ClientDisconnected("the client disconnected during the request body")
            )

    async def _send_complete(self, send: Send, answer: Complete) -> None:
        if not answer.send:  # W2A-ERR-01: the server answers the app's error
            assert answer.raise_after is not None
            raise answer.raise_after
        self.sending = True
        try:
            await send_complete(send, answer)
        except OSError as exc:
            logger.debug("send() failed, the client is gone: %r", exc)
            return
        if answer.raise_after is not None:
            raise answer.raise_after

    async def _stream(self, send: Send, answer: Streaming) -> None:
        done = self.response.done
        self.sending = True
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": answer.headers,
                }
            )
            if self.pump is not None:
                self.pump.response_started()
            if answer.first:
                await send(
                    {
                        "type": "http.response.body",
                        "body": answer.first,
                        "more_body": True,
                    }
                )
            read = answer.out.read
            while True:
                try:
                    data = await read()
                except StreamAborted:
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
            self.disconnect()
            await done.wait()
            return
        error = await done.wait()
        if error is not None and not (
            self.response.disconnected and isinstance(error, ClientDisconnected)
        ):
            raise error

    # -- limits ----------------------------------------------------------

    async def _refuse(self, send: Send) -> None:
        """``max_queue`` is full: 503 with Retry-After (W2A-TIME-05)."""
        self.registry.rejected += 1
        logger.warning(
            "%s %s answered 503: %d requests already wait for a worker (max_queue)",
            self.method,
            self.path,
            self.limits.max_queue,
        )
        answer = canned(503)
        retry = str(self.limits.retry_after).encode("ascii")
        answer.headers.append((b"retry-after", retry))
        await self._send_complete(send, answer)

    def _warn_saturation(self, threshold: float) -> None:
        """One warning per episode of every worker busy with requests waiting
        (W2A-STAT-02), saying what the workers are doing."""
        age = self.pool.saturation(threshold)
        if age is None:
            return
        busy = [c for c in self.registry.describe() if c["phase"] != "queued"]
        queued = sum(1 for c in self.registry.describe() if c["phase"] == "queued")
        doing = ", ".join(f"{c['method']} {c['path']} ({c['age']:.1f} s)" for c in busy)
        logger.warning(
            "all %d WSGIToASGI workers have been busy for %.1f s with %d requests "
            "waiting; the workers run: %s",
            self.pool.max_workers,
            age,
            queued,
            doing or "nothing yet",
        )

    def body_timed_out(self) -> None:
        """``body_timeout`` fired (W2A-TIME-02)."""
        self.registry.timeouts["body"] += 1
        logger.info(
            "%s %s: the request body delivered no byte for %s s; the request ends "
            "as a disconnect (body_timeout)",
            self.method,
            self.path,
            self.limits.body_timeout,
        )

    def _send_timed_out(self) -> None:
        self.registry.timeouts["send"] += 1
        logger.info(
            "%s %s: the client read nothing for %s s, the response is aborted "
            "(send_timeout)",
            self.method,
            self.path,
            self.limits.send_timeout,
        )

    async def _timed_out(self, send: Send) -> None:
        """``request_timeout`` fired (W2A-TIME-03): 504 if nothing was sent,
        the stuck thread's stack logged once, the thread counted as lost."""
        self.registry.timeouts["request"] += 1
        self.disconnect()
        with self._lock:
            lost = not self._finished and self.thread is not None
            if lost:
                self._lost = True
                self.pool.lose()
        stack = ""
        ident = self.thread
        frame = sys._current_frames().get(ident) if lost and ident else None
        if frame is not None:
            stack = "".join(traceback.format_stack(frame))
        logger.error(
            "%s %s took longer than request_timeout=%s s; %s%s",
            self.method,
            self.path,
            self.limits.request_timeout,
            "its worker thread is counted as lost until the app returns, at:\n"
            if lost
            else "it had no worker thread yet",
            stack,
        )
        if not self.sending:
            answer = canned(504)
            try:
                await send_complete(send, answer)
            except OSError as exc:
                logger.debug("send() failed, the client is gone: %r", exc)

    # -- thread side -----------------------------------------------------

    def work(self) -> None:
        """The whole WSGI call, on one worker thread (W2A-CLOSE-03). Never raises."""
        response = self.response
        self.thread = threading.get_ident()
        self.thread_started_at = time.monotonic()
        if self._abandoned:  # gone mid-request (or timed out) while queued
            response.start.set_threadsafe(None)
            self._finish()
            return
        result: Iterable[bytes] | None = None
        whole: Complete | None = None
        error: BaseException | None = None
        try:
            result = self.app(self.environ, response.start_response)
            whole = response.consume(result)
        except BaseException as exc:
            error = exc
        late = close_result(result)
        if error is not None:
            response.answer_error(chain(error, late))
        else:
            response.answer_done(whole, late)
        self.environ = {}  # drop references to the request early
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            self._finished = True
            lost = self._lost
        if lost:
            self.pool.found()
            logger.warning(
                "%s %s: the worker thread that request_timeout gave up on returned "
                "after %.1f s",
                self.method,
                self.path,
                time.monotonic() - self.started_at,
            )

    def _early_hints(self, headers: list[tuple[str, str]]) -> None:
        """``wsgi.early_hints`` (W2A-ENV-20)."""
        if self.response.headers_sent or self._send is None:
            return
        links = [v.encode("latin-1") for k, v in headers if k.lower() == "link"]
        message = {"type": "http.response.early_hint", "links": links}
        self.bridge.run_from_thread(self._send, message)
