"""FastAPI (ASGI 3) for the framework matrix, served through ASGIToWSGI; see ``fw_common``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import (
    FileResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import ASGIToWSGI


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    hook("STARTUP")
    yield
    hook("SHUTDOWN")


app = FastAPI(lifespan=lifespan)


@app.get("/where", name="where")
def where(request: Request) -> dict[str, str]:
    return {"root": request.scope["root_path"], "url": request.url_for("where").path}


@app.get("/go")
def go(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("where"), status_code=302)


@app.get("/cookie/set")
def cookie_set() -> PlainTextResponse:
    response = PlainTextResponse("set")
    response.set_cookie("flavour", "oat")
    response.set_cookie("size", "large")
    return response


@app.get("/cookie/get", response_class=PlainTextResponse)
def cookie_get(request: Request) -> str:
    return f"{request.cookies.get('flavour')} {request.cookies.get('size')}"


@app.get("/stream")
def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/file")
def file() -> FileResponse:
    return FileResponse(data_file(), media_type="application/octet-stream")


@app.post("/form")
async def form(
    name: Annotated[str, Form()], upload: UploadFile
) -> dict[str, str | int | None]:
    return {"name": name, "filename": upload.filename, "size": len(await upload.read())}


@app.get("/hooks")
def hooks() -> dict[str, bool]:
    return {"started": started()}


wsgi_app = ASGIToWSGI(app)
