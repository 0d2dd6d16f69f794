"""In-process benchmarks: call each adapter directly, with no server and no sockets.

Theory of operation
-------------------
**W2A.** Each request is a hand-made HTTP ``scope`` and a ``receive``/``send`` pair on one event
loop (asyncio, or uvloop with ``uvloop=True``).  ``receive`` hands out the request body as
``http.request`` messages of 64 KiB (pre-sliced before timing, so slicing is not measured); once
the body is exhausted it waits until the response is complete and then answers
``http.disconnect``, as a real server does for an adapter that listens for disconnects.  ``send``
counts the body bytes and discards them.

**A2W.** Each request is a hand-made PEP 3333 ``environ`` with an ``io.BytesIO`` body (sharing the
pre-built body buffer, so no copy is timed); the result is iterated, the bytes counted, and
``close()`` called.

Every response is checked (status 200 and the exact body length): a fast wrong answer is a
failure, not a win.  Each adapter runs in **batches**: a calibration run picks the iteration count
that takes about ``target_s`` seconds; then ``rounds`` rounds run every adapter once per
scenario, with the adapter order rotated each round so drift on a noisy machine spreads over all
of them.  The result is the median µs/request over the rounds, beside the median CPU µs/request
(``time.process_time``: user + system of the whole process, every thread, over the batch), the
steadier figure on a shared machine.

Every batch has a timeout (W2A: ``asyncio.wait_for``; A2W: the batch runs in a daemon thread that
is joined with a timeout), so a hung adapter is reported as failed and the run goes on.

Memory: for the large-body scenarios one extra request per adapter runs under ``tracemalloc``
and reports the traced peak growth (all threads): what the adapter held at once while the body
went through.  Streaming adapters stay near the 64 KiB chunk size; buffering ones grow with the
body.
"""

from __future__ import annotations

import asyncio
import gc
import io
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.adapters import Built, Direction, Unavailable, build_all, close
from benchmarks.apps import READ_SIZE, SMALL_BODY, Environ, Message

__all__ = (
    "SCENARIOS",
    "Measurement",
    "Scenario",
    "Settings",
    "run_a2w",
    "run_inprocess",
    "run_w2a",
)

MIB = 1024 * 1024


@dataclass(frozen=True)
class Scenario:
    """One request shape, replayed many times."""

    name: str
    title: str
    method: str
    path: str
    query: str
    body_size: int
    response_size: int
    large: bool = False
    expect_body: bytes | None = None  # checked exactly when given (small answers only)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "small",
        "GET /small (13 B)",
        "GET",
        "/small",
        "",
        0,
        len(SMALL_BODY),
        expect_body=SMALL_BODY,
    ),
    Scenario("echo-64k", "POST /echo 64 KiB", "POST", "/echo", "", 65536, 65536),
    Scenario(
        "download-10m",
        "GET /stream 10 MiB in 64 KiB chunks",
        "GET",
        "/stream",
        f"size={10 * MIB}&chunk={READ_SIZE}",
        0,
        10 * MIB,
        large=True,
    ),
    Scenario(
        "upload-10m",
        "POST /upload 10 MiB",
        "POST",
        "/upload",
        "",
        10 * MIB,
        len(str(10 * MIB)),
        large=True,
        expect_body=str(10 * MIB).encode(),
    ),
)


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    rounds: int = 3
    target_small_s: float = 0.3
    target_large_s: float = 0.2
    max_iterations: int = 200_000
    batch_timeout_s: float = 60.0
    uvloop: bool = False
    memory: bool = True

    def target(self, scenario: Scenario) -> float:
        return (
            self.target_large_s
            if scenario.body_size or scenario.large
            else self.target_small_s
        )


