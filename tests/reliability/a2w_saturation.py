"""ASGIToWSGI under saturation: clients that never read, uploads that trickle.

Issue 13 §3 asks, for each way of pinning every thread of a WSGI server,
whether a fresh request is still answered, and in what time. This module is
three things:

- The app the servers run (``reliability.a2w_saturation:app``): a Starlette
  app through :class:`~sgibridge.ASGIToWSGI`, with ``/ok``, ``/big?mib=N`` (a
  ``StreamingResponse`` of N MiB in 64 KiB chunks, with a Content-Length),
  ``POST /upload`` (``await request.body()``, answers its length) and
  ``/stats`` (:meth:`ASGIToWSGI.stats` as JSON, from a WSGI route in front).
  Environment variables configure it: ``A2W_SAT_BACKEND`` (the adapter's
  ``backend``, ``asyncio`` by default), ``A2W_SAT_REQUEST_TIMEOUT``
  (seconds, the adapter's ``request_timeout``; off when unset) and
  ``A2W_SAT_SOCKET_TIMEOUT`` (seconds: a WSGI middleware in front sets this
  timeout on ``environ["gunicorn.socket"]``, so that Gunicorn's blocking
  writes and reads of that request give up after that long without
  progress; measured in docs/behaviour.md, A2W-TIME-02).
- The helpers the tests in ``test_a2w_saturation.py`` use: :func:`pin` opens
  the clients that pin the threads, :func:`fresh_request` times one new
  request with a bounded wait.
- A measurement, run as ``python -m reliability.a2w_saturation`` from
  ``tests/`` (``--help``): every scenario on every server configuration of
  :data:`CONFIGS`, printed as a Markdown table. The numbers in the README
  and in docs/behaviour.md (A2W-TIME-02, A2W-TIME-03) come from it.

The WSGI servers start and stop only through ``tests/integration/servers.py``.
The measurement's nginx rows (nginx in front, with its default buffering)
need ``nginx`` installed; :func:`nginx_in_front` runs it. The tests do not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from servers import APPS_ROOT, Server, ServerKind, free_port, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from sgibridge import ASGIToWSGI

from . import rawhttp

if TYPE_CHECKING:
    from sgibridge._types import Environ, StartResponse

__all__ = (
    "CONFIGS",
    "Config",
    "Pinned",
    "app",
    "fresh_request",
    "measure",
    "pin",
)

#: The app's module, as the servers import it (``tests/`` on ``PYTHONPATH``).
TARGET = "reliability.a2w_saturation:app"
#: ``tests/``: the directory that makes ``reliability`` importable.
TESTS_ROOT = Path(__file__).resolve().parent.parent

MIB = 1 << 20
BLOCK = b"b" * (64 * 1024)
#: The declared length of a trickling upload.
UPLOAD_LENGTH = MIB
#: Seconds between two bytes of a trickling upload.
TRICKLE_INTERVAL = 1.0
#: A non-reading client's receive buffer: small, as on a client that stopped
#: reading, so the kernel cannot absorb the response in its stead.
NON_READER_RCVBUF = 4096

Scenario = Literal["non-reading", "trickling"]
SCENARIOS: tuple[Scenario, ...] = ("non-reading", "trickling")
#: How many clients each scenario opens (issue 13 §3): more than Gunicorn
#: gthread's ten threads, Waitress's four, or one sync worker, can run.
PINNED: dict[Scenario, int] = {"non-reading": 12, "trickling": 11}


# --- the app ----------------------------------------------------------------


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _big(request: Request) -> Response:
    size = int(request.query_params.get("mib", "32")) * MIB

    async def blocks() -> AsyncIterator[bytes]:
        for _ in range(size // len(BLOCK)):
            yield BLOCK

    return StreamingResponse(
        blocks(),
        media_type="application/octet-stream",
        headers={"content-length": str(size)},
    )


async def _upload(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(str(len(body)))


starlette_app = Starlette(
    routes=[
        Route("/ok", _ok),
        Route("/big", _big),
        Route("/upload", _upload, methods=["POST"]),
    ]
)


def _seconds(name: str) -> float | None:
    value = os.environ.get(name, "")
    return float(value) if value else None


_backend = os.environ.get("A2W_SAT_BACKEND", "asyncio")
if _backend not in ("asyncio", "trio"):
    raise ValueError(f"A2W_SAT_BACKEND must be asyncio or trio, got {_backend!r}")
adapter = ASGIToWSGI(
    starlette_app,
    lifespan="off",
    request_timeout=_seconds("A2W_SAT_REQUEST_TIMEOUT"),
    backend="trio" if _backend == "trio" else "asyncio",
)
_socket_timeout = _seconds("A2W_SAT_SOCKET_TIMEOUT")


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The adapter, with ``/stats`` and the optional socket timeout in front."""
    if environ.get("PATH_INFO") == "/stats":
        body = json.dumps(adapter.stats()).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
    sock = environ.get("gunicorn.socket")
    if _socket_timeout is not None and isinstance(sock, socket.socket):
        sock.settimeout(_socket_timeout)
    return adapter(environ, start_response)


