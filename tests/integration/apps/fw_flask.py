"""Flask (WSGI) for the framework matrix, served through WSGIToASGI; see ``fw_common``."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask, Response, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import WSGIToASGI

app = Flask(__name__)


@app.get("/where")
def where() -> Response:
    return jsonify(root=request.script_root, url=url_for("where"))


@app.get("/go")
def go() -> BaseResponse:
    return redirect(url_for("where"))


@app.get("/cookie/set")
def cookie_set() -> Response:
    response = Response("set")
    response.set_cookie("flavour", "oat")
    response.set_cookie("size", "large")
    return response


@app.get("/cookie/get")
def cookie_get() -> str:
    return f"{request.cookies.get('flavour')} {request.cookies.get('size')}"


@app.get("/stream")
def stream() -> Response:
    def chunks() -> Iterator[bytes]:
        yield from CHUNKS

    return Response(chunks(), mimetype="text/plain")


@app.get("/file")
def file() -> Response:
    return send_file(data_file(), mimetype="application/octet-stream")


@app.post("/form")
def form() -> Response:
    upload = request.files["upload"]
    return jsonify(
        name=request.form["name"], filename=upload.filename, size=len(upload.read())
    )


@app.get("/hooks")
def hooks() -> Response:
    return jsonify(started=started())


asgi_app = WSGIToASGI(
    app, on_startup=[lambda: hook("STARTUP")], on_shutdown=[lambda: hook("SHUTDOWN")]
)
