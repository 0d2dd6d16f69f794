"""``sgibridge serve`` on the real servers: the first-contact points of issue 11.

Each test starts ``python -m sgibridge serve ...`` as a user would, through
``cli_serve`` from ``tests/integration/test_examples.py`` (a free port, its own
process group, stopped by pid) or, for a command that must fail before any server
starts, :func:`run_to_exit`, which gives it a deadline and kills its process group
after it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))

from test_examples import cli_env, cli_serve, serve_argv

#: Some tests start two servers, each allowed 30 s to come up on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SERVERS = ["uvicorn", "hypercorn", "granian", "gunicorn", "waitress"]
#: A WSGI app (Flask) for every server: as is on the WSGI ones, through WSGIToASGI on the others.
FLASK = "examples.flask_app:app"
_EXIT_TIMEOUT = 60.0


def run_to_exit(
    *args: str, command: str = "serve", env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run ``python -m sgibridge serve ARGS``; return its status and output.

    :param command: ``"serve"`` or ``"inspect"``.
    :param env: more environment variables for it.

    :raises AssertionError: when it is still running after the deadline (a server
        started where it should not have); its process group is killed first.
    """
    with tempfile.TemporaryDirectory(prefix="sgibridge-cli-") as home:
        argv = serve_argv(args)
        argv[argv.index("serve")] = command
        proc = subprocess.Popen(
            argv,
            cwd=Path(__file__).resolve().parents[1],
            env={**cli_env(home), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=_EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=10)
            raise AssertionError(
                f"still running after {_EXIT_TIMEOUT} s:\n{out.decode()}"
            ) from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out.decode("utf-8", "replace")


@contextlib.contextmanager
def _listening() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


# --- Gunicorn's worker ------------------------------------------------------------------------


def test_gunicorn_answers_a_second_request_while_a_stream_is_open() -> None:
    """The default gthread worker serves another request beside a long SSE stream
    (the sync worker held it until the stream ended, and killed the stream at 30 s)."""
    with (
        cli_serve("examples.flask_sse:app", "--server", "gunicorn") as server,
        server.client() as http,
        http.stream(
            "GET", "/events", params={"count": 60, "interval": 1}, timeout=10
        ) as stream,
    ):
        assert next(stream.iter_raw())  # the stream is open and sending
        with server.client() as other:
            response = other.get("/", timeout=10)
        assert response.status_code == 200
    assert "on gunicorn (gthread worker, 4 threads per worker)" in server.log()


# --- the address ------------------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_a_port_in_use_is_one_line_on_every_server(server: str) -> None:
    pytest.importorskip(server)
    with _listening() as port:
        status, out = run_to_exit(FLASK, "--server", server, "--port", str(port))
    assert status == 1
    assert out == (
        f"sgibridge: error: 127.0.0.1:{port} (host 127.0.0.1, port {port}) is already in "
        "use (is another server running there?); stop it, or choose another with --port\n"
    )


@pytest.mark.parametrize("server", SERVERS)
def test_uds_on_every_server(server: str, tmp_path: Path) -> None:
    pytest.importorskip(server)
    path = str(tmp_path / "s.sock")
    with cli_serve(FLASK, "--server", server, uds=path) as running:
        with running.client() as http:
            response = http.get("/")
        assert response.text.startswith("Hello from Flask, served through sgibridge!\n")
    assert f"at unix:{path}" in running.log()


def _self_signed(where: Path) -> tuple[str, str]:
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian", "gunicorn"])
def test_tls_on_every_server_that_speaks_it(server: str, tmp_path: Path) -> None:
    pytest.importorskip(server)
    with cli_serve(FLASK, "--server", server, tls=_self_signed(tmp_path)) as running:
        assert running.base_url.startswith("https://")
        with running.client() as http:
            response = http.get("/")
        assert response.text.startswith("Hello from Flask, served through sgibridge!\n")
    assert " at https://127.0.0.1:" in running.log()


# --- --root-path ------------------------------------------------------------------------------

#: Whether each server takes a request without the prefix, and one with it.
_PREFIX = {
    "uvicorn": {"without": True, "with": False},
    "hypercorn": {"without": True, "with": True},
    "granian": {"without": True, "with": True},
    "gunicorn": {"without": False, "with": True},
    "waitress": {"without": True, "with": True},
}


@pytest.mark.parametrize("server", SERVERS)
def test_root_path_is_normalised_and_the_startup_says_what_the_server_expects(
    server: str,
) -> None:
    """``--root-path site/`` is ``/site``; each server then does what its startup line says."""
    pytest.importorskip(server)
    with (
        cli_serve(
            FLASK, "--server", server, "--root-path", "site/", ready_path="/site/"
        ) as running,
        running.client() as http,
    ):
        without = http.get("/where")
        with_prefix = http.get("/site/where")
    log = running.log()
    assert "sgibridge: --root-path 'site/' is taken as '/site'" in log
    assert f"sgibridge: root path /site: {server} " in log
    expected = {
        "script_name": "/site",
        "path_info": "/where",
        "url_for_index": "/site/",
    }
    for kind, response in (("without", without), ("with", with_prefix)):
        if _PREFIX[server][kind]:
            assert response.json() == expected, (kind, response.text)
        else:
            assert response.status_code >= 400, (kind, response.text)
    if _PREFIX[server] == {"without": True, "with": True}:
        assert "accepts requests with or without the prefix" in log
    elif server == "uvicorn":
        assert "uvicorn expects requests without the prefix" in log
    else:
        assert "gunicorn requires every request path to start with /site" in log


# --- the target -------------------------------------------------------------------------------


def test_a_plain_three_argument_function_is_refused_before_the_server_starts() -> None:
    status, out = run_to_exit("apps.cli_targets:three_arguments")
    assert status == 1
    assert out.startswith(
        "sgibridge: error: 'apps.cli_targets:three_arguments': the function "
        "three_arguments is not a WSGI or ASGI app: it takes 3 arguments (a, b, c) but "
        "is not 'async def'"
    )
    assert out.count("\n") == 1  # nothing from a server


def test_an_adapter_gunicorn_does_not_need_is_unwrapped() -> None:
    with (
        cli_serve("examples.flask_app:asgi_app", "--server", "gunicorn") as server,
        server.client() as http,
    ):
        assert http.get("/").text.startswith(
            "Hello from Flask, served through sgibridge!\n"
        )
    assert (
        "sgibridge: examples.flask_app:asgi_app is WSGIToASGI(...); serving the inner "
        "WSGI app directly\n" in server.log()
    )
    assert "(WSGI) on gunicorn (gthread worker, 4 threads per worker) as is" in (
        server.log()
    )


# --- logs and the pass-through ----------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_access_log_is_on_by_default_on_every_server(server: str) -> None:
    pytest.importorskip(server)
    with cli_serve(FLASK, "--server", server) as running, running.client() as http:
        assert http.get("/marker-3f9a").status_code == 404
    assert "/marker-3f9a" in running.log()


_STARTED = {
    "uvicorn": "Uvicorn running on",
    "hypercorn": "Running on",
    "granian": "Starting granian",
    "gunicorn": "Starting gunicorn",
    "waitress": "Serving on",
}


@pytest.mark.parametrize("server", SERVERS)
def test_no_access_log_and_log_level_reach_every_server(server: str) -> None:
    pytest.importorskip(server)
    with (
        cli_serve(
            FLASK, "--server", server, "--no-access-log", "--log-level", "warning"
        ) as running,
        running.client() as http,
    ):
        assert http.get("/marker-3f9a").status_code == 404
    log = running.log()
    assert "/marker-3f9a" not in log
    assert _STARTED[server] not in log  # an info line, below --log-level warning
    with cli_serve(FLASK, "--server", server) as running:
        pass
    assert _STARTED[server] in running.log()  # the same line at the default level


def test_options_after_double_dash_reach_gunicorn() -> None:
    with (
        cli_serve(
            FLASK, "--server", "gunicorn", "--", "--access-logformat", "PASSED %(U)s"
        ) as server,
        server.client() as http,
    ):
        http.get("/marker-77")
    assert "PASSED /marker-77" in server.log()


def test_options_after_double_dash_reach_uvicorn_and_waitress() -> None:
    with (
        cli_serve(FLASK, "--", "--header", "x-passed:uvicorn") as server,
        server.client() as http,
    ):
        assert http.get("/").headers["x-passed"] == "uvicorn"
    with (
        cli_serve(FLASK, "--server", "waitress", "--", "--ident=passed") as server,
        server.client() as http,
    ):
        assert http.get("/").headers["server"] == "passed"


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn", "waitress"])
def test_forwarded_allow_ips_reaches_every_server_that_has_it(server: str) -> None:
    """Trusted, the proxy's X-Forwarded-Proto sets the scheme; from an address that is not
    listed (every server trusts 127.0.0.1 by default or not at all) it does not."""
    pytest.importorskip(server)
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    seen = {}
    for allowed in ("127.0.0.1", "10.9.9.9"):
        with (
            cli_serve(
                "apps.cli_targets:whoami",
                "--server",
                server,
                "--forwarded-allow-ips",
                allowed,
            ) as running,
            running.client() as http,
        ):
            seen[allowed] = http.get("/", headers=forwarded).text.split()
    assert seen["127.0.0.1"][1] == "https"
    assert seen["10.9.9.9"] == ["127.0.0.1", "http"]
    if server != "gunicorn":  # gunicorn takes only the scheme from a proxy
        assert seen["127.0.0.1"][0] == "203.0.113.9"


def test_interface_asgi3_on_a_flask_app_is_refused() -> None:
    status, out = run_to_exit(FLASK, "--interface", "asgi3")
    assert status == 1
    assert out == (
        "sgibridge: error: --interface asgi3 was given, but 'examples.flask_app:app' is "
        "a WSGI app (an instance whose __call__ takes (environ, start_response)); drop "
        "--interface to serve it as what it is\n"
    )
