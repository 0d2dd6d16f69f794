"""The body-streaming buffer (DESIGN §4), on real threads and real loops.

Each test drives one side from a worker thread (``anyio.to_thread``) and the
other from the event loop, on asyncio and trio.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgibridge import BodyTooLarge, ClientDisconnected
from sgibridge._body_bridge import LoopBridge
from sgibridge._body_input import InputStream
from sgibridge._body_loop_to_thread import LoopToThread
from sgibridge._body_thread_to_loop import ThreadToLoop

pytestmark = pytest.mark.anyio

Op = tuple[str, Any]


def apply(stream: Any, ops: list[Op]) -> list[object]:
    """Apply read operations to ``stream``; read to the end at last."""
    out: list[object] = []
    for name, arg in ops:
        if name == "iter":
            out.append(list(stream))
        else:
            out.append(getattr(stream, name)(arg))
    out.append(stream.read())
    return out


ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.one_of(st.none(), st.integers(-2, 40))),
        st.tuples(st.just("readline"), st.one_of(st.none(), st.integers(-2, 40))),
        st.tuples(st.just("readlines"), st.one_of(st.none(), st.integers(-2, 60))),
        st.tuples(st.just("iter"), st.none()),
    ),
    max_size=8,
)
body_strategy = st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\n"))


def chunked(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    pieces = []
    last = 0
    for point in [*points, len(body)]:
        pieces.append(body[last:point])
        last = point
    return pieces


async def feed_and_read(
    chunks: list[bytes],
    reader: Callable[[InputStream], object],
    high_water: int = 7,
    **kw: Any,
) -> object:
    """Feed ``chunks`` from the loop, as a server's messages, while a thread reads."""
    pipe = LoopToThread(LoopBridge(), high_water)
    stream = InputStream(chunks[0] if chunks else b"", pipe, **kw)

    async def feed() -> None:
        for chunk in chunks[1:]:
            await pipe.drain()
            pipe.put(chunk)
        pipe.close()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed)
            result = await anyio.to_thread.run_sync(reader, stream)
            # A reader that stopped early (Content-Length) leaves the feeder
            # waiting for room, as the adapter's pump does until the response
            # ends and cancels it.
            tg.cancel_scope.cancel()
    return result


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=body_strategy,
    cuts=st.lists(st.integers(0, 400), max_size=12),
    ops=ops_strategy,
)
async def test_W2A_IN_03_to_06_any_chunking_reads_like_bytesio(
    body: bytes, cuts: list[int], ops: list[Op]
) -> None:
    """W2A-IN-03/04/05/06/10: any chunking of any body gives the same reads
    as an in-memory file, for any mix of read calls."""
    expected = apply(io.BytesIO(body), ops)
    got = await feed_and_read(chunked(body, cuts), lambda s: apply(s, ops))
    assert got == expected


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=body_strategy,
    cuts=st.lists(st.integers(0, 400), max_size=8),
    length=st.integers(0, 320),
)
async def test_W2A_IN_07_never_past_content_length(
    body: bytes, cuts: list[int], length: int
) -> None:
    """W2A-IN-07 / SEC-05: no byte past CONTENT_LENGTH; a short body ends at EOF."""
    got = await feed_and_read(chunked(body, cuts), lambda s: s.read(), length=length)
    assert got == body[:length]


def test_W2A_IN_03_in_memory_body_without_a_pipe() -> None:
    """W2A-IN-03: the fast path reads the first message's body, no pipe at all."""
    stream = InputStream(b"line one\nline two\n")
    assert stream.read(0) == b""
    assert stream.readline() == b"line one\n"
    assert stream.readlines() == [b"line two\n"]
    assert stream.read() == b""
    assert stream.read(5) == b""


def test_W2A_IN_05_readlines_hint_is_bytes_not_lines() -> None:
    """W2A-IN-05: hint counts bytes; lines are returned until the total reaches it."""
    stream = InputStream(b"a\nbb\nccc\ndddd\n")
    assert stream.readlines(4) == [b"a\n", b"bb\n"]
    assert stream.readlines(0) == [b"ccc\n", b"dddd\n"]


def test_W2A_IN_11_readable_and_close() -> None:
    """W2A-IN-11: readable() is True; close() does nothing."""
    stream = InputStream(b"abc")
    assert stream.readable() is True
    stream.close()
    assert stream.read() == b"abc"


