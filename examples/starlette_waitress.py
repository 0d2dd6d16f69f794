"""Starlette on Waitress, through sgibridge.

Run it::

    sgibridge serve examples.starlette_waitress:app --server waitress

Waitress is a pure-Python WSGI server that runs on any platform, Windows
included; ``ASGIToWSGI`` runs the Starlette app on an event loop beside it.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sgibridge import ASGIToWSGI


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        "Hello from Starlette, served by Waitress through sgibridge\n"
    )


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"bytes": len(body), "text": body.decode("utf-8", "replace")})


app = Starlette(routes=[Route("/", index), Route("/echo", echo, methods=["POST"])])

#: The WSGI app Waitress serves.
wsgi_app = ASGIToWSGI(app)


def main() -> None:
    import waitress

    waitress.serve(wsgi_app, host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
