"""A hand-made WSGI server side for unit tests of ``ASGIToWSGI``.

``make_environ()`` builds a PEP 3333 environ the way a WSGI server would
(completed by ``wsgiref.util.setup_testing_defaults``); :data:`A2W_BACKENDS`
lists every loop the adapter runs apps on; :func:`close_middleware` shuts one
down and checks that its loop thread is gone; :func:`bounded` runs a call
that must not hang.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from wsgiref.util import setup_testing_defaults

import pytest

if TYPE_CHECKING:
    from sgibridge import ASGIToWSGI

#: Every loop ``ASGIToWSGI`` runs apps on: uvloop, stock asyncio and trio.
A2W_BACKENDS: list[Any] = [
    pytest.param({"backend": "asyncio"}, id="uvloop"),
    pytest.param(
        {"backend": "asyncio", "backend_options": {"use_uvloop": False}}, id="asyncio"
    ),
    pytest.param({"backend": "trio"}, id="trio"),
]


def close_middleware(mw: ASGIToWSGI) -> None:
    """Shut ``mw`` down and check that its loop thread is gone."""
    rt = mw._rt
    mw.close()
    if rt is not None and rt.runner._thread is not None:
        rt.runner._thread.join(5)
        assert not rt.runner._thread.is_alive(), "the loop thread leaked"


def make_environ(
    method: str = "GET",
    path: str = "/",
    body: bytes | None = None,
    *,
    stream: Any = None,
    content_length: str | None = None,
    env: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An environ for ``method path``; ``body`` sets ``wsgi.input`` and
    ``CONTENT_LENGTH``, ``stream`` replaces the input, ``content_length``
    the length, and ``env``/``extra`` add or override keys."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
    }
    if body is not None:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    if stream is not None:
        environ["wsgi.input"] = stream
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    environ.update(extra)
    environ.update(env or {})
    setup_testing_defaults(environ)
    return environ


def bounded(call: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``call()`` in a thread joined with a timeout, so a hang fails the test
    instead of the run: returns what it returned, or the exception it raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{call!r} hung for {timeout} s"
    return outcome[0]
