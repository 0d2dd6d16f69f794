"""``sgibridge._cli_target:app``: the import string ``sgibridge serve`` gives every server.

A server that runs worker processes or a reloader (gunicorn, uvicorn
``--workers``/``--reload``, hypercorn, granian) imports its app by name in each
process. ``sgibridge serve`` cannot hand it an object, so it puts a
:class:`~._cli_load.ServeSpec` (the real ``MODULE:ATTR``, ``--factory``, the
app directory, the interface and how to wrap it) as JSON in the
``SGIBRIDGE_SERVE`` environment variable, and names this module instead.
Importing it builds ``app`` from that spec with :func:`~._cli_load.load`: in
the CLI's own process that is the object already inspected (the result is
cached), in a worker process a fresh one.

Importing it without ``SGIBRIDGE_SERVE`` set is an error: it is not meant to
be imported by hand.
"""

from __future__ import annotations

import os
from typing import Any

from ._cli_load import ENV_VAR, ServeSpec, load
from ._detect import TargetError

__all__ = ("app",)


def _app() -> Any:
    text = os.environ.get(ENV_VAR)
    if text is None:
        raise TargetError(
            f"sgibridge._cli_target serves the app that `sgibridge serve` describes in "
            f"the {ENV_VAR} environment variable, which is not set; start the server "
            f"with `sgibridge serve MODULE:ATTR` instead"
        )
    return load(ServeSpec.from_json(text)).served


#: The app, wrapped for the server that imports it.
app = _app()
