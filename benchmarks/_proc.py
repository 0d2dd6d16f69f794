"""Start and stop a server process for the benchmarks; read its memory from ``/proc``.

A trimmed copy of ``tests/integration/servers.py`` (the benchmarks never import the tests): the
server runs in its own session on 127.0.0.1 and a free port, its output goes to a temporary file
(never a pipe), readiness is "the port accepts and the process is alive" under a deadline, and
stopping is SIGTERM to the leader, a bounded wait, then SIGKILL to the whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ("HOST", "Proc", "ProcStartError", "free_port", "running")

HOST = "127.0.0.1"
_POLL = 0.05
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class ProcStartError(RuntimeError):
    """Raised when a server exits or does not accept connections before its deadline."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _live() -> list[tuple[int, list[str]]]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if (
                fields is not None and fields[0] != "Z"
            ):  # zombies are gone, just not reaped
                out.append((int(name), fields))
    return out


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, fields in _live():
        children.setdefault(int(fields[1]), []).append(pid)
    tree = [root]
    for pid in tree:
        tree.extend(children.get(pid, ()))
    return tree


def _group(pgid: int) -> list[int]:
    return [pid for pid, fields in _live() if int(fields[2]) == pgid]


def _status_field(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` (all its threads) and of its children it has reaped."""
    fields = _stat(pid)
    if fields is None:
        return 0
    # /proc/PID/stat fields 14-17, counted here from field 3 (the state).
    return sum(int(f) for f in fields[11:15])


def _rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Proc:
    """A running server."""

    pid: int
    port: int
    argv: list[str]
    log_path: Path

    def rss_bytes(self) -> int:
        """Summed VmRSS of the server and all its descendants (gunicorn workers included)."""
        return sum(_rss(pid) for pid in _tree(self.pid))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server and all its descendants used so far.

        Multi-process servers (Gunicorn's worker, Granian's) are included; a child that
        exited counts once its parent reaped it. The resolution is one clock tick (10 ms).
        """
        return sum(_cpu_ticks(pid) for pid in _tree(self.pid)) / _CLK_TCK

    def thread_count(self) -> int:
        """Summed thread count of the server and all its descendants."""
        return sum(_status_field(pid, "Threads:") for pid in _tree(self.pid))

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote."""
        text = self.log_path.read_bytes().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> list[int]:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    if proc.poll() is None or _group(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    left = _group(proc.pid)
    while left and time.monotonic() < deadline:
        time.sleep(_POLL)
        left = _group(proc.pid)
    return left


@contextlib.contextmanager
def running(
    argv_for_port: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    startup_timeout: float = 20.0,
    stop_timeout: float = 10.0,
) -> Iterator[Proc]:
    """Run a server; ``argv_for_port`` may contain ``{port}``, replaced by a free port.

    :raises ProcStartError: with the log tail, when the server dies or never accepts.
    :raises RuntimeError: on exit, when a process of the server's group survived SIGKILL.
    """
    port = free_port()
    argv = [arg.replace("{port}", str(port)) for arg in argv_for_port]
    log_dir = Path(tempfile.mkdtemp(prefix="sgibridge-bench-"))
    log_path = log_dir / "server.log"
    try:
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        handle = Proc(proc.pid, port, argv, log_path)
        try:
            deadline = time.monotonic() + startup_timeout
            while not (_accepts(port) and proc.poll() is None):
                if proc.poll() is not None:
                    raise ProcStartError(
                        f"server exited with {proc.returncode}: {' '.join(argv)}\n"
                        f"{handle.log_tail()}"
                    )
                if time.monotonic() >= deadline:
                    raise ProcStartError(
                        f"server did not accept within {startup_timeout} s: {' '.join(argv)}\n"
                        f"{handle.log_tail()}"
                    )
                time.sleep(_POLL)
            yield handle
        finally:
            left = _stop(proc, stop_timeout)
            if left:
                raise RuntimeError(f"server processes survived SIGKILL: {left}")
    finally:
        with contextlib.suppress(OSError):
            log_path.unlink()
            log_dir.rmdir()
