"""A minimal HTTP/1.1 client on raw sockets, to 127.0.0.1 only.

A real client library would hide what these tests need to control: leaving
in the middle of an upload or a download, and reading exactly the bytes the
server sent, so that a response can be checked byte for byte. Every socket
operation has a timeout.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

HOST = "127.0.0.1"
TIMEOUT = 30.0


class IncompleteResponse(Exception):
    """The server closed the connection before the response ended (an abort)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive connection."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self.closed = False

    def send_head(
        self,
        method: str,
        target: str,
        *,
        length: int | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{k}: {v}" for k, v in headers or ()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        send_length = len(body) if body or method in ("POST", "PUT") else None
        self.send_head(method, target, length=send_length, headers=headers)
        if body:
            self.sock.sendall(body)
        return self.read_response()

    # -- reading ---------------------------------------------------------

    def _fill(self) -> None:
        data = self.sock.recv(256 * 1024)
        if not data:
            raise IncompleteResponse(
                f"connection closed with {len(self._buf)} bytes unread"
            )
        self._buf += data

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buf.find(marker)) < 0:
            self._fill()
        data, self._buf = self._buf[:end], self._buf[end + len(marker) :]
        return data

    def _read_exact(self, size: int) -> bytes:
        parts = []
        have = 0
        if self._buf:
            take = self._buf[:size]
            self._buf = self._buf[size:]
            parts.append(take)
            have = len(take)
        while have < size:
            data = self.sock.recv(min(size - have, 1024 * 1024))
            if not data:
                raise IncompleteResponse(f"body ended after {have} of {size} bytes")
            parts.append(data)
            have += len(data)
        return b"".join(parts)

    def read_head(self) -> tuple[int, dict[str, str]]:
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def read_response(self) -> Response:
        status, headers = self.read_head()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:  # until the server closes
            parts = [self._buf]
            self._buf = b""
            while data := self.sock.recv(256 * 1024):
                parts.append(data)
            body = b"".join(parts)
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)

    def read_some(self, size: int) -> bytes:
        """Read at least one and at most ``size`` bytes (after the head)."""
        if not self._buf:
            self._fill()
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def abort(self) -> None:
        """Leave abruptly: close with a TCP reset, as a killed client does."""
        if not self.closed:
            self.sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()
