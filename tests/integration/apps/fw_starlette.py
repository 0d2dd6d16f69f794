"""Starlette (ASGI 3) for the framework matrix, served through ASGIToWSGI; see ``fw_common``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)
from starlette.routing import Route

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import ASGIToWSGI


async def where(request: Request) -> JSONResponse:
    return JSONResponse(
        {"root": request.scope["root_path"], "url": request.url_for("where").path}
    )


async def go(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("where"), status_code=302)


async def cookie_set(request: Request) -> PlainTextResponse:
    response = PlainTextResponse("set")
    response.set_cookie("flavour", "oat")
    response.set_cookie("size", "large")
    return response


async def cookie_get(request: Request) -> PlainTextResponse:
    cookies = request.cookies
    return PlainTextResponse(f"{cookies.get('flavour')} {cookies.get('size')}")


async def stream(request: Request) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        yield from CHUNKS

    return StreamingResponse(chunks(), media_type="text/plain")


async def file(request: Request) -> FileResponse:
    return FileResponse(data_file(), media_type="application/octet-stream")


async def form(request: Request) -> JSONResponse:
    async with request.form() as data:
        upload = data["upload"]
        assert isinstance(upload, UploadFile)
        return JSONResponse(
            {
                "name": data["name"],
                "filename": upload.filename,
                "size": len(await upload.read()),
            }
        )


async def hooks(request: Request) -> JSONResponse:
    return JSONResponse({"started": started()})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    hook("STARTUP")
    yield
    hook("SHUTDOWN")


app = Starlette(
    routes=[
        Route("/where", where, name="where"),
        Route("/go", go),
        Route("/cookie/set", cookie_set),
        Route("/cookie/get", cookie_get),
        Route("/stream", stream),
        Route("/file", file),
        Route("/form", form, methods=["POST"]),
        Route("/hooks", hooks),
    ],
    lifespan=lifespan,
)

wsgi_app = ASGIToWSGI(app)
