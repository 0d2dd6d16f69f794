"""Load and soak: many requests with random disconnects through each adapter
under a real server on 127.0.0.1.

Concurrent raw-socket clients send a random mix of downloads (``/bytes``),
uploads echoed back (``/echo``) and small requests, with keep-alive; a few
per cent of the requests leave early (a reset mid-download, a half-sent
upload, a reset right after the request head). At the end:

- every response that completed is byte-exact (downloads are a
  deterministic pattern, uploads come back as sent);
- the server's RSS grew by less than 10 MiB from its warmed-up baseline, or,
  when one reading says more, the same load again adds less than 5 MiB (a
  leak grows again; the allocator's cached arenas do not);
- its thread count is back to its idle value (bounded wait), and for
  ASGIToWSGI the event loop runs no more tasks than when idle.

``make test`` runs :data:`QUICK` requests per adapter; ``make soak`` sets
``SGIBRIDGE_SOAK=1`` for :data:`FULL` requests per adapter and more servers.
The run is bounded in time: clients stop at a deadline, which fails the test.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from servers import Server, ServerKind, serve

from . import rawhttp
from .support import wait_until

SOAK = os.environ.get("SGIBRIDGE_SOAK") == "1"
QUICK = 4_000
FULL = 50_000
REQUESTS = FULL if SOAK else QUICK
CLIENTS = 8
DISCONNECT_RATE = 0.05
# Requests before the RSS baseline. A server's heap keeps growing for a while
# before it levels off: on Hypercorn, a baseline after 1,000 requests saw
# 12.5 MiB over the next 50k and 14.5 MiB over 100k (a plateau, not a leak;
# Hypercorn serving the same app without an adapter grew 6.9 MiB), and a
# baseline after 10,000 saw 1.4 MiB over the next 50k.
WARMUP = 10_000 if SOAK else 1000
DEADLINE = 1500.0 if SOAK else 150.0
MiB = 1024 * 1024
#: RSS growth over the soak's load that counts as a leak.
LIMIT_MIB = 10

pytestmark = [pytest.mark.integration, pytest.mark.timeout(DEADLINE + 120)]


def pattern(seed: int, size: int) -> bytes:
    """The same bytes as ``apps.rel_apps.pattern``."""
    block = bytes((seed * 7 + i) % 256 for i in range(256))
    return (block * (size // 256 + 1))[:size]


@dataclass
class Tally:
    completed: int = 0
    disconnects: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def leave_early(port: int, rng: random.Random) -> None:
    """One request that the client abandons."""
    conn = rawhttp.Connection(port)
    try:
        how = rng.randrange(3)
        if how == 0:  # reset mid-download
            conn.send_head("GET", f"/bytes?n={4 * MiB}&seed=3")
            conn.read_head()
            conn.read_some(rng.randrange(1, 65536))
        elif how == 1:  # half an upload, then gone
            conn.send_head("POST", "/echo", length=256 * 1024)
            conn.sock.sendall(b"h" * rng.randrange(0, 64 * 1024))
        else:  # gone right after the head
            conn.send_head("GET", "/bytes?n=100000&seed=4")
    finally:
        conn.abort()


def one_request(
    conn: rawhttp.Connection, rng: random.Random
) -> tuple[rawhttp.Response, bytes]:
    """A normal request; returns the response and the exact expected body."""
    roll = rng.random()
    if roll < 0.6:
        size, seed = rng.randrange(0, 96 * 1024), rng.randrange(1000)
        expected = pattern(seed, size)
        return conn.request("GET", f"/bytes?n={size}&seed={seed}"), expected
    if roll < 0.9:
        body = rng.randbytes(rng.randrange(0, 48 * 1024))
        return conn.request("POST", "/echo", body), body
    return conn.request("GET", "/health"), b"ok"


def client(port: int, count: int, seed: int, tally: Tally, deadline: float) -> None:
    rng = random.Random(seed)
    conn: rawhttp.Connection | None = None
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                tally.errors.append("the deadline passed before all requests were sent")
                return
            if rng.random() < DISCONNECT_RATE:
                leave_early(port, rng)
                tally.add(disconnects=1)
                continue
            for attempt in range(2):
                if conn is None or conn.closed:
                    conn = rawhttp.Connection(port)
                    tally.add(reconnects=1)
                state = rng.getstate()
                try:
                    response, expected = one_request(conn, rng)
                except (rawhttp.IncompleteResponse, ConnectionError) as exc:
                    conn.close()
                    if attempt:  # a fresh connection failed too
                        tally.errors.append(f"request failed: {exc!r}")
                        break
                    rng.setstate(state)  # the same request again, on a new one
                    continue
                if response.status != 200 or response.body != expected:
                    tally.errors.append(
                        f"not byte-exact: status {response.status}, "
                        f"{len(response.body)} bytes, expected {len(expected)}"
                    )
                tally.add(completed=1)
                break
    except Exception as exc:  # recorded, never lost in a thread
        tally.errors.append(f"client crashed: {exc!r}")
    finally:
        if conn is not None:
            conn.close()


def drive(server: Server, requests: int, seed: int) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + DEADLINE
    share = requests // CLIENTS
    threads = [
        threading.Thread(
            target=client,
            args=(server.port, share, seed + i, tally, deadline),
            daemon=True,
        )
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + 30))
        assert not thread.is_alive(), "a client thread hung"
    assert not tally.errors, tally.errors[:5]
    assert tally.completed + tally.disconnects == share * CLIENTS
    return tally


def settle(read: Callable[[], int], idle: int, what: str) -> None:
    """Wait (bounded) until ``read()`` is back to ``idle``."""
    seen: list[int] = []

    def back() -> bool:
        seen.append(read())
        return seen[-1] == idle

    try:
        wait_until(back, timeout=30)
    except AssertionError:
        raise AssertionError(
            f"{what} did not return to the idle value {idle}: last {seen[-5:]}"
        ) from None


def collect(server: Server) -> int:
    """Run a full GC in the server (``/gc``); returns what it found."""
    conn = rawhttp.Connection(server.port)
    try:
        return int(conn.request("GET", "/gc").body)
    finally:
        conn.close()


def task_count(server: Server) -> int:
    conn = rawhttp.Connection(server.port)
    try:
        return int(conn.request("GET", "/tasks").body)
    finally:
        conn.close()


@dataclass(frozen=True)
class Setup:
    server: ServerKind
    target: str
    threads: int | None = None
    worker_class: str | None = None
    workers: int = 1


SETUPS = [
    pytest.param(Setup("uvicorn", "apps.rel_apps:w2a_app"), id="w2a-uvicorn"),
    pytest.param(
        Setup("waitress", "apps.rel_apps:a2w_app", threads=8),
        id="a2w-waitress",
    ),
]
if SOAK:
    SETUPS += [
        pytest.param(Setup("hypercorn", "apps.rel_apps:w2a_app"), id="w2a-hypercorn"),
        pytest.param(
            Setup("gunicorn", "apps.rel_apps:a2w_app", worker_class="sync", workers=2),
            id="a2w-gunicorn-sync",
        ),
    ]


@pytest.fixture(params=SETUPS)
def soak_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    setup: Setup = request.param
    with serve(
        setup.server,
        setup.target,
        threads=setup.threads,
        worker_class=setup.worker_class,
        workers=setup.workers,
        env={
            "REL_IDLE_TIMEOUT": "0.5",
            # A fixed mmap threshold makes glibc return freed body buffers
            # to the OS at once, so RSS shows what is still in use rather
            # than what the allocator keeps cached; fewer arenas, less noise.
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "MALLOC_ARENA_MAX": "2",
        },
    ) as server:
        yield server


def idle_rss(server: Server) -> int:
    """The server's RSS once idle: the lowest of a few samples, as freed
    memory is returned asynchronously."""
    samples = []
    for _ in range(5):
        samples.append(server.rss_bytes())
        time.sleep(0.1)
    return min(samples)


def test_soak(soak_server: Server) -> None:
    """50k requests (``make soak``) or 4k (``make test``) per adapter."""
    server = soak_server
    a2w = server.kind in ("gunicorn", "waitress")
    if a2w:  # the first request starts the adapter's loop thread and lifespan
        conn = rawhttp.Connection(server.port)
        conn.request("GET", "/health")
        conn.close()
        idle_tasks = task_count(server)
    idle_threads = server.thread_count()
    # Warm up: pools, buffers and allocator arenas exist before the baseline.
    drive(server, WARMUP, seed=1)
    if a2w:
        settle(lambda: task_count(server), idle_tasks, "event-loop tasks")
        # Every worker process has started its loop thread by now (Gunicorn
        # starts one per worker, on the worker's first request).
        idle_threads = server.thread_count()
    else:
        settle(lambda: server.thread_count(), idle_threads, "threads")
    collect(server)
    baseline = server.rss_bytes()

    tally = drive(server, REQUESTS, seed=1000)

    settle(lambda: server.thread_count(), idle_threads, "threads")
    if a2w:
        settle(lambda: task_count(server), idle_tasks, "event-loop tasks")
    # Memory still held once the server is idle again and cyclic garbage is
    # collected (aborted requests leave some, see the issue-7 note).
    garbage = collect(server)
    final = idle_rss(server)
    growth = (final - baseline) / MiB
    print(
        f"\nsoak {server.kind}: {tally.completed} completed, {tally.disconnects} "
        f"left early, {tally.reconnects} connections, RSS growth {growth:.2f} MiB, "
        f"threads {server.thread_count()} (idle {idle_threads}), "
        f"{garbage} objects in cyclic garbage"
    )
    if growth >= LIMIT_MIB:
        # One reading can catch the allocator holding memory it has freed:
        # runs of the same tree read -5.3 to +10.6 MiB on Python 3.10. A leak
        # grows again under the same load; a plateau does not.
        drive(server, REQUESTS, seed=2000)
        settle(lambda: server.thread_count(), idle_threads, "threads")
        collect(server)
        again = (idle_rss(server) - final) / MiB
        print(f"soak {server.kind}: the same load again: {again:.2f} MiB")
        assert again < LIMIT_MIB / 2, (
            f"RSS grew by {growth:.1f} MiB, then by {again:.1f} MiB more"
        )
    assert "Exception in ASGI application" not in server.log()
