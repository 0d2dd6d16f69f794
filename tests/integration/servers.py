"""Real servers on 127.0.0.1 for the integration tests.

Theory of operation
-------------------
``serve()`` starts ``sys.executable -m <server> ...`` as a child process in its own session (so it
leads its own process group), bound to ``127.0.0.1`` on a free port, serving a ``module:attr``
target.  The test apps live in ``tests/integration/apps/``; ``tests/integration`` is put first on
the child's ``PYTHONPATH``, so a target such as ``apps.bare:wsgi_app`` imports without installing
anything.  sgibridge itself comes from the virtualenv (an editable install of ``src/``).

Readiness is "the port accepts a TCP connection and the process is alive", polled with a deadline.
Gunicorn's arbiter binds before its workers boot, so an early request waits in the listen backlog
rather than failing.  The child's stdout and stderr go to one temporary *file*, never a pipe, so a
chatty server can never block on a full pipe; ``Server.log()`` reads it back, and every startup
failure raises with the tail of that log.

Shutdown sends SIGTERM (or ``stop_signal``) to the server (its process-group leader), waits up to
``stop_timeout`` seconds, then SIGKILLs the whole process group, and finally checks that no process
of the group is left: a leaked worker fails the test that started it.  The log stays readable
through ``Server.log()`` after the block, so shutdown output can be checked.

Memory and thread counts are read from ``/proc`` for the whole process tree (the server and all
its descendants, so gunicorn's and hypercorn's workers are included).

This module has no ``__init__.py`` beside it on purpose: pytest's default ``prepend`` import mode
puts ``tests/integration`` on ``sys.path`` for the test files here, so they ``import servers``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

__all__ = (
    "APPS_ROOT",
    "Server",
    "ServerKind",
    "ServerStartError",
    "free_port",
    "pid_alive",
    "process_tree",
    "serve",
)

ServerKind = Literal["uvicorn", "hypercorn", "gunicorn", "waitress"]

#: The directory put first on the child's ``PYTHONPATH``: ``apps.<module>:<attr>`` resolves here.
APPS_ROOT = Path(__file__).resolve().parent

_HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05
_PORT_RETRIES = 3
_ADDRESS_IN_USE = ("address already in use", "errno 98", "[errno 48]")


class ServerStartError(RuntimeError):
    """Raised when a server process exits or never accepts a connection before its deadline."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- /proc helpers -----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None when the pid is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return raw[raw.rfind(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """Return whether ``pid`` is a running process; a zombie counts as gone.

    Orphaned children are re-parented to pid 1, which in a container may never reap them, so
    ``os.kill(pid, 0)`` alone would report a dead, un-reaped process as alive.
    """
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def process_tree(root: int) -> list[int]:
    """Return ``root`` and all its live descendants (zombies excluded), parents first."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is None or fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(pid)
    if _stat_fields(root) is None:
        return []
    tree = [root]
    for pid in tree:  # grows while iterating: a breadth-first walk
        tree.extend(children.get(pid, ()))
    return tree


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(pid)
    return members


def _status_value(pid: int, key: str) -> int:
    """An integer field of ``/proc/<pid>/status`` (``VmRSS`` in bytes), 0 when unavailable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            parts = line.split()
            value = int(parts[1])
            return value * 1024 if len(parts) > 2 and parts[2] == "kB" else value
    return 0


# --- the server handle -------------------------------------------------------------------------


@dataclass
class Server:
    """A running server started by :func:`serve`.

    :ivar kind: which server program runs.
    :ivar pid: the server's process id (the process-group leader: gunicorn's arbiter, ...).
    :ivar port: the TCP port on 127.0.0.1.
    :ivar base_url: ``http://127.0.0.1:<port>``, without a trailing slash.
    :ivar argv: the full command line used to start it.
    """

    kind: ServerKind
    pid: int
    port: int
    base_url: str
    argv: list[str]
    log_path: Path
    _proc: subprocess.Popen[bytes] = field(repr=False)
    _final_log: str | None = field(default=None, repr=False)

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def is_alive(self) -> bool:
        """Return whether the server process is still running."""
        return self._proc.poll() is None

    def pids(self) -> list[int]:
        """Return the server's pid and its live descendants' (e.g. gunicorn workers)."""
        return process_tree(self.pid)

    def rss_bytes(self) -> int:
        """Return the summed resident set size (VmRSS) of the server's process tree, in bytes."""
        return sum(_status_value(pid, "VmRSS") for pid in self.pids())

    def thread_count(self) -> int:
        """Return the summed thread count of the server's process tree."""
        return sum(_status_value(pid, "Threads") for pid in self.pids())

    def log(self) -> str:
        """Return everything the server wrote to stdout and stderr so far.

        After the ``serve()`` block has ended, this is the whole log, kept from the moment the
        server stopped (so shutdown output can be checked after the log file is deleted).
        """
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of :meth:`log`."""
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """Wait until ``text`` appears in the log; return the log.

        :raises TimeoutError: when it does not appear within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if text in log:
                return log
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{text!r} did not appear in the {self.kind} log within {timeout} s; "
                    f"log tail:\n{self.log_tail()}"
                )
            time.sleep(_POLL_INTERVAL)


