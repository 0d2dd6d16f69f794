"""A Flask app served on an ASGI server through sgibridge.

Run it (the README's main job)::

    make run        # or: sgibridge serve examples.flask_app:app

then open http://127.0.0.1:8000/: the index page lists every route with a
curl line to try it (:data:`ROUTES`; the README lists the same).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, redirect, request, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from sgibridge import WSGIToASGI

app = Flask(__name__)

#: Every route, as (curl arguments before the URL, path and query, what it shows).
ROUTES = [
    ("", "/", "this page"),
    ("-d 'hello'", "/echo", "the request body, echoed back"),
    (
        "--data-binary @big.file",
        "/upload",
        "an upload counted in 64 KiB reads, never held in memory",
    ),
    ("-N", "/stream?count=5", "Server-Sent Events, each sent as it is yielded"),
    ("-o /dev/null", "/download?size=104857600", "a 100 MiB download, streamed"),
    ("", "/where", "the mount prefix Flask sees (SCRIPT_NAME) and a URL it builds"),
    ("-i", "/go", "a redirect that keeps the mount prefix"),
]


def _curl_line(args: str, path: str, base: str) -> str:
    """The curl command for one of :data:`ROUTES`."""
    url = base + path
    return " ".join(filter(None, ["curl", args, f"'{url}'" if "?" in url else url]))


@app.get("/")
def index() -> Response:
    """Greet, and list every route with a curl line for this server's own address."""
    base = request.url_root.rstrip("/")
    lines = [_curl_line(args, path, base) for args, path, _ in ROUTES]
    width = max(len(line) for line in lines)
    text = "Hello from Flask, served through sgibridge!\n\nTry:\n" + "".join(
        f"  {line.ljust(width)}  # {what}\n"
        for line, (_, _, what) in zip(lines, ROUTES, strict=True)
    )
    return Response(text, mimetype="text/plain")


@app.post("/echo")
def echo() -> Response:
    """Return the request body; large uploads stream through wsgi.input."""
    return Response(
        request.get_data(), mimetype=request.mimetype or "application/octet-stream"
    )


@app.post("/upload")
def upload() -> dict[str, int]:
    """Count an upload in 64 KiB reads without holding it in memory."""
    total = 0
    while chunk := request.stream.read(65536):
        total += len(chunk)
    return {"bytes": total}


@app.get("/stream")
def stream() -> Response:
    """Server-Sent Events: each event leaves as soon as it is yielded."""
    count = request.args.get("count", 5, type=int)

    def events() -> Iterator[str]:
        for i in range(count):
            yield f"data: tick {i}\n\n"
            time.sleep(0.1)

    return Response(stream_with_context(events()), mimetype="text/event-stream")


@app.get("/download")
def download() -> Response:
    """A large generated download in 64 KiB chunks (``?size=`` bytes)."""
    size = request.args.get("size", 10 * 1024 * 1024, type=int)

    def chunks() -> Iterator[bytes]:
        block = b"x" * 65536
        left = size
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)

    return Response(
        chunks(),
        mimetype="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


@app.get("/where")
def where() -> dict[str, str]:
    """Show the mount prefix Flask sees (SCRIPT_NAME) and a URL it builds."""
    return {
        "script_name": request.environ["SCRIPT_NAME"],
        "path_info": request.environ["PATH_INFO"],
        "url_for_index": url_for("index"),
    }


@app.get("/go")
def go() -> BaseResponse:
    """A redirect that keeps the mount prefix."""
    return redirect(url_for("where"))


#: The ASGI app: serve this one on Uvicorn, Hypercorn or Granian.
asgi_app = WSGIToASGI(app)
