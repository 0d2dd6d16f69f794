"""The framework matrix: seven frameworks, each served through sgibridge by a real server.

WSGI frameworks (Flask, Django, Falcon) run through ``WSGIToASGI`` on Uvicorn and Hypercorn;
ASGI frameworks (FastAPI, Starlette, Quart, Falcon's ASGI app) run through ``ASGIToWSGI`` on
Gunicorn and Waitress. Every app (``tests/integration/apps/fw_*.py``, described in
``apps/fw_common.py``) is mounted under :data:`PREFIX` by its server's own setting, and each test
checks one thing every framework must get right through the adapters: routing and URL building
under the prefix, redirects, cookies, a streamed body, a file response, a multipart form upload,
and the app's startup and shutdown hooks (lifespan, or ``on_startup``/``on_shutdown`` for WSGI).

One server runs per framework for the whole module; ``test_startup_and_shutdown_hooks`` is last in
the file, so it runs last for each framework, and stops that server itself to see the shutdown
hook run.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from apps.fw_common import CHUNKS, FILE_BYTES
from servers import Server, ServerKind, serve

pytestmark = pytest.mark.integration

PREFIX = "/mount"


@dataclass(frozen=True)
class Case:
    """One framework on one server.

    :ivar prefix_in_request: whether clients send :data:`PREFIX` (gunicorn, waitress and
        hypercorn strip it; uvicorn adds ``root_path`` to the path, as behind a stripping proxy).
    """

    framework: str
    server: ServerKind
    target: str
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    prefix_in_request: bool = True
    worker_class: str | None = None
    threads: int | None = None


CASES = [
    Case(
        "flask",
        "uvicorn",
        "apps.fw_flask:asgi_app",
        ("--root-path", PREFIX),
        prefix_in_request=False,
    ),
    Case(
        "django",
        "uvicorn",
        "apps.fw_django:asgi_app",
        ("--root-path", PREFIX),
        prefix_in_request=False,
    ),
    Case(
        "falcon-wsgi",
        "hypercorn",
        "apps.fw_falcon_wsgi:asgi_app",
        ("--root-path", PREFIX),
    ),
    Case(
        "fastapi",
        "gunicorn",
        "apps.fw_fastapi:wsgi_app",
        env={"SCRIPT_NAME": PREFIX},
        worker_class="gthread",
        threads=4,
    ),
    Case(
        "starlette",
        "gunicorn",
        "apps.fw_starlette:wsgi_app",
        env={"SCRIPT_NAME": PREFIX},
        worker_class="gthread",
        threads=4,
    ),
    Case("quart", "waitress", "apps.fw_quart:wsgi_app", (f"--url-prefix={PREFIX}",)),
    Case(
        "falcon-asgi",
        "waitress",
        "apps.fw_falcon_asgi:wsgi_app",
        (f"--url-prefix={PREFIX}",),
    ),
]


@dataclass
class Running:
    case: Case
    server: Server

    def client(self) -> httpx.Client:
        base = self.server.base_url + (PREFIX if self.case.prefix_in_request else "")
        return httpx.Client(base_url=base, timeout=30)


@pytest.fixture(scope="module", params=CASES, ids=[case.framework for case in CASES])
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    case: Case = request.param
    with serve(
        case.server,
        case.target,
        extra_args=case.extra_args,
        env=case.env,
        worker_class=case.worker_class,
        threads=case.threads,
    ) as server:
        yield Running(case, server)


def test_routing_under_a_mount_prefix(running: Running) -> None:
    with running.client() as http:
        response = http.get("/where")
    assert response.status_code == 200, response.text
    assert response.json() == {"root": PREFIX, "url": PREFIX + "/where"}


def test_redirect_keeps_the_prefix(running: Running) -> None:
    with running.client() as http:
        response = http.get("/go")
    assert response.status_code in (301, 302, 303, 307), response.text
    assert urlsplit(response.headers["location"]).path == PREFIX + "/where"


def test_cookies_both_ways(running: Running) -> None:
    with running.client() as http:
        response = http.get("/cookie/set")
        assert response.status_code == 200
        set_cookies = response.headers.get_list("set-cookie")
        assert len(set_cookies) == 2, set_cookies
        assert {c.split(";")[0] for c in set_cookies} == {"flavour=oat", "size=large"}
        response = http.get(
            "/cookie/get", headers={"cookie": "flavour=oat; size=large"}
        )
    assert (response.status_code, response.text) == (200, "oat large")


def test_streamed_body(running: Running) -> None:
    with running.client() as http, http.stream("GET", "/stream") as response:
        assert response.status_code == 200
        body = b"".join(response.iter_bytes())
    assert body == b"".join(CHUNKS)


def test_file_response(running: Running) -> None:
    with running.client() as http:
        response = http.get("/file")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/octet-stream")
    assert response.content == FILE_BYTES


def test_form_upload(running: Running) -> None:
    upload = os.urandom(300 * 1024)
    with running.client() as http:
        response = http.post(
            "/form",
            data={"name": "sgibridge"},
            files={"upload": ("notes.bin", upload, "application/octet-stream")},
        )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "sgibridge",
        "filename": "notes.bin",
        "size": len(upload),
    }


def test_startup_and_shutdown_hooks(running: Running) -> None:
    """Last for each framework: it stops the server to see the shutdown hook."""
    server = running.server
    with running.client() as http:
        assert http.get("/hooks").json() == {"started": True}
    assert server.log().count("FW-STARTUP") == 1
    # waitress-serve leaves SIGTERM to the default action (no atexit hooks); Ctrl+C is its stop.
    stop = signal.SIGINT if running.case.server == "waitress" else signal.SIGTERM
    os.kill(server.pid, stop)
    deadline = time.monotonic() + 15
    while server.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.is_alive(), f"still running:\n{server.log_tail()}"
    log = server.log()
    assert log.count("FW-SHUTDOWN") == 1, log