# --- the clients ------------------------------------------------------------


@dataclass
class Pinned:
    """The clients that pin a server's threads; :meth:`close` aborts them all."""

    scenario: Scenario
    conns: list[rawhttp.Connection]
    _stop: threading.Event = field(default_factory=threading.Event)
    _trickler: threading.Thread | None = None

    def _trickle(self) -> None:
        sent = 0
        while sent < UPLOAD_LENGTH - 1 and not self._stop.wait(TRICKLE_INTERVAL):
            for conn in self.conns:
                with contextlib.suppress(OSError):  # the server closed it
                    conn.sock.sendall(b"t")
            sent += 1

    def start(self) -> None:
        if self.scenario == "trickling":
            self._trickler = threading.Thread(
                target=self._trickle, name="a2w-saturation-trickler", daemon=True
            )
            self._trickler.start()

    def close(self) -> None:
        self._stop.set()
        if self._trickler is not None:
            self._trickler.join(timeout=10)
            assert not self._trickler.is_alive(), "the trickling thread did not stop"
        for conn in self.conns:
            conn.abort()


@contextlib.contextmanager
def pin(
    port: int, scenario: Scenario, count: int, *, mib: int = 32, settle: float = 1.0
) -> Iterator[Pinned]:
    """Open ``count`` clients of ``scenario`` to ``port``; abort them on exit.

    ``non-reading``: ``GET /big?mib=<mib>``, then nothing is read.
    ``trickling``: ``POST /upload`` with a Content-Length of 1 MiB, then one
    byte per second on every connection, until the block ends.
    ``settle`` seconds are left for the server to take the requests in (so
    that the fresh request comes after them); no result depends on it.
    """
    pinned = Pinned(scenario, [])
    try:
        for _ in range(count):
            conn = rawhttp.Connection(port)
            pinned.conns.append(conn)
            if scenario == "non-reading":
                conn.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, NON_READER_RCVBUF
                )
                conn.send_head("GET", f"/big?mib={mib}")
            else:
                conn.send_head("POST", "/upload", length=UPLOAD_LENGTH)
                conn.sock.sendall(b"t")
        pinned.start()
        time.sleep(settle)
        yield pinned
    finally:
        pinned.close()


def fresh_request(port: int, wait: float) -> float | None:
    """Seconds until a new ``GET /ok`` is answered 200 ``ok``; ``None`` when it
    is not answered within ``wait`` seconds (or the server closed it)."""
    began = time.monotonic()
    try:
        conn = rawhttp.Connection(port, timeout=wait)
    except OSError:
        return None
    try:
        response = conn.request("GET", "/ok")
    except (OSError, rawhttp.IncompleteResponse):  # TimeoutError is an OSError
        return None
    finally:
        conn.close()
    assert (response.status, response.body) == (200, b"ok"), response
    return time.monotonic() - began


def stats(port: int, wait: float = 30.0) -> dict[str, Any]:
    """:meth:`ASGIToWSGI.stats` of the server's process, as JSON."""
    conn = rawhttp.Connection(port, timeout=wait)
    try:
        data: dict[str, Any] = json.loads(conn.request("GET", "/stats").body)
    finally:
        conn.close()
    return data


