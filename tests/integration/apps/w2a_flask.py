"""A Flask app served through WSGIToASGI, for the real-server tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from fastapi import FastAPI
from flask import Flask, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from sgibridge import WSGIToASGI

flask_app = Flask(__name__)
BLOCK = b"d" * 65536


@flask_app.get("/")
def index() -> str:
    return "hello from flask"


@flask_app.post("/echo")
def echo() -> bytes:
    return request.get_data()


@flask_app.post("/upload")
def upload() -> dict[str, int]:
    total = 0
    stream = request.environ["wsgi.input"]
    while chunk := stream.read(65536):
        total += len(chunk)
    return {"bytes": total}


@flask_app.get("/download")
def download() -> Response:
    size = request.args.get("size", 0, type=int)

    def blocks() -> Iterator[bytes]:
        left = size
        while left > 0:
            yield BLOCK[: min(left, len(BLOCK))]
            left -= len(BLOCK)

    return Response(
        blocks(),
        mimetype="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


@flask_app.get("/endless")
def endless() -> Response:
    """Streams until the client goes away (at most 4 GiB), then says so."""
    tag = request.args.get("tag", "")

    def blocks() -> Iterator[bytes]:
        try:
            for _ in range(65536):
                yield BLOCK
        finally:
            # One write() per line: worker processes share the log file.
            sys.stderr.write(f"ENDLESS-CLOSED {tag}\n")
            sys.stderr.flush()

    return Response(blocks(), mimetype="application/octet-stream")


@flask_app.get("/events")
def events() -> Response:
    """A short stream of unknown length, like an SSE route."""

    def lines() -> Iterator[bytes]:
        for i in range(3):
            yield f"data: {i}\n\n".encode()

    return Response(lines(), mimetype="text/event-stream")


@flask_app.get("/where")
def where() -> dict[str, str]:
    return {
        "script_name": request.environ["SCRIPT_NAME"],
        "path_info": request.environ["PATH_INFO"],
        "url": url_for("where"),
    }


@flask_app.get("/go")
def go() -> BaseResponse:
    return redirect(url_for("where"))


asgi_app = WSGIToASGI(flask_app)

fastapi_app = FastAPI()


@fastapi_app.get("/api")
def api() -> dict[str, str]:
    return {"from": "fastapi"}


fastapi_app.mount("/legacy", WSGIToASGI(flask_app))
