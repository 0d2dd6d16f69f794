"""``sgibridge serve`` end to end: the examples, and every server, started as a user would.

Each test runs ``python -m sgibridge serve ...`` from the repository root (so ``examples.*``
imports as in the docs) as a child process in its own session, on a free port, polls until it
answers, and stops it with SIGTERM, then SIGKILL for whatever of its process group is left, so
no server outlives its test. Targets under ``tests/integration/apps`` import as ``apps.*``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from servers import APPS_ROOT, free_port

pytestmark = pytest.mark.integration

ROOT = APPS_ROOT.parent.parent
MiB = 1024 * 1024
_STARTUP_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


@dataclass
class CLIServer:
    """A running ``sgibridge serve``."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    final_log: str | None = None

    def log(self) -> str:
        """Everything the server printed so far (all of it, once it stopped)."""
        if self.final_log is not None:
            return self.final_log
        return self.log_path.read_bytes().decode("utf-8", "replace")

    uds: str | None = None

    def client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=self.uds, verify=False)
        return httpx.Client(
            base_url=self.base_url, timeout=30, transport=transport, verify=False
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies still count for killpg: look for a live member.
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat[stat.rfind(")") + 2 :].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_TIMEOUT)
    if proc.poll() is None or _group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(proc.pid), "sgibridge serve left processes behind"


