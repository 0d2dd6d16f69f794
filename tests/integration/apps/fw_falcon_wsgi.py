"""Falcon's WSGI ``App`` for the framework matrix, served through WSGIToASGI; see ``fw_common``."""

from __future__ import annotations

import falcon
from falcon import Request, Response

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import WSGIToASGI


class Where:
    def on_get(self, req: Request, resp: Response) -> None:
        resp.media = {"root": req.root_path, "url": req.root_path + "/where"}


class Go:
    def on_get(self, req: Request, resp: Response) -> None:
        raise falcon.HTTPFound(req.root_path + "/where")


class CookieSet:
    def on_get(self, req: Request, resp: Response) -> None:
        resp.set_cookie("flavour", "oat", secure=False)
        resp.set_cookie("size", "large", secure=False)
        resp.text = "set"


class CookieGet:
    def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"{req.cookies.get('flavour')} {req.cookies.get('size')}"


class Stream:
    def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = iter(CHUNKS)


class File:
    def on_get(self, req: Request, resp: Response) -> None:
        path = data_file()
        resp.content_type = "application/octet-stream"
        resp.content_length = path.stat().st_size
        resp.stream = path.open("rb")


class Form:
    def on_post(self, req: Request, resp: Response) -> None:
        result: dict[str, object] = {}
        for part in req.get_media():
            if part.name == "name":
                result["name"] = part.text
            elif part.name == "upload":
                result["filename"] = part.filename
                result["size"] = len(part.stream.read())
        resp.media = result


class Hooks:
    def on_get(self, req: Request, resp: Response) -> None:
        resp.media = {"started": started()}


app = falcon.App()
app.add_route("/where", Where())
app.add_route("/go", Go())
app.add_route("/cookie/set", CookieSet())
app.add_route("/cookie/get", CookieGet())
app.add_route("/stream", Stream())
app.add_route("/file", File())
app.add_route("/form", Form())
app.add_route("/hooks", Hooks())

asgi_app = WSGIToASGI(
    app,
    on_startup=[lambda: hook("STARTUP")],
    on_shutdown=[lambda: hook("SHUTDOWN")],
)
