"""How a thread wakes a task on the event loop: :class:`LoopBridge` and its :class:`Waiter`.

Part of the body-streaming buffer (:mod:`._body`). A :class:`LoopBridge` is
captured on the running loop, asyncio (and uvloop) or trio, and issues the
cheapest cross-thread wake-up each offers: ``call_soon_threadsafe`` on asyncio,
the trio token's ``run_sync_soon`` on trio. A :class:`Waiter` is the one-shot
value that a pipe's loop side awaits and the thread side sets, at most once
per wait (the buffer's contract, rule 2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ("LoopBridge", "Waiter")

T = TypeVar("T")


class Waiter(Generic[T]):
    """A one-shot value that a task awaits on the loop and any thread sets."""

    __slots__ = ()

    def set_threadsafe(self, value: T) -> None:
        """Resolve from any thread. Later calls, and calls after a cancelled
        wait, are ignored."""
        raise NotImplementedError

    def set(self, value: T) -> None:
        """Resolve from the loop thread."""
        raise NotImplementedError

    async def wait(self) -> T:
        """Wait on the loop for the value."""
        raise NotImplementedError


class _AsyncioWaiter(Waiter[T]):
    # A task cancelled while awaiting a future cancels that future too, so the
    # value is kept here as well and a later wait (the shielded one that
    # waits for the thread after a cancellation) gets a fresh future. Both
    # resolving and waiting run on the loop thread, so they cannot race.
    __slots__ = ("_done", "_future", "_loop", "_value")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[T] = loop.create_future()
        self._done = False
        self._value: T | None = None

    def set_threadsafe(self, value: T) -> None:
        try:
            self._loop.call_soon_threadsafe(self.set, value)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def set(self, value: T) -> None:
        if self._done:
            return
        self._done = True
        self._value = value
        if not self._future.done():
            self._future.set_result(value)

    async def wait(self) -> T:
        if self._done:
            return self._value  # type: ignore[return-value]
        if self._future.cancelled():
            self._future = self._loop.create_future()
        return await self._future


class _TrioWaiter(Waiter[T]):
    __slots__ = ("_event", "_token", "_value")

    def __init__(self, token: Any) -> None:
        import trio

        self._token = token
        self._event = trio.Event()
        self._value: T | None = None

    def set_threadsafe(self, value: T) -> None:
        import trio

        self._value = value
        try:
            self._token.run_sync_soon(self._event.set)
        except trio.RunFinishedError:  # the run ended: nobody is waiting
            pass

    def set(self, value: T) -> None:
        self._value = value
        self._event.set()

    async def wait(self) -> T:
        await self._event.wait()
        return self._value  # type: ignore[return-value]


class LoopBridge:
    """The running event loop, captured so that threads can wake its tasks.

    Create it on the loop (inside a coroutine). asyncio (and uvloop) is used
    directly; otherwise the loop must be trio's.
    """

    __slots__ = ("_loop", "_token")

    def __init__(self) -> None:
        self._token: Any = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            import trio

            self._loop = None
            self._token = trio.lowlevel.current_trio_token()

    def waiter(self) -> Waiter[Any]:
        """A new one-shot :class:`Waiter` bound to this loop."""
        if self._loop is not None:
            return _AsyncioWaiter(self._loop)
        return _TrioWaiter(self._token)

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop thread soon; callable from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)
        else:
            self._token.run_sync_soon(callback)

    def run_from_thread(self, func: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``await func(*args)`` on the loop from another thread and block
        until it returns. For rare calls only: each one is a full round trip."""
        if self._loop is not None:
            future = asyncio.run_coroutine_threadsafe(_call(func, *args), self._loop)
            return future.result()
        import trio

        return trio.from_thread.run(func, *args, trio_token=self._token)


async def _call(func: Callable[..., Awaitable[T]], *args: object) -> T:
    return await func(*args)
