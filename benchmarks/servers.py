"""Real-server benchmarks on 127.0.0.1.

- **W2A:** the WSGI benchmark app through each W2A adapter on Uvicorn (one process,
  ``--no-access-log``, ``--lifespan off``), plus ``bare-asgi`` on Uvicorn as the ceiling.
- **A2W:** the ASGI benchmark app through each A2W adapter on Gunicorn (``-k gthread
  --threads 8``, one worker), plus ``bare-wsgi`` on Gunicorn as the ceiling.
- **Secondary servers:** W2A on Hypercorn and on Granian (``--interface asgi``, skipped when
  not installed), A2W on Waitress (``--threads=8``).  They run steps 1-3 and 6 only (no large
  bodies, no leak check); in quick mode, ``GET /small`` only, for sgibridge, a2wsgi and the
  ceiling (``ServerSettings.secondary_small_only`` and ``secondary_adapters``).
- **Fixed rows** (``ServerSettings.fixed_stacks``, full mode only): ``GET /small`` for a few
  adapters and the ceiling on A2W under Gunicorn's sync worker, and the framework rows: W2A
  wrapping Flask hello on Uvicorn (sgibridge, Uvicorn's middleware, a2wsgi) and A2W wrapping
  FastAPI hello on Gunicorn gthread and sync (sgibridge, a2wsgi); the ceilings stay the plain
  apps, so ``× ceiling`` is what framework and adapter cost together (``benchmarks.frameworks``).
  They run at concurrency 16 and 64 only.
- ``GET /small`` runs at concurrency 1, 16 and 64.

Every server serves ``benchmarks._serve:app``, which builds the adapter named in its environment,
so all adapters run under exactly the same server command line.  For each adapter, in order:

1. start the server and warm it up (a bounded burst of small requests and one 1 MiB download);
2. ``GET /small`` at concurrency 1 and 16: requests/s, p50 and p99 latency (``wrk`` when on PATH,
   else the built-in generator);
3. a 10 MiB download (``GET /stream``) and a 10 MiB upload (``POST /upload``) at concurrency 1:
   MB/s of body, and the server's peak RSS growth (process tree, sampled every 20 ms);
4. ``--full`` only, primary servers only, first round only: one 200 MiB and one 1 GiB download
   and upload each, for MB/s and peak server RSS (a timeout per transfer); then 16 concurrent
   200 MiB downloads and 16 concurrent 200 MiB uploads, for the peak server RSS under
   concurrency (skipped for an adapter whose single 200 MiB transfer of that kind failed or ran
   below ``concurrent_min_mb_per_s``: 16 of them would only run into the timeout);
5. primary servers only, first round only: the leak check, ``GET /small`` at concurrency 16 for ``leak_requests``
   requests (100k in ``--full``), then the server's RSS growth over it and its thread count
   before and after, once idle again;
6. stop the server (SIGTERM, then SIGKILL after a timeout).

With ``rounds > 1`` the whole sequence repeats with the adapter order rotated, and each figure is
the median over the rounds.  Every measurement is bounded by a duration and a request count.

**Cost.**  Beside every rate, the CPU time (user + system) the server used during that
measurement, read from ``/proc/PID/stat`` for the server process and all its descendants
(Gunicorn's and Granian's workers): ``cpu_ms_per_1k`` (CPU milliseconds per 1,000 requests) for
``GET /small`` and ``cpu_s_per_gib`` (CPU seconds per GiB of body) for the transfers.  On a
shared machine these are far steadier than req/s and MB/s, which also depend on how much CPU the
load generator and everything else left to the server.  The resolution is one clock tick
(10 ms), so a figure from fewer than ~50 ticks is rough.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._load import LoadResult, own_load, wrk_load, wrk_path
from benchmarks._proc import Proc, running
from benchmarks.adapters import AdapterSpec, Built, Direction, build, registry

__all__ = ("ServerSettings", "run_servers")

MIB = 1024 * 1024
GIB = 1024 * MIB
SMALL_CONCURRENCY = (1, 16, 64)
SMALL = b"Hello, world!"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServerSettings:
    """Durations and bounds of the real-server measurements."""

    duration_s: float = 1.0
    max_small_requests: int = 500_000
    max_large_requests: int = 20
    large_mib: int = 10
    huge_mib: tuple[int, ...] = ()  # () skips the large-body pass (quick mode)
    leak_requests: int = 0  # 0 skips the leak check
    rounds: int = 1
    request_timeout_s: float = 30.0
    huge_timeout_s: float = 120.0
    leak_timeout_s: float = 300.0
    gthread_threads: int = 8
    # The secondary servers (Hypercorn, Granian, Waitress) never run the large bodies or the
    # leak check; these two trim them further (quick mode).
    secondary_small_only: bool = False  # GET /small only, no 10 MiB transfers
    secondary_adapters: tuple[
        str, ...
    ] = ()  # () runs every adapter; ceilings always run
    # The stacks with fixed adapters (framework rows, Gunicorn sync); off in quick mode.
    fixed_stacks: bool = True
    # With huge bodies: this many concurrent transfers of concurrent_mib each (0 skips them).
    concurrent_transfers: int = 16
    concurrent_mib: int = 200
    concurrent_min_mb_per_s: float = 100.0


def _uvicorn_argv(settings: ServerSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks._serve:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-access-log",
        "--lifespan",
        "off",
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "3",
    ]


def _hypercorn_argv(settings: ServerSettings) -> list[str]:
    # No access log by default; one worker runs in the server process itself.
    return [
        sys.executable,
        "-m",
        "hypercorn",
        "benchmarks._serve:app",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--graceful-timeout",
        "3",
    ]


def _granian_argv(settings: ServerSettings) -> list[str]:
    # No access log by default; the worker is a child process (RSS is summed over the tree).
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--workers-kill-timeout",
        "3",
        "benchmarks._serve:app",
    ]


def _gunicorn_argv(settings: ServerSettings) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "benchmarks._serve:app",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        str(settings.gthread_threads),
        "--log-level",
        "warning",
        "--graceful-timeout",
        "3",
    ]
    try:
        if int(metadata.version("gunicorn").split(".")[0]) >= 25:
            argv.append(
                "--no-control-socket"
            )  # a fixed default path: parallel runs would clash
    except (metadata.PackageNotFoundError, ValueError):
        pass
    return argv


def _gunicorn_sync_argv(settings: ServerSettings) -> list[str]:
    argv = _gunicorn_argv(settings)
    at = argv.index("--worker-class")
    return [*argv[: at + 1], "sync", *argv[at + 4 :]]


def _waitress_argv(settings: ServerSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "waitress",
        "--listen=127.0.0.1:{port}",
        f"--threads={settings.gthread_threads}",
        "benchmarks._serve:app",
    ]


@dataclass(frozen=True)
class ServerStack:
    """One (direction, server) pair: a results key, a section label and a command line.

    A *primary* stack runs every scenario (the large bodies and the leak check included); the
    others skip those two, and in quick mode run ``GET /small`` only, for a few adapters.
    """

    key: str
    direction: Direction
    module: str
    label: str
    argv: Callable[[ServerSettings], list[str]]
    primary: bool = False
    # The framework rows: SGIBRIDGE_BENCH_APP for the server, always GET /small only, and
    # these adapters (and the ceiling) in every mode.
    app: str = "bench"
    adapters: tuple[str, ...] = ()


STACKS: tuple[ServerStack, ...] = (
    ServerStack("w2a", "w2a", "uvicorn", "W2A on Uvicorn", _uvicorn_argv, True),
    ServerStack(
        "w2a-hypercorn", "w2a", "hypercorn", "W2A on Hypercorn", _hypercorn_argv
    ),
    ServerStack("w2a-granian", "w2a", "granian", "W2A on Granian", _granian_argv),
    ServerStack(
        "a2w", "a2w", "gunicorn", "A2W on Gunicorn gthread", _gunicorn_argv, True
    ),
    ServerStack("a2w-waitress", "a2w", "waitress", "A2W on Waitress", _waitress_argv),
    ServerStack(
        "a2w-sync",
        "a2w",
        "gunicorn",
        "A2W on Gunicorn sync",
        _gunicorn_sync_argv,
        adapters=("sgibridge", "a2wsgi"),
    ),
    ServerStack(
        "w2a-flask",
        "w2a",
        "uvicorn",
        "W2A on Uvicorn, Flask hello",
        _uvicorn_argv,
        app="framework",
        adapters=("sgibridge", "uvicorn", "a2wsgi"),
    ),
    ServerStack(
        "a2w-fastapi",
        "a2w",
        "gunicorn",
        "A2W on Gunicorn gthread, FastAPI hello",
        _gunicorn_argv,
        app="framework",
        adapters=("sgibridge", "a2wsgi"),
    ),
    ServerStack(
        "a2w-sync-fastapi",
        "a2w",
        "gunicorn",
        "A2W on Gunicorn sync, FastAPI hello",
        _gunicorn_sync_argv,
        app="framework",
        adapters=("sgibridge", "a2wsgi"),
    ),
)


def describe_servers() -> dict[str, str]:
    """Which server stacks run, for the report."""

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    loop = "uvloop" if has("uvloop") else "asyncio"
    http = "httptools" if has("httptools") else "h11"
    return {
        "w2a": f"uvicorn (1 process, --loop auto={loop}, --http auto={http}, --no-access-log)",
        "w2a-hypercorn": "hypercorn (1 worker, asyncio, h11)",
        "w2a-granian": "granian --interface asgi (1 worker, --loop auto)"
        if has("granian")
        else "granian: not installed",
        "a2w": "gunicorn -k gthread --threads 8 -w 1",
        "a2w-waitress": "waitress --threads=8",
        "load": f"wrk ({wrk_path()})"
        if wrk_path()
        else "built-in (selectors, raw sockets)",
    }


class _RSSSampler:
    """Samples a server's process-tree RSS every 20 ms in a thread; keeps the peak."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self.peak = proc.rss_bytes()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.proc.rss_bytes())


