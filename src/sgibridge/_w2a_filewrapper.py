"""``wsgi.file_wrapper`` for WSGIToASGI (PEP 3333 §Optional Platform-Specific
File Handling, W2A-ENV-16).

:class:`FileWrapper` is public (``sgibridge.FileWrapper``). The response side
(:class:`~._w2a_response.Response`) sends one with ``http.response.pathsend``
when the server offers it and :func:`sendable_path` finds a real file at its
start; otherwise it reads it in :func:`blocks` of at least 64 KiB.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

__all__ = ("FileWrapper", "blocks", "sendable_path")

#: Block size for reading a ``wsgi.file_wrapper`` that cannot be path-sent.
_FILE_BLOCK = 64 * 1024


class FileWrapper:
    """``wsgi.file_wrapper`` (PEP 3333 §Optional Platform-Specific File
    Handling, W2A-ENV-16).

    Iterating yields ``filelike.read(blksize)`` until ``b""``; no I/O happens
    before that. WSGIToASGI recognises it and sends a real file with
    ``http.response.pathsend`` when the server offers that extension.
    """

    def __init__(self, filelike: IO[bytes], blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        blksize = self.blksize
        while data := read(blksize):
            yield data

    def close(self) -> None:
        """Close the file-like object, if it has a ``close()`` method (W2A-ENV-16).

        An attribute that is not callable (``close = False``) is no method.
        """
        close = getattr(self.filelike, "close", None)
        if callable(close):
            close()


def sendable_path(wrapper: FileWrapper) -> tuple[str, int] | None:
    """The absolute path and size of the file a wrapper holds, when it can be
    path-sent: a real file (``fileno()``) named by an absolute path, not yet
    read from (``tell() == 0``). ``None`` otherwise."""
    filelike = wrapper.filelike
    name = getattr(filelike, "name", None)
    try:
        if not isinstance(name, str) or not os.path.isabs(name) or filelike.tell() != 0:
            return None
        return name, os.fstat(filelike.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        return None


def blocks(wrapper: FileWrapper) -> Iterator[bytes]:
    """What iterating a wrapper that is not path-sent yields, in blocks of at
    least 64 KiB."""
    read = wrapper.filelike.read
    size = max(wrapper.blksize, _FILE_BLOCK)
    while data := read(size):
        yield data