async def test_W2A_IN_08_disconnect_mid_body_raises() -> None:
    """W2A-IN-08: a disconnect before more_body=False raises on every later read,
    never a silent short body."""
    pipe = LoopToThread(LoopBridge())
    stream = InputStream(b"first", pipe)
    pipe.put(b"second")
    pipe.fail(ClientDisconnected("gone"))

    def read_all() -> list[object]:
        results: list[object] = [stream.read(5), stream.read(6)]
        for _ in range(2):
            try:
                stream.read()
            except ClientDisconnected as exc:
                results.append(exc)
        return results

    with anyio.fail_after(10):
        first, second, *errors = await anyio.to_thread.run_sync(read_all)
    assert (first, second) == (b"first", b"second")
    assert len(errors) == 2 and all(isinstance(e, ClientDisconnected) for e in errors)


async def test_W2A_IN_08_disconnect_after_the_whole_body_is_no_error() -> None:
    """W2A-IN-08: a disconnect after more_body=False leaves the body intact:
    the reader gets every byte, then EOF."""
    pipe = LoopToThread(LoopBridge())
    stream = InputStream(b"first ", pipe)
    pipe.put(b"second")
    pipe.close()
    pipe.fail(ClientDisconnected("gone after the body"))
    with anyio.fail_after(10):
        assert await anyio.to_thread.run_sync(stream.read) == b"first second"
    assert stream.read() == b""


async def test_W2A_IN_13_blocked_read_raises_promptly_on_abort() -> None:
    """W2A-IN-13: a read blocked on the pipe raises once the request is abandoned."""
    pipe = LoopToThread(LoopBridge())
    stream = InputStream(b"", pipe)
    started = threading.Event()

    def blocked_read() -> BaseException | None:
        started.set()
        try:
            stream.read()
        except ClientDisconnected as exc:
            return exc
        return None

    async with anyio.create_task_group() as tg:

        async def abandon() -> None:
            await anyio.to_thread.run_sync(started.wait, 10)
            pipe.fail(ClientDisconnected("cancelled"))

        tg.start_soon(abandon)
        with anyio.fail_after(10):
            error = await anyio.to_thread.run_sync(blocked_read)
    assert isinstance(error, ClientDisconnected)


async def test_max_body_size_raises_body_too_large() -> None:
    """max_body_size: reading past the limit raises BodyTooLarge, every time."""
    stream = InputStream(b"x" * 8, max_size=5)
    with pytest.raises(BodyTooLarge, match="max_body_size=5"):
        stream.read()
    with pytest.raises(BodyTooLarge):
        stream.read(1)

    def read(s: InputStream) -> object:
        try:
            return s.read()
        except BodyTooLarge as exc:
            return exc

    got = await feed_and_read([b"abc", b"def", b"ghi"], read, max_size=7)
    assert isinstance(got, BodyTooLarge)


async def test_SEC_10_thread_to_loop_backpressure_bounds_memory() -> None:
    """SEC-10, W2A-BODY-02: a fast writer never has more than the high watermark
    plus one chunk unread, and every byte arrives in order."""
    high, chunk, count = 1000, 300, 200
    pipe = ThreadToLoop(LoopBridge(), high)
    peak = 0

    def produce() -> None:
        nonlocal peak
        for i in range(count):
            pipe.write(bytes([i % 256]) * chunk)
            peak = max(peak, pipe.buffered)
        pipe.close()

    received = bytearray()
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, produce)
        with anyio.fail_after(10):
            while data := await pipe.read():
                assert pipe.buffered == 0
                received += data
                await anyio.lowlevel.checkpoint()
    assert peak <= high + chunk
    assert bytes(received) == b"".join(bytes([i % 256]) * chunk for i in range(count))


async def test_thread_to_loop_single_chunk_is_not_copied() -> None:
    """DESIGN §4: a lone chunk is handed over as the same object."""
    pipe = ThreadToLoop(LoopBridge())
    data = b"x" * 100_000
    pipe.write(data)
    assert await pipe.read() is data


async def test_thread_to_loop_abort_makes_blocked_writer_raise() -> None:
    """W2A-ERR-05/06: a writer blocked on backpressure raises once the reader gives up."""
    pipe = ThreadToLoop(LoopBridge(), 10)

    def produce() -> BaseException | None:
        try:
            while True:
                pipe.write(b"y" * 100)
        except ClientDisconnected as exc:
            return exc

    async with anyio.create_task_group() as tg:

        async def abort_soon() -> None:
            assert await pipe.read() == b"y" * 100
            pipe.abort(ClientDisconnected("client went away"))

        tg.start_soon(abort_soon)
        with anyio.fail_after(10):
            error = await anyio.to_thread.run_sync(produce)
    assert isinstance(error, ClientDisconnected)
    with pytest.raises(ClientDisconnected):
        pipe.write(b"more")