@dataclass
class Measurement:
    """One adapter in one scenario."""

    adapter: str
    role: str
    version: str
    iterations: int = 0
    rounds_us: list[float] = field(default_factory=list)
    cpu_rounds_us: list[float] = field(default_factory=list)
    peak_bytes: int | None = None
    error: str | None = None

    @property
    def us(self) -> float | None:
        """Median µs per request over the rounds, None when it failed."""
        return (
            statistics.median(self.rounds_us)
            if self.rounds_us and not self.error
            else None
        )

    @property
    def cpu_us(self) -> float | None:
        """Median CPU µs per request (all threads of the process) over the rounds."""
        return (
            statistics.median(self.cpu_rounds_us)
            if self.cpu_rounds_us and not self.error
            else None
        )

    @property
    def spread(self) -> float | None:
        """(max - min) / median of the rounds, a rough noise figure."""
        us = self.us
        if us is None or len(self.rounds_us) < 2:
            return None
        return (max(self.rounds_us) - min(self.rounds_us)) / us

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["us"] = self.us
        data["cpu_us"] = self.cpu_us
        data["spread"] = self.spread
        return data


class BenchError(RuntimeError):
    """Raised when an adapter answers wrongly or too slowly."""


# --- request bodies -----------------------------------------------------------------------------


def _body(size: int) -> bytes:
    return bytes(size) if size else b""


def _chunks(body: bytes) -> list[bytes]:
    if not body:
        return [b""]
    return [body[i : i + READ_SIZE] for i in range(0, len(body), READ_SIZE)]


# --- W2A: hand-made ASGI server side ------------------------------------------------------------


