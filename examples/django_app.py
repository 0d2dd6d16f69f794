"""A one-file Django project on Uvicorn, through sgibridge.

Run it::

    sgibridge serve examples.django_app:application

``sgibridge serve`` sees Django's ``WSGIHandler`` (a WSGI app), wraps it in
``WSGIToASGI`` and starts Uvicorn. A real project passes
``myproject.wsgi:application`` instead.
"""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse

settings.configure(
    DEBUG=False,
    SECRET_KEY="sgibridge-example-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django, served through sgibridge!\n")


def where(request: HttpRequest) -> JsonResponse:
    """The mount prefix Django sees (``--root-path``) and a URL it builds."""
    return JsonResponse(
        {"script_name": request.META["SCRIPT_NAME"], "url": reverse("where")}
    )


def go(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("where"))


urlpatterns = [
    path("", index),
    path("where", where, name="where"),
    path("go", go),
]

#: Django's WSGI app; ``sgibridge serve`` puts it behind WSGIToASGI.
application = get_wsgi_application()


def main() -> None:
    import uvicorn

    from sgibridge import WSGIToASGI

    uvicorn.run(WSGIToASGI(application), host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