async def test_thread_to_loop_fail_travels_after_the_bytes() -> None:
    """DESIGN §4: an error from the producer reaches the reader after the bytes."""
    pipe = ThreadToLoop(LoopBridge())
    pipe.write(b"partial")
    pipe.fail(ValueError("boom"))
    assert await pipe.read() == b"partial"
    with pytest.raises(ValueError, match="boom"):
        await pipe.read()


async def test_W2A_BODY_05_flush_returns_after_the_reader_came_back() -> None:
    """W2A-BODY-05: flush() returns only once the reader took the bytes and
    asked for more, that is, once they were handled."""
    pipe = ThreadToLoop(LoopBridge())
    handled: list[bytes] = []

    def produce() -> list[bytes]:
        pipe.write(b"one")
        pipe.flush()
        seen = list(handled)
        pipe.close()
        return seen

    async def consume() -> None:
        while data := await pipe.read():
            await anyio.sleep(0.01)  # a slow send()
            handled.append(data)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        with anyio.fail_after(10):
            seen = await anyio.to_thread.run_sync(produce)
    assert seen == [b"one"]


async def test_loop_to_thread_drain_waits_for_the_consumer() -> None:
    """SEC-10: the loop-side producer waits above the watermark until taken."""
    pipe = LoopToThread(LoopBridge(), 10)
    pipe.put(b"z" * 50)
    assert pipe.buffered == 50
    took: list[bytes] = []

    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, lambda: took.append(pipe.take()))
        with anyio.fail_after(10):
            await pipe.drain()
    assert took == [b"z" * 50]
    assert pipe.buffered == 0


async def test_loop_to_thread_jobs_run_on_the_consuming_thread() -> None:
    """A2W-RECV-05, A2W-SEND-03: posted jobs run on the thread that takes, in
    order with the bytes."""
    pipe = LoopToThread(LoopBridge())
    seen: list[object] = []
    pipe.call(lambda: seen.append(threading.current_thread().name))
    pipe.put(b"data")
    pipe.close()

    def consume() -> list[bytes]:
        seen.append(threading.current_thread().name)
        return [pipe.take(), pipe.take()]

    with anyio.fail_after(10):
        chunks = await anyio.to_thread.run_sync(consume)
    assert chunks == [b"data", b""]
    assert seen[0] == seen[1] != threading.current_thread().name


async def test_loop_to_thread_abort_reaches_the_loop() -> None:
    """A2W-ERR-06: a consumer that gives up makes the producer's put/drain raise."""
    pipe = LoopToThread(LoopBridge(), 1)
    pipe.put(b"ab")

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            anyio.to_thread.run_sync,
            lambda: pipe.abort(ClientDisconnected("iterator closed")),
        )
        with anyio.fail_after(10), pytest.raises(ClientDisconnected):
            await pipe.drain()
    with pytest.raises(ClientDisconnected):
        pipe.put(b"x")
    with pytest.raises(ClientDisconnected):
        pipe.call(lambda: None)
    with pytest.raises(ClientDisconnected):
        await pipe.wait_demand()
    assert pipe.aborted is not None


async def test_W2A_IN_12_wait_demand_until_the_first_take() -> None:
    """W2A-IN-01/12: with Expect: 100-continue nothing is received until the
    app first reads."""
    pipe = LoopToThread(LoopBridge())
    stream = InputStream(b"", pipe)

    async def server() -> None:
        await pipe.wait_demand()
        pipe.put(b"body")
        pipe.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(server)
        with anyio.fail_after(10):
            assert await anyio.to_thread.run_sync(stream.read) == b"body"


