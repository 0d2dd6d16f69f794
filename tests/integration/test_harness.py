"""Self-test of the real-server harness in ``servers.py``: start, fetch, stop, nothing left."""

from __future__ import annotations

import httpx
import pytest
from servers import ServerKind, ServerStartError, free_port, pid_alive, serve

pytestmark = pytest.mark.integration

CASES: list[tuple[ServerKind, str, bytes]] = [
    ("gunicorn", "apps.bare:wsgi_app", b"hello from wsgi"),
    ("waitress", "apps.bare:wsgi_app", b"hello from wsgi"),
    ("uvicorn", "apps.bare:asgi_app", b"hello from asgi"),
    ("hypercorn", "apps.bare:asgi_app", b"hello from asgi"),
]


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 0 < port < 65536


@pytest.mark.parametrize(("kind", "target", "body"), CASES, ids=[c[0] for c in CASES])
def test_serve_fetch_and_stop(kind: ServerKind, target: str, body: bytes) -> None:
    threads = 4 if kind == "waitress" else None
    with serve(kind, target, threads=threads) as server:
        assert server.is_alive()
        response = httpx.get(server.url("/"), timeout=10)
        assert response.status_code == 200
        assert response.content == body
        assert httpx.get(server.url("/missing"), timeout=10).status_code == 404
        pids = server.pids()
        assert pids[0] == server.pid
        assert server.rss_bytes() > 0
        assert server.thread_count() >= max(len(pids), threads or 1)
        assert isinstance(server.log(), str)
    assert not server.is_alive()
    assert not any(pid_alive(pid) for pid in pids)


def test_gunicorn_workers_are_children() -> None:
    with serve(
        "gunicorn",
        "apps.bare:wsgi_app",
        worker_class="gthread",
        threads=2,
        workers=2,
        preload=True,
    ) as s:
        assert httpx.get(s.url("/"), timeout=10).status_code == 200
        s.wait_for_log("Booting worker", timeout=10)
        pids = s.pids()
        assert len(pids) >= 2  # the arbiter plus at least one booted worker
        assert "--preload" in s.argv
    assert not any(pid_alive(pid) for pid in pids)


def test_extra_args_reach_the_server() -> None:
    with serve(
        "uvicorn", "apps.bare:asgi_app", extra_args=["--lifespan", "on"]
    ) as server:
        assert httpx.get(server.url("/"), timeout=10).status_code == 200
        server.wait_for_log("Application startup complete", timeout=10)
        assert "--lifespan" in server.argv


def test_startup_failure_reports_the_log() -> None:
    with (
        pytest.raises(ServerStartError, match="no_such_module"),
        serve("uvicorn", "apps.no_such_module:app", startup_timeout=10),
    ):
        pass  # pragma: no cover - never reached