@contextlib.contextmanager
def _sampling(proc: Proc) -> Iterator[_RSSSampler]:
    sampler = _RSSSampler(proc)
    thread = threading.Thread(target=sampler.run, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield sampler
    finally:
        sampler.stop.set()
        thread.join(timeout=5)
        sampler.peak = max(sampler.peak, proc.rss_bytes())


def _cost(result: dict[str, Any], cpu_s: float, requests: int, body: int) -> None:
    """Add the server's CPU time to a measurement: per 1,000 requests and per GiB of body."""
    result["cpu_s"] = cpu_s
    result["cpu_ms_per_1k"] = cpu_s / requests * 1e6 if requests else None
    result["cpu_s_per_gib"] = cpu_s / (body / GIB) if body else None


def _small_cost(
    proc: Proc, concurrency: int, settings: ServerSettings
) -> dict[str, Any]:
    cpu = proc.cpu_seconds()
    result = _small(proc.port, concurrency, settings)
    out = result.as_dict()
    _cost(out, proc.cpu_seconds() - cpu, result.requests, 0)
    return out


def _small(port: int, concurrency: int, settings: ServerSettings) -> LoadResult:
    if wrk_path():
        return wrk_load(
            port,
            "/small",
            concurrency=concurrency,
            duration=settings.duration_s,
            max_requests=settings.max_small_requests,
            timeout=settings.request_timeout_s,
        )
    return own_load(
        port,
        "GET",
        "/small",
        concurrency=concurrency,
        duration=settings.duration_s,
        max_requests=settings.max_small_requests,
        timeout=settings.request_timeout_s,
    )


def _transfer(
    proc: Proc,
    kind: str,
    size: int,
    *,
    duration: float,
    max_requests: int,
    timeout: float,
    body: bytes,
    concurrency: int = 1,
) -> dict[str, Any]:
    before = proc.rss_bytes()
    cpu = proc.cpu_seconds()
    with _sampling(proc) as sampler:
        if kind == "download":
            result = own_load(
                proc.port,
                "GET",
                f"/stream?size={size}&chunk=65536",
                concurrency=concurrency,
                duration=duration,
                max_requests=max_requests,
                timeout=timeout,
            )
            mbps = result.mb_in_per_s
        else:
            result = own_load(
                proc.port,
                "POST",
                "/upload",
                body=body,
                concurrency=concurrency,
                duration=duration,
                max_requests=max_requests,
                timeout=timeout,
                expect_body=str(len(body)).encode(),
            )
            mbps = result.mb_out_per_s
    out = {
        "mb_per_s": mbps if result.requests else None,
        "requests": result.requests,
        "errors": result.errors,
        "concurrency": concurrency,
        "rss_before": before,
        "rss_peak": sampler.peak,
        "rss_growth": sampler.peak - before,
    }
    _cost(out, proc.cpu_seconds() - cpu, result.requests, result.requests * size)
    return out


def _measure_one(
    proc: Proc,
    settings: ServerSettings,
    *,
    huge: bool,
    small_only: bool = False,
    levels: tuple[int, ...] = SMALL_CONCURRENCY,
) -> dict[str, Any]:
    warm = own_load(
        proc.port, "GET", "/small", duration=0.3, max_requests=300, timeout=10
    )
    warm_dl = (
        own_load(
            proc.port,
            "GET",
            f"/stream?size={MIB}&chunk=65536",
            max_requests=1,
            timeout=10,
        )
        if not small_only
        else warm
    )
    if warm.errors or not warm.requests or warm_dl.errors or not warm_dl.requests:
        failed = warm.errors + warm_dl.errors
        total = failed + warm.requests + warm_dl.requests
        raise RuntimeError(
            f"{failed} of {total} warm-up requests failed; {_last_error(proc)}"
        )
    out: dict[str, Any] = {"rss_idle": proc.rss_bytes()}
    for concurrency in levels:
        out[f"small_c{concurrency}"] = _small_cost(proc, concurrency, settings)
    large = settings.large_mib * MIB
    for kind in () if small_only else ("download", "upload"):
        out[f"{kind}_{settings.large_mib}m"] = _transfer(
            proc,
            kind,
            large,
            duration=settings.duration_s,
            max_requests=settings.max_large_requests,
            timeout=settings.request_timeout_s,
            body=bytes(large) if kind == "upload" else b"",
        )
    for huge_mib in settings.huge_mib if huge else ():
        huge_size = huge_mib * MIB
        for kind in ("download", "upload"):
            out[f"{kind}_{huge_mib}m"] = _transfer(
                proc,
                kind,
                huge_size,
                duration=0.0,
                max_requests=1,
                timeout=settings.huge_timeout_s,
                body=bytes(huge_size) if kind == "upload" else b"",
            )
    if huge and settings.concurrent_transfers:
        out.update(_concurrent(proc, settings, out))
    if huge and settings.leak_requests:
        out["leak"] = _leak_check(proc, settings)
    out["rss_after"] = proc.rss_bytes()
    return out


def _concurrent(
    proc: Proc, settings: ServerSettings, done: dict[str, Any]
) -> dict[str, Any]:
    """Concurrent large transfers, for the peak server RSS under concurrency."""
    n, mib = settings.concurrent_transfers, settings.concurrent_mib
    size = mib * MIB
    out: dict[str, Any] = {}
    for kind in ("download", "upload"):
        key = f"{kind}_{mib}m_c{n}"
        single = done.get(f"{kind}_{mib}m") or {}
        speed = single.get("mb_per_s")
        if (
            not speed
            or single.get("errors")
            or speed < settings.concurrent_min_mb_per_s
        ):
            out[key] = {
                "skipped": f"one {mib} MiB {kind} ran at "
                + (f"{speed:.0f} MB/s" if speed else "no speed (failed)")
            }
            continue
        out[key] = _transfer(
            proc,
            kind,
            size,
            duration=0.0,
            max_requests=n,
            concurrency=n,
            timeout=settings.huge_timeout_s * 2,
            body=bytes(size) if kind == "upload" else b"",
        )
    return out


def _settled(read: Callable[[], int], seconds: float = 2.0) -> int:
    """The value ``read`` gives once the server is idle: the minimum over a short wait."""
    values = [read()]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        values.append(read())
    return min(values)


def _leak_check(proc: Proc, settings: ServerSettings) -> dict[str, Any]:
    """RSS and threads before and after ``leak_requests`` small requests."""
    rss_before = _settled(proc.rss_bytes)
    threads_before = _settled(proc.thread_count)
    result = own_load(
        proc.port,
        "GET",
        "/small",
        concurrency=16,
        duration=settings.leak_timeout_s,
        max_requests=settings.leak_requests,
        timeout=10,
        expect_body=b"Hello, world!",
    )
    return {
        "requests": result.requests,
        "errors": result.errors,
        "rss_growth": _settled(proc.rss_bytes) - rss_before,
        "threads_before": threads_before,
        "threads_after": _settled(proc.thread_count, seconds=12.0),
    }


def _last_error(proc: Proc) -> str:
    """The last exception line of the server log (what a table cell can show)."""
    lines = proc.log_tail(200).splitlines()
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception|Exit)\b.*", line):
            return "server log: " + line.strip()
    return "server log tail: " + " / ".join(lines[-3:])