# --- the configurations -----------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One server configuration, with the app's own settings.

    :ivar threads: how many requests the server runs at once (every
        configuration here runs fewer than :data:`PINNED` asks for).
    """

    name: str
    server: ServerKind
    threads: int
    worker_class: str | None = None
    extra_args: tuple[str, ...] = ()
    request_timeout: float | None = None
    socket_timeout: float | None = None
    #: nginx, with its default buffering, in front of the server.
    nginx: bool = False
    #: The adapter's event loop.
    backend: Literal["asyncio", "trio"] = "asyncio"

    @contextlib.contextmanager
    def serve(self) -> Iterator[Server]:
        paths = [str(APPS_ROOT), str(TESTS_ROOT)]
        if os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        env = {"PYTHONPATH": os.pathsep.join(paths), "A2W_SAT_BACKEND": self.backend}
        if self.request_timeout is not None:
            env["A2W_SAT_REQUEST_TIMEOUT"] = str(self.request_timeout)
        if self.socket_timeout is not None:
            env["A2W_SAT_SOCKET_TIMEOUT"] = str(self.socket_timeout)
        gunicorn = self.server == "gunicorn"
        with serve(
            self.server,
            TARGET,
            worker_class=self.worker_class,
            threads=self.threads
            if gunicorn and self.worker_class == "gthread"
            else None,
            extra_args=self.extra_args,
            env=env,
            stop_signal=signal_for(self.server),
        ) as running:
            yield running


_NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    client_max_body_size 8m;
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_in_front(upstream: int, startup_timeout: float = 10.0) -> Iterator[int]:
    """Run nginx, with its default request and response buffering, as a proxy
    to ``upstream``; yield its port. For the measurement only: the tests do
    not need nginx installed. Stopped by its PID (SIGTERM, then SIGKILL to its
    process group)."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(exe, os.X_OK):
        raise RuntimeError("nginx is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sgibridge-nginx-") as root:
        conf = Path(root, "nginx.conf")
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(
            _NGINX_CONF.format(user=user, root=root, port=port, upstream=upstream)
        )
        proc = subprocess.Popen(
            [exe, "-p", root, "-c", str(conf), "-e", f"{root}/error.log"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    log = Path(root, "error.log")
                    text = log.read_text() if log.exists() else ""
                    raise RuntimeError(f"nginx exited at startup:\n{text}")
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"nginx did not listen within {startup_timeout} s"
                    )
                time.sleep(0.05)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def signal_for(server: ServerKind) -> signal.Signals:
    # Waitress stops cleanly on SIGINT only (see servers.serve).
    return signal.SIGINT if server == "waitress" else signal.SIGTERM


def gthread(name: str = "gunicorn gthread 1x10", **options: Any) -> Config:
    """Gunicorn ``gthread``: one worker, ten threads."""
    return Config(name, "gunicorn", 10, worker_class="gthread", **options)


def sync(name: str = "gunicorn sync 1 worker", **options: Any) -> Config:
    """Gunicorn ``sync``: one worker, one request at a time."""
    return Config(name, "gunicorn", 1, worker_class="sync", **options)


def waitress(name: str = "waitress threads=4 (default)", **options: Any) -> Config:
    """Waitress; its default is four threads, so "threads=4" and "the
    default" are one configuration."""
    return Config(name, "waitress", 4, **options)


#: Before: the servers' defaults, request_timeout off. After: request_timeout
#: on, then each server setting that might free a thread, then nginx in front.
CONFIGS: tuple[Config, ...] = (
    gthread(),
    sync(),
    waitress(),
    gthread("gunicorn gthread + request_timeout=2", request_timeout=2),
    sync("gunicorn sync + request_timeout=2", request_timeout=2),
    waitress("waitress + request_timeout=2", request_timeout=2),
    sync("gunicorn sync --timeout 2", extra_args=("--timeout", "2")),
    gthread("gunicorn gthread + gunicorn.socket timeout 2 s", socket_timeout=2),
    sync("gunicorn sync + gunicorn.socket timeout 2 s", socket_timeout=2),
    waitress(
        "waitress --outbuf-high-watermark above the response",
        extra_args=("--outbuf-high-watermark=1073741824",),
    ),
    gthread("nginx -> gunicorn gthread 1x10", nginx=True),
    sync("nginx -> gunicorn sync 1 worker", nginx=True),
)


@dataclass
class Result:
    config: str
    scenario: Scenario
    pinned: int
    seconds: float | None
    note: str = ""


def measure(config: Config, scenario: Scenario, *, wait: float, mib: int) -> Result:
    """Pin every thread of ``config`` with ``scenario``, then time a fresh request."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(config.serve())
        port = server.port
        if config.nginx:
            port = stack.enter_context(nginx_in_front(server.port))
        count = PINNED[scenario]
        with pin(port, scenario, count, mib=mib):
            took = fresh_request(port, wait)
            note = ""
            if took is not None:
                with contextlib.suppress(OSError, rawhttp.IncompleteResponse):
                    now = stats(port, wait)
                    note = f"in flight {now['in_flight']}, timeouts {now['timeouts']}"
        return Result(config.name, scenario, count, took, note)


def _row(result: Result, wait: float) -> str:
    answered = (
        f"yes, {result.seconds:.2f} s"
        if result.seconds is not None
        else f"no (not within {wait:g} s)"
    )
    return (
        f"| {result.config} | {result.scenario} ({result.pinned}) | {answered} "
        f"| {result.note} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reliability.a2w_saturation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--wait", type=float, default=15.0, help="seconds (15)")
    parser.add_argument("--mib", type=int, default=100, help="download size (100)")
    parser.add_argument(
        "--only", action="append", default=[], help="configs whose name contains this"
    )
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    args = parser.parse_args(argv)
    print("| configuration | scenario (clients) | fresh request answered | stats |")
    print("|---|---|---|---|")
    for config in CONFIGS:
        if args.only and not any(part in config.name for part in args.only):
            continue
        for scenario in args.scenario or SCENARIOS:
            result = measure(config, scenario, wait=args.wait, mib=args.mib)
            print(_row(result, args.wait), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
