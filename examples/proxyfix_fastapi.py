"""Reuse a WSGI middleware (Werkzeug's ``ProxyFix``) in front of a FastAPI app.

Run it::

    sgibridge serve examples.proxyfix_fastapi:app

and ask as a reverse proxy would::

    curl -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https' \\
         -H 'X-Forwarded-Host: example.com' http://127.0.0.1:8000/whoami

The two adapters compose: ``ASGIToWSGI`` turns FastAPI into a WSGI app,
``ProxyFix`` rewrites its environ (``REMOTE_ADDR``, ``wsgi.url_scheme``,
``HTTP_HOST``) from the ``X-Forwarded-*`` headers of one trusted proxy, and
``WSGIToASGI`` makes the result an ASGI app again for Uvicorn. FastAPI then
sees the client's address, scheme and host, and builds its URLs with them.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from werkzeug.middleware.proxy_fix import ProxyFix

from sgibridge import ASGIToWSGI, WSGIToASGI

api = FastAPI()


@api.get("/whoami", name="whoami")
def whoami(request: Request) -> dict[str, str | None]:
    return {
        "client": request.client.host if request.client else None,
        "scheme": request.url.scheme,
        "host": request.headers.get("host"),
        "url": str(request.url_for("whoami")),
    }


#: The ASGI app to serve: FastAPI -> WSGI -> ProxyFix -> ASGI.
app = WSGIToASGI(ProxyFix(ASGIToWSGI(api), x_for=1, x_proto=1, x_host=1))