def _median_metrics(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric leaf over the rounds (the shape of one run is kept)."""
    merged: dict[str, Any] = {}
    keys = dict.fromkeys(key for run in runs for key in run)  # ordered union
    for key in keys:
        values = [run[key] for run in runs if key in run]
        numbers = [
            v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if all(isinstance(v, dict) for v in values):
            merged[key] = _median_metrics(values)
        elif numbers:
            merged[key] = statistics.median(numbers)
        else:
            merged[key] = next((v for v in values if v is not None), None)
    return merged


def _run_stack(
    stack: ServerStack,
    settings: ServerSettings,
    only: frozenset[str] | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    direction = stack.direction
    argv = stack.argv(settings)
    out: dict[str, Any] = {
        "direction": direction,
        "server": stack.module,
        "label": stack.label,
        "command": " ".join(argv[1:]),
    }
    small_only = not stack.primary and settings.secondary_small_only
    picked = settings.secondary_adapters if not stack.primary else ()
    if stack.adapters:
        small_only, picked = True, stack.adapters
    if not stack.primary:
        scope = "GET /small only" if small_only else "no large bodies, no leak check"
        if stack.app == "framework":
            inner = "Flask" if direction == "w2a" else "FastAPI"
            scope += f"; the adapters wrap a {inner} app, the ceiling is the plain app"
        if picked:
            scope += "; adapters: " + ", ".join(picked) + " and the ceiling"
        out["scope"] = scope
    if importlib.util.find_spec(stack.module) is None:
        log(f"  {stack.key} server skipped: {stack.module} is not installed")
        return {**out, "error": f"{stack.module} is not installed", "results": []}
    specs: list[AdapterSpec] = []
    rows: dict[str, dict[str, Any]] = {}
    for spec in registry(direction):
        if only is not None and spec.name not in only:
            continue
        if picked and spec.role != "ceiling" and spec.name not in picked:
            continue
        # Check in this process first: same virtualenv, so the same answer, and much cheaper.
        built = build(spec)
        if not isinstance(built, Built):
            rows[spec.name] = {
                "adapter": spec.name,
                "role": spec.role,
                "error": "unavailable: " + built.reason,
            }
            continue
        specs.append(spec)
        rows[spec.name] = {"adapter": spec.name, "role": spec.role, "runs": []}

    for round_no in range(settings.rounds):
        shift = round_no % max(1, len(specs))
        for spec in specs[shift:] + specs[:shift]:
            row = rows[spec.name]
            if "error" in row:
                continue
            env = {
                **_base_env(),
                "SGIBRIDGE_BENCH_DIRECTION": direction,
                "SGIBRIDGE_BENCH_ADAPTER": spec.name,
                "SGIBRIDGE_BENCH_APP": stack.app,
            }
            started = time.monotonic()
            try:
                with running(argv, env=env, cwd=str(REPO_ROOT)) as proc:
                    # The large bodies and the leak check run once, in the first round.
                    run = _measure_one(
                        proc,
                        settings,
                        huge=stack.primary and round_no == 0,
                        small_only=small_only,
                        # The fixed rows answer issue 14's goals, set at 16 and 64.
                        levels=(16, 64) if stack.adapters else SMALL_CONCURRENCY,
                    )
                    row["runs"].append(run)
            except Exception as exc:  # one adapter's failure is a result, not a crash
                row["error"] = str(exc) if isinstance(exc, RuntimeError) else repr(exc)
                log(f"  {stack.key} server {spec.name:<10} FAILED {str(exc)[:300]}")
                continue
            log(
                f"  {stack.key} server {spec.name:<10} round {round_no + 1}/{settings.rounds} "
                f"{time.monotonic() - started:.1f} s"
            )

    results = []
    for row in rows.values():
        runs = row.pop("runs", [])
        if runs and "error" not in row:
            row["metrics"] = _median_metrics(runs)
            row["rounds"] = len(runs)
        results.append(row)
    return {**out, "results": results}


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def run_servers(
    settings: ServerSettings,
    *,
    only: frozenset[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the real-server benchmarks for every stack; return a JSON-ready dict.

    Each stack's results sit under its key (``"w2a"``, ``"w2a-hypercorn"``, ...), in run order.
    """
    started = time.monotonic()
    out: dict[str, Any] = {"settings": asdict(settings), "stacks": describe_servers()}
    for stack in STACKS:
        if stack.adapters and not settings.fixed_stacks:
            continue
        out[stack.key] = _run_stack(stack, settings, only, log)
    out["seconds"] = round(time.monotonic() - started, 1)
    return out
