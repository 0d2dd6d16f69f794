"""Framework hello apps for the framework rows: Flask through W2A, FastAPI through A2W.

``GET /small`` answers ``200`` with ``Hello, world!`` (``text/plain``), as the plain benchmark
apps do, so the ratios to the ceilings (``bare-asgi``, ``bare-wsgi``: the plain apps, no
framework) show what a framework and an adapter cost together. A server chooses these apps with
``SGIBRIDGE_BENCH_APP=framework`` (see ``benchmarks.adapters``). Flask and FastAPI are imported
only when an app is built, so a missing one is reported as an unavailable adapter.
"""

from __future__ import annotations

import importlib
from typing import Any

from benchmarks.apps import SMALL_BODY

__all__ = ("fastapi_app", "flask_app")


def flask_app() -> Any:
    """A Flask app answering ``GET /small``."""
    flask = importlib.import_module("flask")
    app = flask.Flask("sgibridge_bench")

    def small() -> Any:
        return flask.Response(SMALL_BODY, mimetype="text/plain")

    app.add_url_rule("/small", "small", small)
    return app


def fastapi_app() -> Any:
    """A FastAPI app answering ``GET /small``."""
    fastapi = importlib.import_module("fastapi")
    responses = importlib.import_module("fastapi.responses")
    app = fastapi.FastAPI()

    async def small() -> Any:
        return responses.PlainTextResponse(SMALL_BODY)

    app.add_api_route("/small", small, methods=["GET"])
    return app
