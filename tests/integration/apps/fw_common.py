"""What every app of the framework matrix (``tests/integration/test_frameworks.py``) serves.

Each ``fw_*`` module builds the same small site in its framework's own idiom:

==================  ===========================================================================
``GET /where``      JSON ``{"root": <mount prefix the app sees>, "url": <URL it builds for /where>}``
``GET /go``         a redirect to the URL the framework builds for ``/where``
``GET /cookie/set`` sets two cookies (two ``Set-Cookie`` fields)
``GET /cookie/get`` plain text: the ``flavour`` cookie, a space, the ``size`` cookie
``GET /stream``     :data:`CHUNKS`, yielded one by one by a generator
``GET /file``       the file at :func:`data_file`, through the framework's file response
``POST /form``      a multipart form with a ``name`` field and an ``upload`` file; JSON
                    ``{"name": ..., "filename": ..., "size": ...}``
``GET /hooks``      JSON ``{"started": true}`` once the startup hook ran
==================  ===========================================================================

Hooks print ``FW-STARTUP <pid>`` and ``FW-SHUTDOWN <pid>`` to stderr, so the test reads them
from the server log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
from pathlib import Path

__all__ = ("CHUNKS", "FILE_BYTES", "data_file", "hook", "started")

CHUNKS = [f"chunk {i}\n".encode() for i in range(3)]
#: 200 KiB, so that file responses take more than one block.
FILE_BYTES = bytes(range(256)) * 800

_started: list[bool] = []
_file: list[Path] = []


def hook(event: str) -> None:
    """Record a lifespan event: ``"STARTUP"`` or ``"SHUTDOWN"``."""
    if event == "STARTUP":
        _started.append(True)
    # One write() per line: worker processes share the log file.
    sys.stderr.write(f"FW-{event} {os.getpid()}\n")
    sys.stderr.flush()


def started() -> bool:
    """Whether the startup hook ran in this process."""
    return bool(_started)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def data_file() -> Path:
    """A file holding :data:`FILE_BYTES`, made once per process and removed at exit."""
    if not _file:
        fd, name = tempfile.mkstemp(prefix="sgibridge-fw-", suffix=".bin")
        with os.fdopen(fd, "wb") as out:
            out.write(FILE_BYTES)
        _file.append(Path(name))
        atexit.register(_remove, _file[0])
    return _file[0]