# --- command lines -----------------------------------------------------------------------------


def _gunicorn_has_control_socket() -> bool:
    """Gunicorn 25 added a control socket at a fixed default path: parallel servers would clash."""
    try:
        major = int(metadata.version("gunicorn").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 25


def _argv(
    server: ServerKind,
    target: str,
    port: int,
    *,
    worker_class: str | None,
    threads: int | None,
    workers: int,
    preload: bool,
    extra_args: Sequence[str],
) -> list[str]:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")
    if server != "gunicorn" and (worker_class is not None or preload):
        raise ValueError(
            f"worker_class and preload apply to gunicorn only, not {server!r}"
        )
    if server in ("uvicorn", "hypercorn") and threads is not None:
        raise ValueError(f"threads applies to gunicorn and waitress, not {server!r}")
    if server == "waitress" and workers != 1:
        raise ValueError(f"waitress runs a single process; got workers={workers!r}")

    argv = [sys.executable, "-m", server]
    bind = f"{_HOST}:{port}"
    if server == "uvicorn":
        argv += [
            target,
            "--host",
            _HOST,
            "--port",
            str(port),
            "--timeout-graceful-shutdown",
            "5",
        ]
        if workers > 1:
            argv += ["--workers", str(workers)]
    elif server == "hypercorn":
        argv += [
            target,
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--graceful-timeout",
            "5",
        ]
    elif server == "gunicorn":
        argv += [
            target,
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--graceful-timeout",
            "5",
        ]
        if worker_class is not None:
            argv += ["--worker-class", worker_class]
        if threads is not None:
            argv += ["--threads", str(threads)]
        if preload:
            argv.append("--preload")
        if _gunicorn_has_control_socket():
            argv.append("--no-control-socket")
    elif server == "waitress":
        argv.append(f"--listen={bind}")
        if threads is not None:
            argv.append(f"--threads={threads}")
        # waitress-serve takes the target last, after all options.
        return [*argv, *extra_args, target]
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unknown server {server!r}")
    return [*argv, *extra_args]


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    child = dict(os.environ)
    paths = [str(APPS_ROOT)]
    if child.get("PYTHONPATH"):
        paths.append(child["PYTHONPATH"])
    child["PYTHONPATH"] = os.pathsep.join(paths)
    child["PYTHONUNBUFFERED"] = "1"
    child.pop("XDG_RUNTIME_DIR", None)  # keep servers from sharing runtime sockets
    if env:
        child.update(env)
    return child


# --- start and stop ----------------------------------------------------------------------------


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(
    proc: subprocess.Popen[bytes],
    stop_timeout: float,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> list[int]:
    """Stop the server's whole process group; return the pids still alive afterwards (none)."""
    pgid = proc.pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, stop_signal)
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            pass
    # Whatever is left of the group (the server itself after the timeout, or an orphaned worker)
    # is killed outright.
    if _group_members(pgid) or proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    left = _group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL)
        left = _group_members(pgid)
    return left


def _start(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    log_path: Path,
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # own process group: stopped as a unit, never leaked
        )


