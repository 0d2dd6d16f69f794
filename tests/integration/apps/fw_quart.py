"""Quart (ASGI 3) for the framework matrix, served through ASGIToWSGI; see ``fw_common``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from quart import Quart, Response, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import ASGIToWSGI

app = Quart(__name__)


@app.before_serving
async def startup() -> None:
    hook("STARTUP")


@app.after_serving
async def shutdown() -> None:
    hook("SHUTDOWN")


@app.get("/where")
async def where() -> Response:
    return jsonify(root=request.root_path, url=url_for("where"))


@app.get("/go")
async def go() -> BaseResponse:
    return redirect(url_for("where"))


@app.get("/cookie/set")
async def cookie_set() -> Response:
    response = Response("set")
    response.set_cookie("flavour", "oat")
    response.set_cookie("size", "large")
    return response


@app.get("/cookie/get")
async def cookie_get() -> str:
    return f"{request.cookies.get('flavour')} {request.cookies.get('size')}"


@app.get("/stream")
async def stream() -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk

    return Response(chunks(), mimetype="text/plain")


@app.get("/file")
async def file() -> Response:
    return await send_file(data_file(), mimetype="application/octet-stream")


@app.post("/form")
async def form() -> Response:
    fields = await request.form
    files = await request.files
    upload = files["upload"]
    return jsonify(
        name=fields["name"], filename=upload.filename, size=len(upload.read())
    )


@app.get("/hooks")
async def hooks() -> Response:
    return jsonify(started=started())


wsgi_app = ASGIToWSGI(app)
