"""Load generators for the real-server benchmarks: ``wrk`` when installed, else our own.

Both are bounded twice: by a duration and by a maximum request count, and each also has a hard
deadline (``duration + timeout``) after which whatever is in flight counts as an error.  All
traffic goes to 127.0.0.1.

Our own generator is single-threaded: one ``selectors`` loop drives ``concurrency`` keep-alive
HTTP/1.1 connections over raw non-blocking sockets, one request in flight per connection.  It
parses just enough HTTP/1.1 to find the end of each response (``Content-Length``, chunked, or
close-delimited), counts body bytes without keeping them, and records per-request latency.  It is
cheap enough for large bodies (``recv_into`` a reusable buffer) and is what measures MB/s for the
download and upload scenarios even when ``wrk`` is present (wrk needs Lua to send a large body).
"""

from __future__ import annotations

import contextlib
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ("LoadResult", "own_load", "wrk_load", "wrk_path")

_HOST = "127.0.0.1"
_RECV = 256 * 1024
_MAX_HEAD = 64 * 1024


@dataclass
class LoadResult:
    """What one bounded load run measured."""

    tool: str
    concurrency: int
    requests: int
    errors: int
    elapsed_s: float
    body_bytes_in: int
    body_bytes_out: int
    p50_ms: float | None
    p99_ms: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mb_in_per_s(self) -> float:
        return self.body_bytes_in / 1e6 / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mb_out_per_s(self) -> float:
        return self.body_bytes_out / 1e6 / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            rps=self.rps, mb_in_per_s=self.mb_in_per_s, mb_out_per_s=self.mb_out_per_s
        )
        return data


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


# --- our own generator --------------------------------------------------------------------------


class _ProtocolError(Exception):
    pass


