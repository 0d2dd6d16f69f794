"""``wsgi.input``: :class:`InputStream`, the request body as a PEP 3333 input stream.

It reads from a :class:`~._body_loop_to_thread.LoopToThread` pipe, or from the
first body message alone. Part of the body-streaming buffer; its contract
(rule 4: reads of any shape are O(bytes)) is in :mod:`._body`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._body import fresh
from ._exceptions import SGIBridgeError

if TYPE_CHECKING:
    from ._body_loop_to_thread import LoopToThread

__all__ = ("BodyTooLarge", "InputStream")


class BodyTooLarge(SGIBridgeError):
    """Raised by ``wsgi.input`` when a request body exceeds ``max_body_size``."""


#: What ``read()`` to EOF waits for per wake-up: as much as the pipe holds
#: (take() caps it at the low watermark).
_READ_ALL = 1 << 62


def _joined(parts: list[bytes | memoryview]) -> bytes:
    if len(parts) == 1:
        part = parts[0]
        return part if type(part) is bytes else bytes(part)
    return b"".join(parts)


class InputStream:
    """``wsgi.input``: the request body as a PEP 3333 input stream.

    :param initial: the body of the first ``http.request`` message.
    :param source: the pipe that the rest of the body arrives through, or
        ``None`` when ``initial`` is the whole body.
    :param length: the valid ``CONTENT_LENGTH``; no byte past it is ever
        returned (W2A-IN-07).
    :param max_size: raise :class:`BodyTooLarge` once more than this many
        bytes arrived.
    """

    __slots__ = (
        "_buf",
        "_eof",
        "_error",
        "_max_size",
        "_pos",
        "_received",
        "_remaining",
        "_source",
    )

    def __init__(
        self,
        initial: bytes = b"",
        source: LoopToThread | None = None,
        *,
        length: int | None = None,
        max_size: int | None = None,
    ) -> None:
        self._source = source
        self._remaining = length
        self._max_size = max_size
        self._received = 0
        self._error: BaseException | None = None
        self._buf = b""
        self._pos = 0
        self._eof = False
        try:
            self._accept(initial)
        except BodyTooLarge:  # raised again by the first read
            pass
        if source is None:
            self._eof = True

    # -- filling ---------------------------------------------------------

    def _accept(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._max_size is not None and self._received > self._max_size:
            self._error = BodyTooLarge(
                f"the request body is larger than max_body_size={self._max_size!r} bytes"
            )
            raise self._error
        remaining = self._remaining
        if remaining is not None:
            if len(chunk) >= remaining:
                chunk = chunk[:remaining]
                self._eof = True
            self._remaining = remaining - len(chunk)
        self._buf = chunk
        self._pos = 0

    def _fill(self, need: int = 1) -> bool:
        """Load the next chunk once the current one is used up; False at EOF.

        ``need`` is how many bytes the caller will wait for anyway: the pipe
        wakes this thread once that many arrived, not for every chunk."""
        if self._error is not None:
            raise fresh(self._error)
        remaining = self._remaining
        if remaining is not None and need > remaining:
            need = remaining
        while not self._eof:
            assert self._source is not None
            try:
                chunk = self._source.take(need)
            except BaseException as exc:
                self._error = exc
                raise
            if not chunk:
                self._eof = True
                break
            self._accept(chunk)
            if self._buf:
                return True
        return False

    # -- PEP 3333 methods ------------------------------------------------

    def read(self, size: int | None = -1) -> bytes:
        """Read ``size`` bytes, or to EOF when ``size`` is ``None`` or
        negative (W2A-IN-03)."""
        # Pieces of chunks are memoryviews, so that a read spanning chunks
        # copies each byte once, in the join, and never slices first.
        parts: list[bytes | memoryview]
        if size is None or size < 0:
            buf, pos = self._buf, self._pos
            parts = [memoryview(buf)[pos:] if pos else buf] if pos < len(buf) else []
            self._buf, self._pos = b"", 0
            while self._fill(_READ_ALL):
                parts.append(self._buf)
                self._buf = b""
            return _joined(parts)
        if size == 0:
            return b""
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail >= size:  # the common case: served from the current chunk
            self._pos = pos + size
            return buf[pos : pos + size]
        parts = [memoryview(buf)[pos:] if pos else buf] if avail else []
        need = size - avail
        self._buf, self._pos = b"", 0
        while need and self._fill(need):
            buf = self._buf
            if len(buf) > need:
                parts.append(memoryview(buf)[:need])
                self._pos = need
                break
            parts.append(buf)
            need -= len(buf)
            self._buf = b""
        return _joined(parts)

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, including its ``b"\\n"``, at most ``size`` bytes when
        ``size`` is not negative (W2A-IN-04)."""
        limit = -1 if size is None else size
        if limit == 0:
            return b""
        parts: list[bytes] = []
        got = 0
        while True:
            buf, pos = self._buf, self._pos
            if pos >= len(buf):
                if not self._fill():
                    break
                continue
            end = buf.find(b"\n", pos) + 1
            stop = end if end else len(buf)
            if limit >= 0 and got + (stop - pos) >= limit:
                stop = pos + (limit - got)
                parts.append(buf[pos:stop])
                self._pos = stop
                break
            parts.append(buf[pos:stop])
            got += stop - pos
            self._pos = stop
            if end:
                break
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """Read lines until EOF, or until their total size reaches ``hint``
        bytes when ``hint`` is positive (W2A-IN-05)."""
        lines: list[bytes] = []
        total = 0
        limit = -1 if hint is None else hint
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < limit <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        """Yield lines until EOF (W2A-IN-06)."""
        while line := self.readline():
            yield line

    def readable(self) -> bool:
        """Always ``True`` (W2A-IN-11)."""
        return True

    def close(self) -> None:
        """Does nothing: the adapter owns the stream (W2A-IN-11)."""
