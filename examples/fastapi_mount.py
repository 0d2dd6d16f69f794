"""Mount a Flask app inside FastAPI: new endpoints in FastAPI, old ones in Flask.

Run it::

    sgibridge serve examples.fastapi_mount:app

``/api/hello`` is FastAPI; everything under ``/legacy`` is the Flask app of
``examples/flask_app.py``, which sees ``SCRIPT_NAME=/legacy``, so its
``url_for`` links and redirects keep the prefix.
"""

from __future__ import annotations

from fastapi import FastAPI

from examples.flask_app import app as flask_app
from sgibridge import WSGIToASGI

app = FastAPI()


@app.get("/api/hello")
def hello() -> dict[str, str]:
    return {"message": "Hello from FastAPI"}


app.mount("/legacy", WSGIToASGI(flask_app))
