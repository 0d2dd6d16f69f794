"""The adapters refuse, at construction, an app of the other kind (issue 11).

``WSGIToASGI(FastAPI())`` and ``ASGIToWSGI(flask_app)`` used to construct silently and fail
deep inside the first request. Now ``__init__`` asks :mod:`sgibridge._detect` and raises a
``TypeError`` that names the adapter that fits; anything detection cannot tell is accepted.
The types catch the same mistakes where they can (checked with mypy at the end).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from sgibridge import ASGIToWSGI, WSGIToASGI
from sgibridge._detect import refuse_asgi_for_wsgi_adapter, refuse_wsgi_for_asgi_adapter

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def plain_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


async def plain_asgi(scope: Any, receive: Receive, send: Send) -> None:
    pass


class LegacyASGI2:
    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None:
        pass


def _django() -> tuple[Any, Any]:
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="test", ALLOWED_HOSTS=["*"], ROOT_URLCONF=[], INSTALLED_APPS=[]
        )
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application(), get_asgi_application()


def _wsgi_apps() -> list[tuple[str, Any, str]]:
    import falcon
    from flask import Flask

    return [
        ("flask", Flask(__name__), "Flask(...)"),
        ("django", _django()[0], "WSGIHandler(...)"),
        ("falcon", falcon.App(), "App(...)"),
        ("function", plain_wsgi, "plain_wsgi"),
    ]


def _asgi_apps() -> list[tuple[str, Any, str, str]]:
    import falcon.asgi
    from fastapi import FastAPI
    from starlette.applications import Starlette

    return [
        ("fastapi", FastAPI(), "FastAPI(...)", "ASGI 3"),
        ("starlette", Starlette(), "Starlette(...)", "ASGI 3"),
        ("django", _django()[1], "ASGIHandler(...)", "ASGI 3"),
        ("falcon", falcon.asgi.App(), "App(...)", "ASGI 3"),
        ("function", plain_asgi, "plain_asgi", "ASGI 3"),
        ("asgi2-class", LegacyASGI2, "LegacyASGI2", "ASGI 2"),
    ]


def test_W2A_APP_04_wsgi_to_asgi_refuses_every_asgi_app() -> None:
    for name, app, shown, kind in _asgi_apps():
        with pytest.raises(TypeError) as caught:
            WSGIToASGI(app)
        assert str(caught.value) == (
            f"WSGIToASGI wraps a WSGI app; {shown} is an {kind} app: use it directly "
            f"on an ASGI server, or ASGIToWSGI to serve it on a WSGI server"
        ), name


def test_A2W_APP_04_asgi_to_wsgi_refuses_every_wsgi_app() -> None:
    for name, app, shown in _wsgi_apps():
        with pytest.raises(TypeError) as caught:
            ASGIToWSGI(app)
        assert str(caught.value) == (
            f"ASGIToWSGI wraps an ASGI app; {shown} is a WSGI app: use it directly "
            f"on a WSGI server, or WSGIToASGI to serve it on an ASGI server"
        ), name


def test_the_right_way_round_still_constructs() -> None:
    for name, app, _ in _wsgi_apps():
        assert WSGIToASGI(app).app is app, name
    for name, app, _, _ in _asgi_apps():
        with ASGIToWSGI(app) as adapter:
            assert adapter.app is app, name


def test_each_adapter_accepts_the_other() -> None:
    """An adapter is an app of its outer kind: nesting them is allowed."""
    inner = ASGIToWSGI(plain_asgi)
    assert WSGIToASGI(inner).app is inner
    outer = WSGIToASGI(plain_wsgi)
    with ASGIToWSGI(outer) as adapter:
        assert adapter.app is outer


def _three(a: Any, b: Any, c: Any) -> None:
    pass


def _star(*args: Any) -> None:
    pass


def _one(scope: Any) -> Any:
    return None


@pytest.mark.parametrize(
    "app",
    [_three, _star, _one, mock.Mock(), mock.MagicMock(), object(), 42],
    ids=["three-args", "star-args", "one-arg", "Mock", "MagicMock", "object", "int"],
)
def test_W2A_APP_04_A2W_APP_04_what_detection_cannot_tell_is_accepted(
    app: object,
) -> None:
    """Only a clear sign refuses: async def or asgiref's marker for ASGI, an
    (environ, start_response) signature for WSGI; mocks, proxies and odd callables pass."""
    refuse_asgi_for_wsgi_adapter(app)
    refuse_wsgi_for_asgi_adapter(app)


def test_W2A_APP_04_asgiref_markers_count_only_when_true() -> None:
    def marked(scope: Any, receive: Any, send: Any) -> Any:
        return plain_asgi(scope, receive, send)

    marked._asgi_single_callable = True  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"marked is an ASGI 3 app"):
        WSGIToASGI(marked)  # type: ignore[arg-type]
    marked._asgi_single_callable = "yes"  # type: ignore[attr-defined]
    refuse_asgi_for_wsgi_adapter(marked)


# --- the types --------------------------------------------------------------------------------

_TYPED = """\
from fastapi import FastAPI
from flask import Flask

from sgibridge import ASGIToWSGI, WSGIToASGI

WSGIToASGI(FastAPI())  # line 6
ASGIToWSGI(Flask(__name__))  # line 7
WSGIToASGI(Flask(__name__))
ASGIToWSGI(FastAPI())
"""


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """mypy --strict's error lines for :data:`_TYPED`, once per module."""
    where = tmp_path_factory.mktemp("typed")
    source = where / "wrong_way.py"
    source.write_text(textwrap.dedent(_TYPED))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return errors


def _lines(errors: list[str]) -> set[int]:
    return {int(line.split(":")[1]) for line in errors}


@pytest.mark.timeout(300)  # mypy with FastAPI and Flask: slow on a busy machine
def test_mypy_catches_an_asgi_app_given_to_wsgi_to_asgi(mypy_errors: list[str]) -> None:
    assert 6 in _lines(mypy_errors), mypy_errors
    assert not _lines(mypy_errors) - {6, 7}, mypy_errors


@pytest.mark.timeout(300)
def test_mypy_catches_a_wsgi_app_given_to_asgi_to_wsgi(mypy_errors: list[str]) -> None:
    assert 7 in _lines(mypy_errors), mypy_errors
