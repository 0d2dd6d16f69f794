"""FastAPI on Gunicorn's threaded workers, through sgibridge.

Run it with the settings in ``examples/gunicorn.conf.py`` (two gthread
workers of four threads each)::

    sgibridge serve examples.fastapi_gunicorn:app --server gunicorn -c examples/gunicorn.conf.py

Each Gunicorn worker process runs its own event loop for the ASGI app, and
FastAPI's lifespan runs once per worker, before its first request.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sgibridge import ASGIToWSGI

state: dict[str, int] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state["started_in"] = os.getpid()
    yield
    state.clear()


app = FastAPI(lifespan=lifespan)


@app.get("/")
def index() -> dict[str, str]:
    return {"message": "Hello from FastAPI, served by Gunicorn through sgibridge"}


@app.get("/worker")
def worker() -> dict[str, int]:
    """Which worker process answered, and where its lifespan started."""
    return {"pid": os.getpid(), "lifespan_pid": state.get("started_in", 0)}


#: The WSGI app Gunicorn serves (``gunicorn.conf.py`` names it).
wsgi_app = ASGIToWSGI(app)
