"""WSGIToASGI, one HTTP call: the loop side that sends, and the worker job.

:meth:`Call.run` submits :meth:`Call.work` to the worker pool and waits for
the thread's one answer (:class:`~._w2a_response.Complete`,
:class:`~._w2a_response.Streaming` or ``None``), then sends it. Beside it run
the request side (a :class:`~._w2a_request.RequestPump`, or the disconnect
watcher alone when the body came whole).

Whatever ends the call early (the client leaving, ``send()`` raising,
cancellation) goes through :meth:`Call.disconnect`, which aborts both pipes so
that the thread's next read or write raises
:class:`~sgibridge.ClientDisconnected`; the thread then runs ``close()`` and
the loop waits for it before returning (W2A-ERR-05/06/07). No thread
outlives its call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ._exceptions import ClientDisconnected
from ._w2a_request import RequestPump, watch
from ._w2a_response import (
    Complete,
    Response,
    StreamAborted,
    Streaming,
    chain,
    close_result,
)

if TYPE_CHECKING:
    from ._body import LoopBridge
    from ._types import Environ, WSGIApp

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
    :param early_hints: the server offers ``http.response.early_hint``.
    """

    def __init__(
        self,
        app: WSGIApp,
        environ: Environ,
        response: Response,
        bridge: LoopBridge,
        *,
        early_hints: bool = False,
    ) -> None:
        self.app = app
        self.environ = environ
        self.response = response
        self.bridge = bridge
        self.pump: RequestPump | None = None
        self._send: Send | None = None
        if early_hints:
            environ["wsgi.early_hints"] = self._early_hints

    # -- loop side -------------------------------------------------------

    async def run(
        self,
        receive: Receive,
        send: Send,
        submit: Callable[[Callable[[], None]], object],
        pump: RequestPump | None = None,
        *,
        expect: bool = False,
    ) -> None:
        """Run the call to its end; raise what the app raised (W2A-ERR-01/03)."""
        self.pump = pump
        self._send = send
        submit(self.work)
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
                        tg.start_soon(watch, receive, self.disconnect)
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
        """The loop side failed or was cancelled: stop the thread, wait for it."""
        self.disconnect()
        with anyio.CancelScope(shield=True):
            answer = await self.response.start.wait()
            if isinstance(answer, Streaming):
                await self.response.done.wait()

    def disconnect(self) -> None:
        """The client is gone: the thread's next read or write raises."""
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
        try:
            await send_complete(send, answer)
        except OSError as exc:
            logger.debug("send() failed, the client is gone: %r", exc)
            return
        if answer.raise_after is not None:
            raise answer.raise_after

    async def _stream(self, send: Send, answer: Streaming) -> None:
        done = self.response.done
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

    # -- thread side -----------------------------------------------------

    def work(self) -> None:
        """The whole WSGI call, on one worker thread (W2A-CLOSE-03). Never raises."""
        response = self.response
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

    def _early_hints(self, headers: list[tuple[str, str]]) -> None:
        """``wsgi.early_hints`` (W2A-ENV-20)."""
        if self.response.headers_sent or self._send is None:
            return
        links = [v.encode("latin-1") for k, v in headers if k.lower() == "link"]
        message = {"type": "http.response.early_hint", "links": links}
        self.bridge.run_from_thread(self._send, message)