def _wait_ready(proc: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    """Poll until the port accepts and the process is alive; False if the process died."""
    while True:
        if proc.poll() is not None:
            return False
        if _accepts(port) and proc.poll() is None:
            return True
        if time.monotonic() >= deadline:
            raise TimeoutError
        time.sleep(_POLL_INTERVAL)


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_bytes().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def serve(
    server: ServerKind,
    target: str,
    *,
    worker_class: str | None = None,
    threads: int | None = None,
    workers: int = 1,
    preload: bool = False,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    startup_timeout: float = 20,
    stop_timeout: float = 10,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Iterator[Server]:
    """Run ``target`` (``module:attr``) on a real server bound to 127.0.0.1 for the block's duration.

    :param server: ``"uvicorn"`` or ``"hypercorn"`` for ASGI targets, ``"gunicorn"`` or
        ``"waitress"`` for WSGI targets.
    :param target: ``module:attr``; modules under ``tests/integration/apps`` import as
        ``apps.<name>``.
    :param worker_class: gunicorn ``-k`` (``sync``, ``gthread``, ...).
    :param threads: gunicorn ``--threads`` or waitress ``--threads``.
    :param workers: worker processes (uvicorn ``--workers``, hypercorn and gunicorn ``-w``).
    :param preload: gunicorn ``--preload``.
    :param extra_args: appended to the command line as-is (e.g. ``["--lifespan", "on"]``).
    :param env: extra environment variables for the server, on top of ``os.environ``.
    :param cwd: the server's working directory; ``tests/integration`` by default.
    :param startup_timeout: seconds to wait for the port to accept connections.
    :param stop_timeout: seconds between ``stop_signal`` and SIGKILL on exit.
    :param stop_signal: the signal that asks the server to stop on exit. waitress has no SIGTERM
        handler (the process dies without running ``atexit`` hooks); it stops cleanly on SIGINT.
    :raises ServerStartError: when the server exits or does not accept connections in time; the
        message ends with the tail of the server's log.
    :raises AssertionError: on exit, when a process of the server's group survived SIGKILL.
    """
    child_env = _child_env(env)
    workdir = cwd if cwd is not None else str(APPS_ROOT)
    log_dir = Path(tempfile.mkdtemp(prefix=f"sgibridge-{server}-"))
    try:
        for attempt in range(_PORT_RETRIES):
            port = free_port()
            argv = _argv(
                server,
                target,
                port,
                worker_class=worker_class,
                threads=threads,
                workers=workers,
                preload=preload,
                extra_args=extra_args,
            )
            log_path = log_dir / f"attempt{attempt}.log"
            proc = _start(argv, env=child_env, cwd=workdir, log_path=log_path)
            try:
                ready = _wait_ready(proc, port, time.monotonic() + startup_timeout)
            except TimeoutError:
                _stop(proc, stop_timeout)
                raise ServerStartError(
                    f"{server} did not accept connections on port {port} within "
                    f"{startup_timeout} s: {' '.join(argv)}\n--- log tail ---\n{_tail(log_path)}"
                ) from None
            except BaseException:
                _stop(proc, stop_timeout)
                raise
            if ready:
                break
            _stop(proc, stop_timeout)
            tail = _tail(log_path)
            # Another process took the port between free_port() and the bind: try another.
            if attempt + 1 < _PORT_RETRIES and any(
                s in tail.lower() for s in _ADDRESS_IN_USE
            ):
                continue
            raise ServerStartError(
                f"{server} exited with code {proc.returncode} before accepting connections: "
                f"{' '.join(argv)}\n--- log tail ---\n{tail}"
            )

        handle = Server(
            kind=server,
            pid=proc.pid,
            port=port,
            base_url=f"http://{_HOST}:{port}",
            argv=argv,
            log_path=log_path,
            _proc=proc,
        )
        try:
            yield handle
        finally:
            left = _stop(proc, stop_timeout, stop_signal)
            handle._final_log = handle.log()
            assert not left, f"{server} left processes behind after SIGKILL: {left}"
    finally:
        with contextlib.suppress(OSError):
            for path in log_dir.iterdir():
                path.unlink()
            log_dir.rmdir()