async def test_waiter_and_run_from_thread() -> None:
    """LoopBridge wakes a loop task from a thread, and runs coroutines for it."""
    bridge = LoopBridge()
    waiter = bridge.waiter()
    await anyio.to_thread.run_sync(waiter.set_threadsafe, 42)
    with anyio.fail_after(10):
        assert await waiter.wait() == 42
    local = bridge.waiter()
    local.set("direct")
    assert await local.wait() == "direct"

    async def double(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return 2 * x

    with anyio.fail_after(10):
        assert await anyio.to_thread.run_sync(bridge.run_from_thread, double, 21) == 42
    called = anyio.Event()
    bridge.call_soon_threadsafe(called.set)
    with anyio.fail_after(10):
        await called.wait()


def test_high_water_must_be_positive() -> None:
    """A zero watermark would deadlock; it is refused with the value."""

    async def make() -> None:
        LoopToThread(LoopBridge(), 0)

    with pytest.raises(ValueError, match="got 0"):
        anyio.run(make)


async def _eventually(check: Callable[[], object]) -> None:
    """Return once ``check()`` is true (another thread makes it so)."""
    with anyio.fail_after(10):
        for _ in itertools.count():
            if check():
                return
            await anyio.sleep(0.001)


def _count_wakes(pipe: LoopToThread) -> list[int]:
    """Record every notify() the pipe issues to its consuming thread."""
    wakes: list[int] = []
    cond = pipe._cond
    notify = cond.notify

    def counted(n: int = 1) -> None:
        wakes.append(n)
        notify(n)

    cond.notify = counted  # type: ignore[method-assign]
    return wakes


async def test_take_wakes_the_thread_once_it_has_what_it_waits_for() -> None:
    """DESIGN §4 (wake only a waiter, not per chunk): a thread in read(n)
    sleeps until n bytes are buffered, then gets them all without waiting."""
    pipe = LoopToThread(LoopBridge(), 1000)
    stream = InputStream(b"", pipe)

    async with anyio.create_task_group() as tg:
        got: list[bytes] = []

        async def read() -> None:
            got.append(await anyio.to_thread.run_sync(stream.read, 100))

        tg.start_soon(read)
        try:
            await _eventually(lambda: pipe._thread_waiting)
            wakes = _count_wakes(pipe)
            for piece in (b"a" * 40, b"b" * 40):
                pipe.put(piece)
            assert wakes == []  # 40 and 80 bytes: the thread sleeps on
            pipe.put(b"c" * 40)
            await _eventually(lambda: got)
            assert len(wakes) == 1
        finally:
            pipe.close()  # never leave the thread waiting
    assert got == [b"a" * 40 + b"b" * 40 + b"c" * 20]
    assert pipe.buffered == 0
    assert stream.read(20) == b"c" * 20


async def test_take_waits_for_no_more_than_the_low_watermark() -> None:
    """SEC-10: a read larger than the buffer wakes at the low watermark, so a
    producer held at the high one is never deadlocked, and memory stays
    bounded by the watermark plus one chunk."""
    high, chunk, count = 64, 16, 100
    pipe = LoopToThread(LoopBridge(), high)
    stream = InputStream(b"", pipe)
    peak = 0

    async def feed() -> None:
        nonlocal peak
        for i in range(count):
            await pipe.drain()
            pipe.put(bytes([i]) * chunk)
            peak = max(peak, pipe.buffered)
        pipe.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(feed)
        with anyio.fail_after(10):
            got = await anyio.to_thread.run_sync(stream.read, chunk * count)
    assert got == b"".join(bytes([i]) * chunk for i in range(count))
    assert peak <= high + chunk


@pytest.mark.parametrize("end", ["close", "fail"])
async def test_take_wakes_for_a_short_tail_at_the_end_or_an_error(end: str) -> None:
    """W2A-IN-08: a reader waiting for more bytes than will come wakes at the
    end (and gets the short tail) or at a failure (and raises it), as when it
    was woken for every chunk."""
    pipe = LoopToThread(LoopBridge(), 1000)
    stream = InputStream(b"", pipe)

    def read() -> bytes | BaseException:
        try:
            return stream.read(100)
        except ClientDisconnected as exc:
            return exc

    async with anyio.create_task_group() as tg:
        got: list[bytes | BaseException] = []

        async def reader() -> None:
            got.append(await anyio.to_thread.run_sync(read))

        tg.start_soon(reader)
        try:
            await _eventually(lambda: pipe._thread_waiting)
            wakes = _count_wakes(pipe)
            pipe.put(b"short")
            assert wakes == []
        finally:
            if end == "close":
                pipe.close()
            else:
                pipe.fail(ClientDisconnected("gone"))
    if end == "close":
        assert got == [b"short"]
    else:
        assert isinstance(got[0], ClientDisconnected)


async def test_read_across_chunks_joins_pieces_of_each() -> None:
    """W2A-IN-03/10: a read that spans chunks returns exactly the bytes asked
    for, as bytes, and the rest of the last chunk serves the next read."""
    chunks = [b"0123456789", b"abcdefghij", b"ABCDEFGHIJ"]

    def read(stream: InputStream) -> object:
        first = stream.read(3)
        across = stream.read(15)
        rest = stream.read()
        return [first, across, rest, type(across), type(rest)]

    got = await feed_and_read(chunks, read, high_water=1000)
    assert got == [b"012", b"3456789abcdefgh", b"ijABCDEFGHIJ", bytes, bytes]
