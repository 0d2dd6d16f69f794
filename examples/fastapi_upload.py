"""Large uploads to FastAPI on Gunicorn, streamed through sgibridge.

Run it::

    sgibridge serve examples.fastapi_upload:app --server gunicorn

then send a large file::

    curl -T big.iso http://127.0.0.1:8000/upload

``/upload`` reads ``request.stream()`` chunk by chunk and keeps only a running
SHA-256, so memory stays flat whatever the size: ASGIToWSGI feeds Gunicorn's
``wsgi.input`` to the app in bounded chunks, chunked uploads included.
``/form`` takes a multipart form (``curl -F file=@big.iso``), which
Starlette spools to disk above 1 MiB.
"""

from __future__ import annotations

import hashlib

from fastapi import FastAPI, Request, UploadFile

from sgibridge import ASGIToWSGI

app = FastAPI()


@app.put("/upload")
@app.post("/upload")
async def upload(request: Request) -> dict[str, int | str]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


@app.post("/form")
async def form(file: UploadFile) -> dict[str, int | str | None]:
    digest = hashlib.sha256()
    size = 0
    while chunk := await file.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return {"filename": file.filename, "bytes": size, "sha256": digest.hexdigest()}


#: The WSGI app for ``gunicorn examples.fastapi_upload:wsgi_app``.
wsgi_app = ASGIToWSGI(app)