def _uds_accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def cli_env(home: str) -> dict[str, str]:
    """The environment ``sgibridge serve`` runs in here: ``apps.*`` importable, unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(APPS_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("XDG_RUNTIME_DIR", None)
    env.pop("SGIBRIDGE_SERVE", None)
    env.pop("GUNICORN_CMD_ARGS", None)
    # Gunicorn 25+ opens a control socket under $HOME: keep each run's apart.
    env["HOME"] = home
    return env


def serve_argv(args: Sequence[str], *where: str) -> list[str]:
    """``python -m sgibridge serve ARGS`` with ``where`` before any ``--`` in ``ARGS``."""
    args = list(args)
    at = args.index("--") if "--" in args else len(args)
    return [
        sys.executable,
        "-m",
        "sgibridge",
        "serve",
        *args[:at],
        *where,
        *args[at:],
    ]


@contextlib.contextmanager
def cli_serve(
    *args: str,
    ready_path: str = "/",
    uds: str | None = None,
    tls: tuple[str, str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[CLIServer]:
    """Run ``python -m sgibridge serve ARGS --port <free>`` until the block ends.

    :param uds: listen on this Unix socket (``--uds``) instead of a port.
    :param tls: ``(certfile, keyfile)``: serve HTTPS with them.
    :param cwd: the directory it runs in (the repository root by default).
    """
    with tempfile.TemporaryDirectory(prefix="sgibridge-cli-") as tmp:
        env = cli_env(tmp)
        log_path = Path(tmp) / "serve.log"
        port = free_port()
        where = ["--uds", uds] if uds is not None else ["--port", str(port)]
        if tls is not None:
            where += ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]]
        argv = serve_argv(args, *where)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        scheme = "https" if tls is not None else "http"
        host = "localhost" if uds is not None else f"127.0.0.1:{port}"
        server = CLIServer(proc, f"{scheme}://{host}", log_path, uds=uds)
        try:
            deadline = time.monotonic() + _STARTUP_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"{' '.join(argv)} exited with {proc.returncode}:\n{server.log()}"
                    )
                # httpx leaks the socket of a failed Unix-socket connect: probe it first.
                if uds is None or _uds_accepts(uds):
                    with (
                        contextlib.suppress(httpx.TransportError),
                        server.client() as http,
                    ):
                        http.get(ready_path, timeout=5)
                        break
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        f"no answer in {_STARTUP_TIMEOUT} s:\n{server.log()}"
                    )
                time.sleep(0.1)
            yield server
        finally:
            _stop(proc)
            server.final_log = server.log()


# --- the examples, as documented ----------------------------------------------------------------


def test_make_run_serves_the_flask_example() -> None:
    """`make run` is this command; here on a free port instead of 8000."""
    recipe = re.search(
        r"^run:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE
    )
    assert recipe is not None
    command = recipe.group(1).split()
    assert command[:3] == ["$(BIN)/sgibridge", "serve", "examples.flask_app:app"]
    assert command[3:] == ["--host", "127.0.0.1", "--port", "8000"]
    with cli_serve(*command[2:-2]) as server, server.client() as http:
        response = http.get("/")
        assert response.text.startswith("Hello from Flask, served through sgibridge!\n")
        assert http.post("/echo", content=b"ping").content == b"ping"
    assert "on uvicorn through WSGIToASGI(app, workers=10)" in server.log()


def test_make_run_installs_only_what_the_demo_needs(tmp_path: Path) -> None:
    """`make run` on a fresh clone: runtime deps, Flask and Uvicorn under a stamp of its own,
    never the dev set (Django, Falcon, Quart, Granian, mypy, ...) that `make test` needs."""
    dry = subprocess.run(
        ["make", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    installs = [line for line in dry.splitlines() if " install " in line]
    assert installs, dry
    assert all("[dev]" not in line for line in installs), installs
    assert any("-e '.[uvicorn]' 'flask>=3'" in line for line in installs), installs
    assert f"touch {tmp_path / 'venv'}/.installed-run" in dry
    assert f"touch {tmp_path / 'venv'}/.installed\n" not in dry + "\n"


def test_flask_sse_streams_events_as_they_are_yielded() -> None:
    with (
        cli_serve("examples.flask_sse:app") as server,
        server.client() as http,
        http.stream("GET", "/events", params={"count": 3, "interval": 1}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.iter_raw()
        first = next(chunks)
        # The last event is sent two intervals later: a buffered body would hold it here.
        assert b"event: done" not in first
        body = first + b"".join(chunks)
    assert body.count(b"event: tick") == 3
    assert body.endswith(b"event: done\ndata: bye\n\n")


def test_django_on_uvicorn() -> None:
    with (
        cli_serve("examples.django_app:application", "--root-path", "/site") as server,
        server.client() as http,
    ):
        assert http.get("/").text == "Hello from Django, served through sgibridge!\n"
        assert http.get("/where").json() == {
            "script_name": "/site",
            "url": "/site/where",
        }
        assert http.get("/go").headers["location"] == "/site/where"


def test_fastapi_on_gunicorn_workers_run_lifespan() -> None:
    with (
        cli_serve(
            "examples.fastapi_gunicorn:app",
            "--server",
            "gunicorn",
            "--workers",
            "2",
            "--threads",
            "4",
        ) as server,
        server.client() as http,
    ):
        assert http.get("/").json()["message"].startswith("Hello from FastAPI")
        worker = http.get("/worker").json()
        assert worker["pid"] == worker["lifespan_pid"] != server.proc.pid
    assert "Using worker: gthread" in server.log()


def test_fastapi_with_its_gunicorn_conf_py() -> None:
    """The example's one command: Gunicorn's settings come from its config file."""
    with (
        cli_serve(
            "examples.fastapi_gunicorn:app",
            "--server",
            "gunicorn",
            "-c",
            "examples/gunicorn.conf.py",
        ) as server,
        server.client() as http,
    ):
        worker = http.get("/worker").json()
        assert worker["pid"] == worker["lifespan_pid"]
    log = server.log()
    assert "on gunicorn (gthread worker, 4 threads per worker)" in log
    assert "Using worker: gthread" in log
    assert log.count("Booting worker with pid") == 2  # workers = 2 in the file


def test_large_upload_to_fastapi_on_gunicorn() -> None:
    size = 64 * MiB
    block = os.urandom(MiB)
    digest = hashlib.sha256()
    for _ in range(size // MiB):
        digest.update(block)

    def chunks() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield block

    with (
        cli_serve(
            "examples.fastapi_upload:app", "--server", "gunicorn", "--threads", "2"
        ) as server,
        server.client() as http,
    ):
        response = http.post("/upload", content=chunks(), timeout=120)
        assert response.json() == {"bytes": size, "sha256": digest.hexdigest()}
        response = http.post("/form", files={"file": ("big.bin", block * 4)})
        assert response.json() == {
            "filename": "big.bin",
            "bytes": 4 * MiB,
            "sha256": hashlib.sha256(block * 4).hexdigest(),
        }


def test_starlette_on_waitress() -> None:
    with (
        cli_serve("examples.starlette_waitress:app", "--server", "waitress") as server,
        server.client() as http,
    ):
        response = http.get("/")
        assert response.text.startswith("Hello from Starlette, served by Waitress")
        assert http.post("/echo", content="héllo".encode()).json() == {
            "bytes": 6,
            "text": "héllo",
        }


def test_flask_mounted_in_fastapi() -> None:
    with (
        cli_serve("examples.fastapi_mount:app") as server,
        server.client() as http,
    ):
        assert http.get("/api/hello").json() == {"message": "Hello from FastAPI"}
        assert http.get("/legacy/where").json() == {
            "script_name": "/legacy",
            "path_info": "/where",
            "url_for_index": "/legacy/",
        }


def test_proxyfix_in_front_of_fastapi() -> None:
    forwarded = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "example.com",
    }
    with (
        cli_serve("examples.proxyfix_fastapi:app") as server,
        server.client() as http,
    ):
        assert http.get("/whoami", headers=forwarded).json() == {
            "client": "203.0.113.7",
            "scheme": "https",
            "host": "example.com",
            "url": "https://example.com/whoami",
        }
        assert http.get("/whoami").json()["client"] == "127.0.0.1"


# --- every server, every interface ------------------------------------------------------------

SERVE_CASES = [
    # (server, target, extra options, expected interface in the answer)
    ("uvicorn", "apps.cli_targets:wsgi_app", (), "wsgi"),
    ("uvicorn", "apps.cli_targets:ASGI2App", (), "asgi2"),
    ("uvicorn", "apps.cli_targets:create_app", ("--factory", "--workers", "2"), "wsgi"),
    ("hypercorn", "apps.cli_targets:wsgi_app", (), "wsgi"),
    ("hypercorn", "apps.cli_targets:ASGI2App", (), "asgi2"),
    ("granian", "apps.cli_targets:wsgi_app", (), "wsgi"),
    ("granian", "apps.cli_targets:asgi3_app", (), "asgi3"),
    ("gunicorn", "apps.cli_targets:asgi3_app", (), "asgi3"),
    ("gunicorn", "apps.cli_targets:ASGI2App", ("--threads", "2"), "asgi2"),
    ("waitress", "apps.cli_targets:asgi3_app", (), "asgi3"),
    ("waitress", "apps.cli_targets:wsgi_app", ("--threads", "2"), "wsgi"),
]


@pytest.mark.parametrize(
    ("server", "target", "options", "interface"),
    SERVE_CASES,
    ids=[f"{case[0]}-{case[1].rsplit(':')[1]}" for case in SERVE_CASES],
)
def test_serve_each_server(
    server: str, target: str, options: Sequence[str], interface: str
) -> None:
    pytest.importorskip(server)
    with cli_serve(target, "--server", server, *options) as running:
        with running.client() as http:
            response = http.get("/")
        assert response.status_code == 200, running.log()
        kind, pid, _ = response.text.split(" ", 2)
        assert kind == interface
        if server == "waitress":
            assert int(pid) == running.proc.pid  # served in the CLI's own process
    assert f"on {server}" in running.log()


def test_serve_root_path_on_gunicorn_sets_script_name() -> None:
    with (
        cli_serve(
            "apps.cli_targets:wsgi_app",
            "--server",
            "gunicorn",
            "--root-path",
            "/pre",
            ready_path="/pre/",
        ) as server,
        server.client() as http,
    ):
        assert http.get("/pre/x").text.endswith(" /pre")


def test_serve_reload_on_uvicorn() -> None:
    with (
        cli_serve(
            "apps.cli_targets:asgi3_app", "--reload", "--app-dir", str(APPS_ROOT)
        ) as server,
        server.client() as http,
    ):
        kind, pid, _ = http.get("/").text.split(" ", 2)
        assert kind == "asgi3"
        assert int(pid) != server.proc.pid  # the reloader serves from a child process
