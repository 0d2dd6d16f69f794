"""The iterables ASGIToWSGI returns to the WSGI server (PEP 3333 §Specification
Details): what the server iterates and closes, on its own thread.

- :class:`Body`: a complete response, a ``list`` so that servers see its
  length, with the ``close()`` that ends the request (A2W-ERR-07).
- :class:`Stream`: a streaming response; ``next()`` takes from the response
  pipe, so chunks leave as soon as the app sends them, and raises on a
  failure so that the server aborts the connection (A2W-ERR-02).
- :class:`FileStream` and :class:`PathFile`: a path-sent file, read in
  ``chunk_size`` blocks or handed to ``wsgi.file_wrapper`` (A2W-EXT-01).

Each ``close()`` ends in :meth:`._a2w_response.Response.close`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from ._exceptions import ASGIProtocolError
from ._rules import see

if TYPE_CHECKING:
    from ._a2w_response import Response

__all__ = ("Body", "FileStream", "PathFile", "Stream")


class Body(list[bytes]):
    """A complete response: a list (so servers see its length) with the
    ``close()`` that bounds the app's work after the response (A2W-ERR-07)."""

    __slots__ = ("_response",)

    def __init__(self, chunks: list[bytes], response: Response) -> None:
        super().__init__(chunks)
        self._response: Response | None = response

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()


class Stream:
    """A streaming response: yields chunks as the app sends them."""

    __slots__ = ("_first", "_response")

    def __init__(self, response: Response, first: bytes) -> None:
        self._response = response
        self._first: bytes | None = first

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        first = self._first
        response = self._response
        if first is not None:
            self._first = None
            response.taken += len(first)
            return first
        if response.eof:
            raise StopIteration
        try:
            data = response.out.take()
        except BaseException:
            response.eof = True
            raise  # A2W-ERR-02, A2W-SEND-11: the server aborts the connection
        if not data:
            response.eof = True
            raise StopIteration
        response.taken += len(data)
        return data

    def close(self) -> None:
        self._response.close()


class FileStream:
    """A path-sent file read in ``chunk_size`` blocks on T (A2W-EXT-01), cut
    at the declared content-length (A2W-SEND-11)."""

    __slots__ = ("_file", "_left", "_response")

    def __init__(self, response: Response, file: IO[bytes]) -> None:
        self._response = response
        self._file = file
        self._left = response.limit

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        left = self._left
        chunk_size = self._response.chunk_size
        size = chunk_size if left is None else min(left, chunk_size)
        data = self._file.read(size) if size else b""
        if not data:
            if left:
                raise ASGIProtocolError(
                    f"A2W-SEND-11: the path-sent file ended {left} bytes before the "
                    f"declared content-length ({see('A2W-SEND-11')})"
                )
            raise StopIteration
        if left is not None:
            self._left = left - len(data)
        return data

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._response.close()


class PathFile:
    """The path-sent file as handed to ``wsgi.file_wrapper``: a server may
    ``sendfile()`` its descriptor; ``close()`` also ends the request."""

    __slots__ = ("_file", "_response")

    def __init__(self, file: IO[bytes], response: Response) -> None:
        self._file = file
        self._response = response

    @property
    def name(self) -> str:
        return str(self._file.name)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def fileno(self) -> int:
        return self._file.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._response.close()