class _Conn:
    """One keep-alive connection and the parse state of its current response."""

    def __init__(self, port: int, timeout: float, capture: int) -> None:
        self.capture = capture
        self.sock = socket.create_connection((_HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = memoryview(b"")
        self.started = 0.0
        self.reset()

    def reset(self) -> None:
        self.head = bytearray()
        self.mode = "head"  # head | length | chunk-size | chunk-data | chunk-crlf | trailer | close
        self.remaining = 0
        self.line = bytearray()
        self.status = 0
        self.keep_alive = True
        self.body = 0
        self.captured = bytearray()

    def start(self, payload: memoryview) -> None:
        self.reset()
        self.out = payload
        self.started = time.perf_counter()

    def _parse_head(self) -> memoryview:
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > _MAX_HEAD:
                raise _ProtocolError("response head too large")
            return memoryview(b"")
        lines = bytes(self.head[:end]).split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise _ProtocolError(f"bad status line {lines[0]!r}")
        self.status = int(parts[1])
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                self.keep_alive = False
        if parts[0] == b"HTTP/1.0" and not any(
            line.lower().startswith(b"connection: keep-alive") for line in lines[1:]
        ):
            self.keep_alive = False
        if chunked:
            self.mode = "chunk-size"
        elif length is not None:
            self.mode, self.remaining = "length", length
        else:
            self.mode, self.keep_alive = "close", False
        rest = memoryview(bytes(self.head[end + 4 :]))
        self.head = bytearray()
        return rest

    def _keep(self, data: memoryview) -> None:
        room = self.capture - len(self.captured)
        if room > 0:
            self.captured += data[:room]

    def feed(self, data: memoryview) -> bool:
        """Consume received bytes; return True when the response is complete."""
        while True:
            if self.mode == "head":
                self.head += data
                data = self._parse_head()
                if self.mode == "head":
                    return False
                if self.mode == "length" and self.remaining == 0:
                    return True
                continue
            if self.mode == "length":
                take = min(self.remaining, len(data))
                self._keep(data[:take])
                self.remaining -= take
                self.body += take
                return self.remaining == 0
            if self.mode == "close":
                self._keep(data)
                self.body += len(data)
                return False
            if self.mode == "chunk-data":
                take = min(self.remaining, len(data))
                self._keep(data[:take])
                self.remaining -= take
                self.body += take
                data = data[take:]
                if self.remaining:
                    return False
                self.mode, self.line = "chunk-crlf", bytearray()
                continue
            # Line-oriented states: chunk-size, chunk-crlf, trailer.
            if not data:
                return False
            newline = bytes(data).find(b"\n")
            if newline < 0:
                self.line += data
                if len(self.line) > _MAX_HEAD:
                    raise _ProtocolError("chunk line too long")
                return False
            self.line += data[: newline + 1]
            data = data[newline + 1 :]
            line = bytes(self.line).strip()
            self.line = bytearray()
            if self.mode == "chunk-size":
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.mode = "trailer"
                else:
                    self.mode, self.remaining = "chunk-data", size
            elif self.mode == "chunk-crlf":
                self.mode = "chunk-size"
            elif not line:  # the empty line after the trailers ends the message
                return True


def _payload(method: str, path: str, port: int, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {_HOST}:{port}\r\nUser-Agent: sgibridge-bench\r\n"
    if method != "GET" or body:
        head += (
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
        )
    return head.encode("latin-1") + b"\r\n" + body


def own_load(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    concurrency: int = 1,
    duration: float = 1.0,
    max_requests: int = 1_000_000,
    timeout: float = 30.0,
    expect_status: int = 200,
    expect_body: bytes | None = None,
) -> LoadResult:
    """Drive ``concurrency`` keep-alive connections for ``duration`` s or ``max_requests``.

    A response counts only with ``expect_status`` and, when given, exactly ``expect_body`` as
    its body (keep it small: it is what ``/upload`` and ``/small`` answer).  A request still in
    flight at ``duration + timeout`` counts as an error.
    """
    capture = -1 if expect_body is None else len(expect_body) + 1
    payload = memoryview(_payload(method, path, port, body))
    body_len = len(body)
    selector = selectors.DefaultSelector()
    scratch = bytearray(_RECV)
    view = memoryview(scratch)
    latencies: list[float] = []
    requests = errors = started = bytes_in = bytes_out = 0
    t0 = time.perf_counter()
    stop_at = t0 + duration
    hard_stop = stop_at + timeout
    max_errors = max(20, min(max_requests, 1000))

    def open_and_send() -> None:
        nonlocal started, errors
        try:
            conn = _Conn(port, timeout, capture)
        except OSError:
            errors += 1
            return
        started += 1
        conn.start(payload)
        selector.register(conn.sock, selectors.EVENT_WRITE, conn)

    def finish(conn: _Conn, ok: bool) -> None:
        nonlocal requests, errors, bytes_in, bytes_out, started
        now = time.perf_counter()
        if ok and expect_body is not None and conn.captured != expect_body:
            ok = False
        if ok and conn.status == expect_status:
            requests += 1
            latencies.append(now - conn.started)
            bytes_in += conn.body
            bytes_out += body_len
        else:
            errors += 1
        more = now < stop_at and started < max_requests and errors < max_errors
        if ok and conn.keep_alive and more:
            started += 1
            conn.start(payload)
            selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
            return
        selector.unregister(conn.sock)
        conn.sock.close()
        if more:
            open_and_send()

    for _ in range(min(concurrency, max_requests)):
        open_and_send()

    try:
        while selector.get_map():
            if time.perf_counter() >= hard_stop:
                break
            for key, events in selector.select(timeout=0.1):
                conn = key.data
                assert isinstance(conn, _Conn)
                try:
                    if events & selectors.EVENT_WRITE:
                        sent = conn.sock.send(conn.out[:_RECV])
                        conn.out = conn.out[sent:]
                        if not conn.out:
                            selector.modify(conn.sock, selectors.EVENT_READ, conn)
                        continue
                    n = conn.sock.recv_into(scratch)
                    if n == 0:
                        finish(conn, conn.mode == "close")
                        continue
                    if conn.feed(view[:n]):
                        finish(conn, True)
                except (BlockingIOError, InterruptedError):
                    continue
                except (OSError, _ProtocolError, ValueError):
                    finish(conn, False)
    finally:
        elapsed = time.perf_counter() - t0
        for key in list(selector.get_map().values()):
            errors += 1  # still in flight at the hard deadline
            selector.unregister(key.fileobj)
            if isinstance(key.data, _Conn):
                with contextlib.suppress(OSError):
                    key.data.sock.close()
        selector.close()

    latencies.sort()
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    return LoadResult(
        tool="builtin",
        concurrency=concurrency,
        requests=requests,
        errors=errors,
        elapsed_s=elapsed,
        body_bytes_in=bytes_in,
        body_bytes_out=bytes_out,
        p50_ms=None if p50 is None else p50 * 1e3,
        p99_ms=None if p99 is None else p99 * 1e3,
    )


# --- wrk ----------------------------------------------------------------------------------------

# Stops each wrk thread after its share of the request budget, so a run is bounded in count too.
# wrk still reports the whole duration as elapsed, so the cap is a safety bound, set well above
# what the server can do; a run that hits it has ``requests == max_requests`` and a low rate.
_WRK_SCRIPT = """
local done = 0
local limit = {limit}
response = function(status, headers, body)
  done = done + 1
  if done >= limit then wrk.thread:stop() end
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_path() -> str | None:
    """Return the path of ``wrk`` when it is installed."""
    return shutil.which("wrk")


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def wrk_load(
    port: int,
    path: str,
    *,
    concurrency: int = 1,
    duration: float = 1.0,
    max_requests: int = 1_000_000,
    timeout: float = 10.0,
) -> LoadResult:
    """Run ``wrk`` (GET, one thread) against ``path``; parse its summary.

    :raises RuntimeError: when wrk is missing, fails or prints nothing we can parse.
    """
    exe = wrk_path()
    if exe is None:
        raise RuntimeError("wrk is not installed")
    seconds = max(1, round(duration))
    with tempfile.TemporaryDirectory(prefix="sgibridge-wrk-") as tmp:
        script = Path(tmp) / "bounded.lua"
        script.write_text(_WRK_SCRIPT.format(limit=max(1, max_requests)))
        argv = [
            exe,
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            f"{max(1, round(timeout))}s",
            "-s",
            str(script),
            f"http://{_HOST}:{port}{path}",
        ]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=seconds + timeout + 10,
            check=False,
        )
    out = done.stdout
    summary = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    if done.returncode != 0 or summary is None:
        raise RuntimeError(
            f"wrk failed ({done.returncode}): {out[-500:]} {done.stderr[-500:]}"
        )
    requests = int(summary.group(1))
    elapsed = _ms(summary.group(2), summary.group(3)) / 1e3
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    percentiles = {
        q: _ms(v, u)
        for q, v, u in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE
        )
    }
    return LoadResult(
        tool="wrk",
        concurrency=concurrency,
        requests=requests - (int(non_2xx.group(1)) if non_2xx else 0),
        errors=errors,
        elapsed_s=elapsed,
        body_bytes_in=0,
        body_bytes_out=0,
        p50_ms=percentiles.get("50"),
        p99_ms=percentiles.get("99"),
    )
