"""Falcon's ASGI ``App`` for the framework matrix, served through ASGIToWSGI; see ``fw_common``.

Falcon 4's ASGI ``App`` routes on ``scope["path"]`` as it is, while the ASGI spec (and Uvicorn,
Starlette and ASGIToWSGI with it) puts ``root_path`` at the front of ``path``. So under a mount
prefix it needs the prefix taken off first: :func:`strip_root_path` does that, as it would for
Falcon on ``uvicorn --root-path``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import falcon
import falcon.asgi
from falcon.asgi import Request, Response

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import ASGIToWSGI


class Lifespan:
    async def process_startup(
        self, scope: Mapping[str, Any], event: Mapping[str, Any]
    ) -> None:
        hook("STARTUP")

    async def process_shutdown(
        self, scope: Mapping[str, Any], event: Mapping[str, Any]
    ) -> None:
        hook("SHUTDOWN")


class Where:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.media = {"root": req.root_path, "url": req.root_path + "/where"}


class Go:
    async def on_get(self, req: Request, resp: Response) -> None:
        raise falcon.HTTPFound(req.root_path + "/where")


class CookieSet:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.set_cookie("flavour", "oat", secure=False)
        resp.set_cookie("size", "large", secure=False)
        resp.text = "set"


class CookieGet:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"{req.cookies.get('flavour')} {req.cookies.get('size')}"


async def _chunks() -> AsyncIterator[bytes]:
    for chunk in CHUNKS:
        yield chunk


async def _file_blocks() -> AsyncIterator[bytes]:
    with data_file().open("rb") as source:
        while block := source.read(65536):
            yield block


class Stream:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = _chunks()


class File:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = "application/octet-stream"
        resp.content_length = data_file().stat().st_size
        resp.stream = _file_blocks()


class Form:
    async def on_post(self, req: Request, resp: Response) -> None:
        result: dict[str, object] = {}
        form = await req.get_media()
        async for part in form:
            if part.name == "name":
                result["name"] = await part.get_text()
            elif part.name == "upload":
                result["filename"] = part.filename
                result["size"] = len(await part.stream.read())
        resp.media = result


class Hooks:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.media = {"started": started()}


falcon_app = falcon.asgi.App(middleware=[Lifespan()])
falcon_app.add_route("/where", Where())
falcon_app.add_route("/go", Go())
falcon_app.add_route("/cookie/set", CookieSet())
falcon_app.add_route("/cookie/get", CookieGet())
falcon_app.add_route("/stream", Stream())
falcon_app.add_route("/file", File())
falcon_app.add_route("/form", Form())
falcon_app.add_route("/hooks", Hooks())


async def strip_root_path(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Serve ``falcon_app`` with ``root_path`` taken off the front of ``path``."""
    root = scope.get("root_path", "")
    if scope["type"] == "http" and root and scope["path"].startswith(root):
        scope = {**scope, "path": scope["path"][len(root) :] or "/"}
    await falcon_app(scope, receive, send)


wsgi_app = ASGIToWSGI(strip_root_path)
