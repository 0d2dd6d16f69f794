"""A hand-made WSGI server side for unit tests of ``ASGIToWSGI``.

``make_environ()`` builds a PEP 3333 environ the way a WSGI server would
(completed by ``wsgiref.util.setup_testing_defaults``); :data:`A2W_BACKENDS`
lists every loop the adapter runs apps on; :func:`close_middleware` shuts one
down and checks that its loop thread is gone, and :func:`middlewares` builds
the ones a test needs and shuts them all down after it; :func:`closing_outer`
is WSGI middleware that records what the adapter raises; :func:`bounded` runs
a call that must not hang.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

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


@contextmanager
def middlewares(
    backend: Mapping[str, Any], **defaults: Any
) -> Iterator[Callable[..., ASGIToWSGI]]:
    """A factory of ``ASGIToWSGI(app, **backend, **defaults, **kwargs)`` for
    one test; every middleware it made is shut down afterwards, its loop
    thread checked gone."""
    made: list[ASGIToWSGI] = []

    def factory(app: Any, **kwargs: Any) -> ASGIToWSGI:
        mw = ASGIToWSGI(app, **{**backend, **defaults, **kwargs})
        made.append(mw)
        return mw

    try:
        yield factory
    finally:
        for mw in made:
            close_middleware(mw)


def closing_outer(mw: Any, raised: list[BaseException]) -> Any:
    """WSGI middleware outside ``mw`` that records what the call or its
    result's ``close()`` raises, as an error reporter would."""

    class Outer:
        def __init__(self, result: Any) -> None:
            self.result = result

        def __iter__(self) -> Iterator[bytes]:
            return iter(self.result)

        def close(self) -> None:
            try:
                self.result.close()
            except Exception as exc:
                raised.append(exc)

    def outer(environ: dict[str, Any], start_response: Any) -> Outer:
        try:
            return Outer(mw(environ, start_response))
        except Exception as exc:
            raised.append(exc)
            raise

    return outer


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
