"""A hand-made WSGI server side for unit tests: environs.

``make_environ()`` builds a PEP 3333 environ the way a WSGI server would
(completed by ``wsgiref.util.setup_testing_defaults``), for calling an
``ASGIToWSGI`` directly.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from wsgiref.util import setup_testing_defaults


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