def _scope(scenario: Scenario) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"sgibridge-bench")]
    if scenario.method == "POST":
        headers.append((b"content-type", b"application/octet-stream"))
        headers.append((b"content-length", str(scenario.body_size).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": scenario.method,
        "scheme": "http",
        "path": scenario.path,
        "raw_path": scenario.path.encode(),
        "query_string": scenario.query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }


class _ASGIExchange:
    """The server side of one ASGI request: feeds the body, counts the response."""

    __slots__ = ("body", "capture", "chunks", "finished", "index", "received", "status")

    def __init__(self, chunks: list[bytes], capture: bool) -> None:
        self.capture = capture
        self.body: list[bytes] = []
        self.chunks = chunks
        self.index = 0
        self.status = 0
        self.received = 0
        self.finished = asyncio.Event()

    async def receive(self) -> Message:
        i = self.index
        if i < len(self.chunks):
            self.index = i + 1
            return {
                "type": "http.request",
                "body": self.chunks[i],
                "more_body": i + 1 < len(self.chunks),
            }
        await self.finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            body = message.get("body", b"")
            self.received += len(body)
            if self.capture:
                self.body.append(body)
            if not message.get("more_body", False):
                self.finished.set()
        elif kind == "http.response.start":
            self.status = message["status"]


async def _w2a_batch(
    app: Any, scenario: Scenario, chunks: list[bytes], n: int
) -> float:
    template = _scope(scenario)
    headers = template["headers"]
    expect = scenario.response_size
    expect_body = scenario.expect_body
    capture = expect_body is not None
    start = time.perf_counter()
    for _ in range(n):
        scope = dict(template)
        scope["headers"] = list(headers)
        exchange = _ASGIExchange(chunks, capture)
        await app(scope, exchange.receive, exchange.send)
        exchange.finished.set()
        if (
            exchange.status != 200
            or exchange.received != expect
            or (capture and b"".join(exchange.body) != expect_body)
        ):
            raise BenchError(
                f"expected status 200 and {expect} body bytes, got {exchange.status} and "
                f"{exchange.received}: {b''.join(exchange.body)[:40]!r}"
            )
    return time.perf_counter() - start


# --- A2W: hand-made WSGI server side ------------------------------------------------------------


def _environ(scenario: Scenario) -> Environ:
    environ: Environ = {
        "REQUEST_METHOD": scenario.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scenario.path,
        "QUERY_STRING": scenario.query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "sgibridge-bench",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    if scenario.method == "POST":
        environ["CONTENT_TYPE"] = "application/octet-stream"
        environ["CONTENT_LENGTH"] = str(scenario.body_size)
    return environ


def _ignore_write(data: bytes) -> None:
    return None


def _a2w_batch(app: Any, scenario: Scenario, body: bytes, n: int) -> float:
    template = _environ(scenario)
    expect = scenario.response_size
    expect_body = scenario.expect_body
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return _ignore_write

    start = time.perf_counter()
    for _ in range(n):
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(body)
        result = app(environ, start_response)
        received = 0
        parts: list[bytes] = []
        try:
            for chunk in result:
                received += len(chunk)
                if expect_body is not None:
                    parts.append(chunk)
        finally:
            closer = getattr(result, "close", None)
            if closer is not None:
                closer()
        if (
            not statuses
            or not statuses[-1].startswith("200")
            or received != expect
            or (expect_body is not None and b"".join(parts) != expect_body)
        ):
            raise BenchError(
                f"expected status 200 and {expect} body bytes, got "
                f"{statuses[-1:] or 'no status'} and {received}: {b''.join(parts)[:40]!r}"
            )
    return time.perf_counter() - start


def _in_thread(func: Callable[[], float], timeout: float) -> float:
    """Run ``func`` in a daemon thread; a hang becomes a BenchError after ``timeout``."""
    box: list[float | BaseException] = []

    def target() -> None:
        try:
            box.append(func())
        except BaseException as exc:  # handed to the caller below
            box.append(exc)

    thread = threading.Thread(target=target, name="bench-a2w", daemon=True)
    thread.start()
    thread.join(timeout)
    if not box:
        raise BenchError(f"no answer within {timeout} s (the thread is abandoned)")
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


# --- the driver ---------------------------------------------------------------------------------

Batch = Callable[[Built, Scenario, int], Coroutine[Any, Any, float]]


def _iterations(per_request: float, target: float, settings: Settings) -> int:
    return max(1, min(settings.max_iterations, round(target / max(per_request, 1e-9))))


async def _calibrate(
    batch: Batch, adapter: Built, scenario: Scenario, settings: Settings
) -> int:
    """Warm up, then return how many iterations take about the target time."""
    await batch(adapter, scenario, 1)
    n = 1
    while True:
        elapsed = await batch(adapter, scenario, n)
        if elapsed >= 0.05 or n >= settings.max_iterations:
            return _iterations(elapsed / n, settings.target(scenario), settings)
        n = min(settings.max_iterations, n * 4)


async def _measure_memory(batch: Batch, adapter: Built, scenario: Scenario) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await batch(adapter, scenario, 1)
        return max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


async def _drive(
    direction: Direction,
    adapters: list[Built],
    batch: Batch,
    settings: Settings,
    scenarios: Sequence[Scenario],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    table: dict[str, dict[str, Measurement]] = {}
    iterations: dict[tuple[str, str], int] = {}
    for scenario in scenarios:
        row = table[scenario.name] = {}
        for adapter in adapters:
            m = row[adapter.spec.name] = Measurement(
                adapter.spec.name, adapter.spec.role, adapter.version
            )
            try:
                n = await _calibrate(batch, adapter, scenario, settings)
            except Exception as exc:  # reported per adapter
                m.error = f"{type(exc).__name__}: {exc}"
                log(
                    f"  {direction} {scenario.name:<13} {adapter.spec.name:<10} FAILED {m.error}"
                )
                continue
            iterations[scenario.name, adapter.spec.name] = m.iterations = n

    for round_no in range(settings.rounds):
        shift = round_no % max(1, len(adapters))
        order = adapters[shift:] + adapters[:shift]
        for scenario in scenarios:
            for adapter in order:
                m = table[scenario.name][adapter.spec.name]
                if m.error is not None:
                    continue
                n = iterations[scenario.name, adapter.spec.name]
                cpu = time.process_time()
                try:
                    elapsed = await batch(adapter, scenario, n)
                except Exception as exc:  # reported per adapter
                    m.error = f"{type(exc).__name__}: {exc}"
                    continue
                m.cpu_rounds_us.append((time.process_time() - cpu) / n * 1e6)
                m.rounds_us.append(elapsed / n * 1e6)
        log(f"  {direction} round {round_no + 1}/{settings.rounds} done")

    if settings.memory:
        for scenario in scenarios:
            if not scenario.large:
                continue
            for adapter in adapters:
                m = table[scenario.name][adapter.spec.name]
                if m.error is not None:
                    continue
                try:
                    m.peak_bytes = await _measure_memory(batch, adapter, scenario)
                except Exception as exc:  # reported per adapter
                    m.error = f"memory pass: {type(exc).__name__}: {exc}"

    results = []
    for scenario in scenarios:
        rows = [table[scenario.name][a.spec.name].as_dict() for a in adapters]
        for row in rows:
            us = row["us"]
            shown = "FAILED " + str(row["error"]) if us is None else f"{us:10.1f} µs"
            log(f"  {direction} {scenario.name:<13} {row['adapter']:<10} {shown}")
        info = asdict(scenario)
        if scenario.expect_body is not None:
            info["expect_body"] = scenario.expect_body.decode("latin-1")
        results.append({"scenario": info, "results": rows})
    return results


def _missing(unavailable: list[Unavailable]) -> list[dict[str, str]]:
    return [
        {"adapter": u.spec.name, "role": u.spec.role, "reason": u.reason}
        for u in unavailable
    ]


def _new_loop(use_uvloop: bool) -> tuple[asyncio.AbstractEventLoop, str]:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            return asyncio.new_event_loop(), "asyncio (uvloop not installed)"
        return uvloop.new_event_loop(), "uvloop"
    return asyncio.new_event_loop(), "asyncio"


def run_w2a(
    settings: Settings,
    *,
    only: frozenset[str] | None = None,
    scenarios: Sequence[Scenario] = SCENARIOS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Benchmark every W2A adapter in this process; return a JSON-ready dict."""
    bodies = {s.name: _chunks(_body(s.body_size)) for s in scenarios}

    async def batch(adapter: Built, scenario: Scenario, n: int) -> float:
        work = _w2a_batch(adapter.app, scenario, bodies[scenario.name], n)
        return await asyncio.wait_for(work, settings.batch_timeout_s)

    async def main() -> dict[str, Any]:
        # Built inside the running loop: some adapters look the loop up when constructed.
        built, unavailable = build_all("w2a", only)
        results = await _drive("w2a", built, batch, settings, scenarios, log)
        return {"scenarios": results, "unavailable": _missing(unavailable)}

    loop, loop_name = _new_loop(settings.uvloop)
    asyncio.set_event_loop(loop)
    try:
        out = loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
    return {"direction": "w2a", "loop": loop_name, **out}


def run_a2w(
    settings: Settings,
    *,
    only: frozenset[str] | None = None,
    scenarios: Sequence[Scenario] = SCENARIOS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Benchmark every A2W adapter in this process; return a JSON-ready dict."""
    bodies = {s.name: _body(s.body_size) for s in scenarios}

    async def batch(adapter: Built, scenario: Scenario, n: int) -> float:
        # Synchronous underneath: the "await" only lets the W2A driver code be shared.
        body = bodies[scenario.name]
        return _in_thread(
            lambda: _a2w_batch(adapter.app, scenario, body, n), settings.batch_timeout_s
        )

    built, unavailable = build_all("a2w", only)
    try:
        results = asyncio.run(_drive("a2w", built, batch, settings, scenarios, log))
    finally:
        for adapter in built:
            try:
                _in_thread(_closer(adapter.app), 40.0)
            except Exception as exc:  # cleanup only
                log(f"  a2w {adapter.spec.name}: close failed: {exc}")
    return {
        "direction": "a2w",
        "loop": "the adapter's own",
        "scenarios": results,
        "unavailable": _missing(unavailable),
    }


def _closer(app: object) -> Callable[[], float]:
    def run() -> float:
        close(app)
        return 0.0

    return run


def run_inprocess(
    settings: Settings,
    *,
    only: frozenset[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run both directions; return ``{"w2a": ..., "a2w": ..., "settings": ...}``."""
    started = time.monotonic()
    w2a = run_w2a(settings, only=only, log=log)
    a2w = run_a2w(settings, only=only, log=log)
    return {
        "settings": asdict(settings),
        "w2a": w2a,
        "a2w": a2w,
        "seconds": round(time.monotonic() - started, 1),
    }
