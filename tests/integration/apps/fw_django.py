"""Django (WSGI) for the framework matrix, served through WSGIToASGI; see ``fw_common``.

A one-file Django project: settings, URLs and views live here.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path, reverse

from apps.fw_common import CHUNKS, data_file, hook, started
from sgibridge import WSGIToASGI

settings.configure(
    DEBUG=False,
    SECRET_KEY="sgibridge-framework-matrix",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)


def where(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"root": request.META["SCRIPT_NAME"], "url": reverse("where")})


def go(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("where"))


def cookie_set(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("set")
    response.set_cookie("flavour", "oat")
    response.set_cookie("size", "large")
    return response


def cookie_get(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        f"{request.COOKIES.get('flavour')} {request.COOKIES.get('size')}"
    )


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield from CHUNKS

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def file(request: HttpRequest) -> FileResponse:
    return FileResponse(data_file().open("rb"), content_type="application/octet-stream")


def form(request: HttpRequest) -> JsonResponse:
    upload = request.FILES["upload"]
    return JsonResponse(
        {
            "name": request.POST["name"],
            "filename": upload.name,
            "size": len(upload.read()),
        }
    )


def hooks(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"started": started()})


urlpatterns = [
    path("where", where, name="where"),
    path("go", go),
    path("cookie/set", cookie_set),
    path("cookie/get", cookie_get),
    path("stream", stream),
    path("file", file),
    path("form", form),
    path("hooks", hooks),
]

application = get_wsgi_application()
asgi_app = WSGIToASGI(
    application,
    on_startup=[lambda: hook("STARTUP")],
    on_shutdown=[lambda: hook("SHUTDOWN")],
)
