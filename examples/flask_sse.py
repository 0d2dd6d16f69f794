"""Server-Sent Events from Flask, streamed live by Uvicorn through sgibridge.

Run it::

    sgibridge serve examples.flask_sse:app

then ``curl -N http://127.0.0.1:8000/events``: each event arrives as it is
yielded, not when the generator ends, because WSGIToASGI sends every chunk a
WSGI app yields as its own ``http.response.body`` message. When the client
goes away, the generator's next ``yield`` raises ``GeneratorExit`` and its
``finally`` runs (``close()`` is always called).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, request, stream_with_context

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "Open /events for a stream of Server-Sent Events.\n"


@app.get("/events")
def events() -> Response:
    """``?count=`` events (default 10), ``?interval=`` seconds apart (default 0.5)."""
    count = request.args.get("count", 10, type=int)
    interval = request.args.get("interval", 0.5, type=float)

    def stream() -> Iterator[str]:
        yield "retry: 1000\n\n"
        for i in range(count):
            yield f"id: {i}\nevent: tick\ndata: {time.time():.3f}\n\n"
            if i + 1 < count:
                time.sleep(interval)
        yield "event: done\ndata: bye\n\n"

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def main() -> None:
    import uvicorn

    from sgibridge import WSGIToASGI

    uvicorn.run(WSGIToASGI(app), host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
