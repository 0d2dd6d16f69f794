"""``sgibridge serve`` / ``inspect`` (``_cli.py`` and its ``_cli_*.py`` parts), and the detection,
import and wrapping behind them (``_detect.py``, ``_cli_load.py``, ``_cli_target.py``).

Everything here runs in-process with the servers' entry points replaced by recorders; the real
servers are started in ``tests/integration/test_examples.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import sgibridge
from sgibridge import (
    ASGIToWSGI,
    WSGIToASGI,
    _cli,
    _cli_address,
    _cli_asgi_servers,
    _cli_gunicorn,
    _cli_load,
    _cli_parser,
    _cli_servers,
    _cli_waitress,
    _detect,
)
from sgibridge._cli_load import ENV_VAR, ServeSpec, import_target, load, wrap
from sgibridge._detect import NotAnAppError, TargetError, detect_interface

# The servers' command-line modules, imported once here: the tests replace their entry
# points, and ``app_dir`` gives each test a copy of sys.modules to import into.
for _name in (
    "uvicorn.main",
    "hypercorn.__main__",
    "granian.cli",
    "waitress",
    "gunicorn.config",
):
    importlib.import_module(_name)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# --- sample apps ------------------------------------------------------------------------------


def wsgi_function(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


async def asgi3_function(scope: Any, receive: Receive, send: Send) -> None:
    pass


def asgi3_sync_returning_awaitable(scope: Any, receive: Receive, send: Send) -> Any:
    return asgi3_function(scope, receive, send)


def asgi2_function(scope: Any) -> Callable[[Receive, Send], Awaitable[None]]:
    async def instance(receive: Receive, send: Send) -> None:
        pass

    return instance


class ASGI2Class:
    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None:
        pass


class PEP3333Class:
    """PEP 3333's own example of a class as an app."""

    def __init__(self, environ: dict[str, Any], start_response: Any) -> None:
        self.start = start_response

    def __iter__(self) -> Iterator[bytes]:
        self.start("200 OK", [])
        yield b""


class WSGIInstance:
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return wsgi_function(environ, start_response)


class ASGI3Instance:
    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
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


def _frameworks() -> list[tuple[str, Any, str]]:
    import falcon
    import falcon.asgi
    from fastapi import FastAPI
    from flask import Flask
    from quart import Quart
    from starlette.applications import Starlette
    from werkzeug.middleware.proxy_fix import ProxyFix

    flask_app = Flask(__name__)
    django_wsgi, django_asgi = _django()
    return [
        ("flask", flask_app, "wsgi"),
        ("django-wsgi", django_wsgi, "wsgi"),
        ("falcon-wsgi", falcon.App(), "wsgi"),
        ("proxyfix", ProxyFix(flask_app), "wsgi"),
        ("sgibridge-ASGIToWSGI", ASGIToWSGI(asgi3_function), "wsgi"),
        ("fastapi", FastAPI(), "asgi3"),
        ("starlette", Starlette(), "asgi3"),
        ("quart", Quart(__name__), "asgi3"),
        ("django-asgi", django_asgi, "asgi3"),
        ("falcon-asgi", falcon.asgi.App(), "asgi3"),
        ("sgibridge-WSGIToASGI", WSGIToASGI(flask_app), "asgi3"),
    ]


# --- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "interface"),
    [
        (wsgi_function, "wsgi"),
        (PEP3333Class, "wsgi"),
        (WSGIInstance(), "wsgi"),
        (asgi3_function, "asgi3"),
        (ASGI3Instance(), "asgi3"),
        (asgi3_sync_returning_awaitable, "asgi3"),
        (_cli_load._double_to_single_callable(ASGI2Class), "asgi3"),
        (asgi2_function, "asgi2"),
        (ASGI2Class, "asgi2"),
    ],
    ids=lambda value: getattr(value, "__qualname__", type(value).__qualname__),
)
def test_detect_plain_callables(obj: object, interface: str) -> None:
    assert detect_interface(obj).interface == interface


def test_detect_every_framework() -> None:
    for name, app, interface in _frameworks():
        detection = detect_interface(app)
        assert detection.interface == interface, (name, detection)


def test_detect_reasons_say_what_was_seen() -> None:
    assert detect_interface(WSGIInstance()).reason == (
        "an instance whose __call__ takes (environ, start_response)"
    )
    assert detect_interface(asgi3_function).reason == "an async function"
    assert detect_interface(ASGI3Instance()).reason == (
        "an instance whose __call__ is 'async def'"
    )
    assert "(scope)" in detect_interface(ASGI2Class).reason


def test_detect_honours_asgiref_hints() -> None:
    def marked(*args: Any) -> None:
        pass

    marked._asgi_single_callable = True  # type: ignore[attr-defined]
    assert detect_interface(marked).interface == "asgi3"
    del marked._asgi_single_callable  # type: ignore[attr-defined]
    marked._asgi_double_callable = True  # type: ignore[attr-defined]
    assert detect_interface(marked).interface == "asgi2"

    class Marked:
        _asgi_single_callable = True

    assert detect_interface(Marked).interface == "asgi3"
    Marked._asgi_single_callable = False
    Marked._asgi_double_callable = True  # type: ignore[attr-defined]
    assert detect_interface(Marked).interface == "asgi2"


def _no_args() -> None:
    pass


def _star(*args: Any) -> None:
    pass


def _four(a: Any, b: Any, c: Any, d: Any) -> None:
    pass


class _Plain:
    pass


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (42, "an int instance is not a WSGI or ASGI app: it is not callable"),
        (_no_args, "it takes no arguments; if it is an app factory, pass --factory"),
        (_star, "pass --interface wsgi, asgi3 or asgi2"),
        (_four, "it takes 4 arguments"),
        (_Plain, "the class _Plain is not a WSGI or ASGI app"),
        (iter, "its signature cannot be inspected"),
    ],
    ids=["int", "no-args", "star-args", "four-args", "class", "builtin"],
)
def test_not_an_app(obj: object, message: str) -> None:
    with pytest.raises(NotAnAppError) as info:
        detect_interface(obj)
    assert message in str(info.value)


# --- import_target ----------------------------------------------------------------------------


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of target modules; sys.path and sys.modules come back as they were."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    (tmp_path / "cli_good.py").write_text(
        textwrap.dedent(
            """
            calls = []

            def app(environ, start_response):
                return []

            async def other(scope, receive, send):
                pass

            def create():
                calls.append(1)
                return app

            def broken_factory():
                raise LookupError("no config")

            class Holder:
                inner = app

            number = 42

            def three(a, b, c):
                pass

            def none_factory():
                return None

            from sgibridge import ASGIToWSGI, WSGIToASGI

            wrapped = WSGIToASGI(app)
            wrapped_asgi = ASGIToWSGI(other)
            """
        )
    )
    (tmp_path / "cli_broken.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "cli_needs.py").write_text("import not_installed_anywhere_xyz\n")
    return tmp_path


def test_import_target_resolves_dotted_attributes(app_dir: Path) -> None:
    module = importlib.import_module
    obj = import_target("cli_good:Holder.inner", app_dir=str(app_dir))
    assert obj is module("cli_good").app


def test_import_target_calls_a_factory(app_dir: Path) -> None:
    obj = import_target("cli_good:create", factory=True, app_dir=str(app_dir))
    assert obj is importlib.import_module("cli_good").app


@pytest.mark.parametrize(
    ("target", "factory", "message"),
    [
        ("cli_good", False, "the target must be MODULE:ATTR"),
        (":app", False, "the target must be MODULE:ATTR"),
        (
            "nowhere_xyz:app",
            False,
            "could not import module 'nowhere_xyz': there is no module",
        ),
        ("nowhere_xyz.sub:app", False, "there is no module named 'nowhere_xyz'"),
        (
            "cli_good:ap",
            False,
            "'cli_good' has no attribute 'ap'; apps it defines: app (WSGI), other (ASGI 3)",
        ),
        ("cli_good:Holder.nope", False, "'cli_good.Holder' has no attribute 'nope'"),
        (
            "cli_broken:app",
            False,
            "importing module 'cli_broken' failed: RuntimeError: boom",
        ),
        (
            "cli_needs:app",
            False,
            "importing module 'cli_needs' failed: ModuleNotFoundError",
        ),
        (
            "cli_good:number",
            True,
            "--factory was given but 'cli_good:number' is not callable: it is an int",
        ),
        (
            "cli_good:broken_factory",
            True,
            "calling the app factory 'cli_good:broken_factory' raised LookupError",
        ),
    ],
)
def test_import_target_errors(
    app_dir: Path, target: str, factory: bool, message: str
) -> None:
    with pytest.raises(TargetError) as info:
        import_target(target, factory=factory, app_dir=str(app_dir))
    assert message in str(info.value)


# --- wrap and load ----------------------------------------------------------------------------


def test_wrap_for_each_server_interface() -> None:
    wrapped = wrap(wsgi_function, "wsgi", "asgi", None)
    assert isinstance(wrapped, WSGIToASGI)
    assert wrapped.workers == 10
    assert wrap(wsgi_function, "wsgi", "asgi", 3).workers == 3
    assert wrap(wsgi_function, "wsgi", "wsgi", None) is wsgi_function
    assert wrap(asgi3_function, "asgi3", "asgi", None) is asgi3_function
    single = wrap(ASGI2Class, "asgi2", "asgi", None)
    assert detect_interface(single).interface == "asgi3"
    a2w = wrap(asgi3_function, "asgi3", "wsgi", None)
    assert isinstance(a2w, ASGIToWSGI)
    assert a2w.app is asgi3_function
    assert isinstance(wrap(ASGI2Class, "asgi2", "wsgi", None), ASGIToWSGI)


def test_serve_spec_round_trips_through_json() -> None:
    spec = ServeSpec(
        "m:app", "wsgi", factory=True, app_dir="/x", interface="asgi2", threads=4
    )
    assert ServeSpec.from_json(spec.to_json()) == spec
    for bad in (
        "{",
        "[]",
        '{"target": "m:a"}',
        json.dumps({"target": "m:a", "serve_as": "x"}),
    ):
        with pytest.raises(TargetError, match="is not a serve spec"):
            ServeSpec.from_json(bad)


def test_load_caches_per_spec_and_calls_a_factory_once(app_dir: Path) -> None:
    spec = ServeSpec("cli_good:create", "asgi", factory=True, app_dir=str(app_dir))
    first = load(spec)
    assert load(spec) is first
    assert importlib.import_module("cli_good").calls == [1]
    assert first.detection.interface == "wsgi"
    assert isinstance(first.served, WSGIToASGI)
    forced = load(
        ServeSpec("cli_good:three", "wsgi", app_dir=str(app_dir), interface="asgi3")
    )
    assert forced.detection.reason == "given with --interface"


def test_load_names_the_target_of_a_non_app(app_dir: Path) -> None:
    with pytest.raises(NotAnAppError, match="^'cli_good:number': an int instance"):
        load(ServeSpec("cli_good:number", "asgi", app_dir=str(app_dir)))


def test_cli_target_builds_the_app_from_the_environment(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    sys.modules.pop("sgibridge._cli_target", None)
    with pytest.raises(TargetError, match="which is not set"):
        importlib.import_module("sgibridge._cli_target")
    spec = ServeSpec("cli_good:app", "asgi", app_dir=str(app_dir))
    monkeypatch.setenv(ENV_VAR, spec.to_json())
    sys.modules.pop("sgibridge._cli_target", None)
    target = importlib.import_module("sgibridge._cli_target")
    assert target.app is load(spec).served
    assert isinstance(target.app, WSGIToASGI)


# --- the command line -------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return 0


@pytest.fixture
def cli(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``main()`` with ``--app-dir`` set; return (status, stdout, stderr)."""
    monkeypatch.setenv(
        ENV_VAR, ""
    )  # restored to unset afterwards, whatever serve() writes
    monkeypatch.setenv("SCRIPT_NAME", "")
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    in_use = _cli_address._in_use
    # The unit tests never depend on whether port 8000 happens to be free on this machine.
    monkeypatch.setattr(
        _cli_address, "_in_use", lambda host, port: port != 8000 and in_use(host, port)
    )
    capsys_holder: list[pytest.CaptureFixture[str]] = []

    def run(*argv: str) -> tuple[int, str, str]:
        own, rest = _cli_parser.split_passthrough(argv)
        extra = ["--", *rest] if "--" in argv else []
        status = _cli.main([*own, "--app-dir", str(app_dir), *extra])
        out, err = capsys_holder[0].readouterr()
        return status, out, err

    run.capsys = capsys_holder  # type: ignore[attr-defined]
    return run


@pytest.fixture
def run_cli(
    cli: Callable[..., tuple[int, str, str]], capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    cli.capsys.append(capsys)  # type: ignore[attr-defined]
    return cli


def test_inspect_prints_the_interface_and_every_server(
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    status, out, err = run_cli("inspect", "cli_good:app", "--server", "gunicorn")
    assert (status, err) == (0, "")
    assert "interface:  WSGI: a function takes (environ, start_response)" in out
    assert "uvicorn              ASGI  WSGIToASGI(app, workers=10)  installed" in out
    assert "gunicorn (--server)  WSGI  as is" in out


def _module(name: str) -> Any:
    return sys.modules[name] if name in sys.modules else importlib.import_module(name)


def test_serve_on_uvicorn(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(_module("uvicorn.main"), "run", recorder)
    status, _, err = run_cli(
        "serve",
        "cli_good:app",
        "--workers",
        "2",
        "--root-path",
        "/api",
        "--threads",
        "4",
    )
    assert status == 0
    assert err.startswith(
        "sgibridge: serving cli_good:app (WSGI) on uvicorn through "
        "WSGIToASGI(app, workers=4) at http://127.0.0.1:8000 (root path /api)\n"
    )
    [(args, kwargs)] = recorder.calls
    assert args == ("sgibridge._cli_target:app",)
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8000)
    assert kwargs["workers"] == 2
    assert kwargs["root_path"] == "/api"
    assert kwargs["interface"] == "asgi3"
    assert kwargs["access_log"] is True
    spec = ServeSpec.from_json(_environ(ENV_VAR))
    assert (spec.target, spec.serve_as, spec.threads) == ("cli_good:app", "asgi", 4)


def _environ(name: str) -> str:
    return os.environ[name]


def test_serve_on_gunicorn_execs_it_with_gthread(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    """Gunicorn gets the gthread worker with a few threads, and the startup line says so."""
    recorder = Recorder()
    monkeypatch.setattr(os, "execv", recorder)
    _, _, err = run_cli(
        "serve",
        "cli_good:other",
        "--server",
        "gunicorn",
        "--host",
        "::1",
        "--workers",
        "3",
        "--reload",
        "--root-path",
        "/p",
    )
    assert (
        "on gunicorn (gthread worker, 4 threads per worker) through ASGIToWSGI(app)"
        in err
    )
    assert "root path /p: gunicorn requires every request path to start with /p" in err
    [(args, _)] = recorder.calls
    assert args[1][1:] == [
        "-m",
        "gunicorn",
        "sgibridge._cli_target:app",
        "--bind",
        "[::1]:8000",
        "--workers",
        "3",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--reload",
        "--access-logfile",
        "-",
    ]
    assert _environ("SCRIPT_NAME") == "/p"


def _gunicorn_argv(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, *argv: str
) -> tuple[list[str], str]:
    recorder = Recorder()
    monkeypatch.setattr(os, "execv", recorder)
    _, _, err = run_cli("serve", "cli_good:other", "--server", "gunicorn", *argv)
    assert "error" not in err, err
    [(args, _)] = recorder.calls
    return list(args[1][4:]), err


def test_gunicorn_threads_and_worker_class_from_elsewhere_win_over_the_default(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, tmp_path: Path
) -> None:
    argv, err = _gunicorn_argv(run_cli, monkeypatch, "--threads", "2")
    assert argv[argv.index("--threads") + 1] == "2"
    assert "(gthread worker, 2 threads per worker)" in err

    argv, err = _gunicorn_argv(run_cli, monkeypatch, "--", "-k", "sync")
    assert "--worker-class" not in argv and "--threads" not in argv
    assert argv[-2:] == ["-k", "sync"]
    assert "on gunicorn (sync worker) through" in err

    conf = tmp_path / "gconf.py"
    conf.write_text("worker_class = 'sync'\nthreads = 3\nbind = ['127.0.0.1:8123']\n")
    argv, err = _gunicorn_argv(run_cli, monkeypatch, "-c", str(conf))
    assert "--worker-class" not in argv and "--threads" not in argv
    assert "--bind" not in argv  # the file's bind
    assert argv[argv.index("--config") + 1] == str(conf)
    assert (
        "(gthread worker, 3 threads per worker)" in err
    )  # Gunicorn's sync+threads rule
    assert "at http://127.0.0.1:8123" in err

    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--threads 6")
    argv, err = _gunicorn_argv(run_cli, monkeypatch)
    assert "--threads" not in argv
    assert "(gthread worker, 6 threads per worker)" in err


def test_serve_on_hypercorn(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(_module("hypercorn.__main__"), "run", recorder)
    assert (
        run_cli("serve", "cli_good:other", "--server", "hypercorn", "--port", "9")[0]
        == 0
    )
    [((config,), _)] = recorder.calls
    assert config.application_path == "sgibridge._cli_target:app"
    assert config.bind == ["127.0.0.1:9"]
    assert config.workers == 1
    assert config.accesslog is not None  # on by default


class FakeGranian:
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, target: str, **kwargs: Any) -> None:
        self.made.append({"target": target, **kwargs})

    def serve(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_serve_on_granian(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    pytest.importorskip("granian")
    FakeGranian.made.clear()
    monkeypatch.setattr(_module("granian.cli"), "Server", FakeGranian)
    assert (
        run_cli("serve", "cli_good:app", "--server", "granian", "--root-path", "/g")[0]
        == 0
    )
    [kwargs] = FakeGranian.made
    assert kwargs["target"] == "sgibridge._cli_target:app"
    assert (kwargs["interface"], kwargs["url_path_prefix"]) == ("asgi", "/g")
    assert kwargs["log_access"] is True


def test_serve_on_waitress(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    import waitress

    recorder = Recorder()
    monkeypatch.setattr(waitress, "serve", recorder)
    monkeypatch.setattr(signal, "signal", Recorder())
    shut: list[bool] = []
    monkeypatch.setattr(ASGIToWSGI, "shutdown", lambda self: shut.append(True))
    assert (
        run_cli("serve", "cli_good:other", "--server", "waitress", "--threads", "8")[0]
        == 0
    )
    [((served,), kwargs)] = recorder.calls
    assert isinstance(
        served, _cli_waitress.AccessLog
    )  # waitress keeps no access log itself
    assert isinstance(served.app, ASGIToWSGI)
    assert (kwargs["threads"], kwargs["url_prefix"]) == (8, "")
    assert shut == [True]


# --- every option, as each server's own configuration ------------------------------------------

_ALL_OPTIONS = [
    "--log-level",
    "debug",
    "--no-access-log",
    "--forwarded-allow-ips",
    "10.0.0.1",
    "--timeout-keep-alive",
    "7",
    "--timeout-graceful-shutdown",
    "9",
    "--ssl-certfile",
    "cert.pem",
    "--ssl-keyfile",
    "key.pem",
]


def _without(options: list[str], *names: str) -> list[str]:
    """``options`` without ``names`` (and each one's value, if it takes one)."""
    out: list[str] = []
    skip = False
    for i, item in enumerate(options):
        if skip:
            skip = False
            continue
        if item in names:
            skip = i + 1 < len(options) and not options[i + 1].startswith("--")
            continue
        out.append(item)
    return out


def test_every_option_reaches_uvicorn(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, tmp_path: Path
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(_module("uvicorn.main"), "run", recorder)
    sock = str(tmp_path / "u.sock")
    argv = ["serve", "cli_good:app", *_ALL_OPTIONS, "--uds", sock]
    assert run_cli(*argv, "--", "--limit-concurrency", "5")[0] == 0
    [(_, kwargs)] = recorder.calls
    assert kwargs["uds"] == sock
    assert kwargs["log_level"] == "debug"
    assert kwargs["access_log"] is False
    assert (kwargs["proxy_headers"], kwargs["forwarded_allow_ips"]) == (
        True,
        "10.0.0.1",
    )
    assert kwargs["timeout_keep_alive"] == 7
    assert kwargs["timeout_graceful_shutdown"] == 9
    assert (kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == ("cert.pem", "key.pem")
    assert kwargs["limit_concurrency"] == 5  # after --


def test_every_option_hypercorn_has_reaches_it(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, tmp_path: Path
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(_module("hypercorn.__main__"), "run", recorder)
    cert, key = _self_signed(tmp_path)
    options = _without(
        _ALL_OPTIONS, "--forwarded-allow-ips", "--ssl-certfile", "--ssl-keyfile"
    )
    sock = str(tmp_path / "h.sock")
    argv = ["serve", "cli_good:app", "--server", "hypercorn", *options, "--uds", sock]
    argv += ["--ssl-certfile", cert, "--ssl-keyfile", key, "--", "--read-timeout", "11"]
    assert run_cli(*argv)[0] == 0
    [((config,), _)] = recorder.calls
    assert config.bind == [f"unix:{sock}"]
    assert config.loglevel.lower() == "debug"
    assert config.accesslog is None
    assert config.keep_alive_timeout == 7
    assert config.graceful_timeout == 9
    assert (config.certfile, config.keyfile) == (cert, key)
    assert config.read_timeout == 11  # after --


def test_every_option_granian_has_reaches_it(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, tmp_path: Path
) -> None:
    pytest.importorskip("granian")
    FakeGranian.made.clear()
    monkeypatch.setattr(_module("granian.cli"), "Server", FakeGranian)
    cert, key = _self_signed(tmp_path)
    options = _without(
        _ALL_OPTIONS,
        "--forwarded-allow-ips",
        "--timeout-keep-alive",
        "--ssl-certfile",
        "--ssl-keyfile",
    )
    sock = str(tmp_path / "g.sock")
    argv = ["serve", "cli_good:app", "--server", "granian", *options, "--uds", sock]
    argv += ["--ssl-certfile", cert, "--ssl-keyfile", key, "--", "--backlog", "256"]
    status, _, err = run_cli(*argv)
    assert status == 0, err
    [kwargs] = FakeGranian.made
    assert str(kwargs["uds"]) == sock
    assert str(kwargs["log_level"].value) == "debug"
    assert kwargs["log_access"] is False
    assert kwargs["workers_kill_timeout"] == 9
    assert (str(kwargs["ssl_cert"]), str(kwargs["ssl_key"])) == (cert, key)
    assert kwargs["backlog"] == 256  # after --


def test_every_option_gunicorn_has_reaches_it(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, tmp_path: Path
) -> None:
    from gunicorn.config import Config

    sock = str(tmp_path / "g.sock")
    argv, _ = _gunicorn_argv(
        run_cli, monkeypatch, *_ALL_OPTIONS, "--uds", sock, "--", "--timeout", "120"
    )
    parsed = Config().parser().parse_args(argv)
    assert parsed.bind == [f"unix:{sock}"]
    assert parsed.loglevel == "debug"
    assert parsed.accesslog is None
    assert parsed.forwarded_allow_ips == "10.0.0.1"
    assert parsed.keepalive == 7
    assert parsed.graceful_timeout == 9
    assert (parsed.certfile, parsed.keyfile) == ("cert.pem", "key.pem")
    assert parsed.timeout == 120  # after --


def test_every_option_waitress_has_reaches_it(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, tmp_path: Path
) -> None:
    import waitress
    from waitress.adjustments import Adjustments

    recorder = Recorder()
    monkeypatch.setattr(waitress, "serve", recorder)
    monkeypatch.setattr(signal, "signal", Recorder())
    options = _without(
        _ALL_OPTIONS, "--timeout-graceful-shutdown", "--ssl-certfile", "--ssl-keyfile"
    )
    sock = str(tmp_path / "w.sock")
    argv = ["serve", "cli_good:app", "--server", "waitress", *options, "--uds", sock]
    assert run_cli(*argv, "--", "--connection-limit=50")[0] == 0
    [((served,), kwargs)] = recorder.calls
    assert not isinstance(served, _cli_waitress.AccessLog)  # --no-access-log
    adjusted = Adjustments(**kwargs)
    assert adjusted.unix_socket == sock
    assert adjusted.trusted_proxy == "10.0.0.1"
    assert "x-forwarded-for" in adjusted.trusted_proxy_headers
    assert adjusted.channel_timeout == 7
    assert adjusted.connection_limit == 50  # after --
    assert logging.getLogger("waitress").level == logging.DEBUG


def _self_signed(where: Path) -> tuple[str, str]:
    """A throwaway certificate and key (hypercorn and granian read them at startup)."""
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


@pytest.mark.parametrize(
    ("server", "option", "value", "message"),
    [
        ("hypercorn", "--forwarded-allow-ips", "*", "hypercorn trusts proxies by hop"),
        ("granian", "--forwarded-allow-ips", "*", "granian has no proxy-header"),
        ("granian", "--timeout-keep-alive", "5", "granian's HTTP/1 keep-alive has no"),
        ("waitress", "--timeout-graceful-shutdown", "5", "waitress closes its"),
        ("waitress", "--ssl-certfile", "c.pem", "waitress does not speak TLS"),
        ("uvicorn", "--config", "g.py", "it is Gunicorn's configuration file"),
        ("hypercorn", "--config", "g.py", "it is Gunicorn's configuration file"),
        (
            "waitress",
            "--forwarded-allow-ips",
            "10.0.0.1,10.0.0.2",
            "waitress trusts one",
        ),
    ],
)
def test_an_option_a_server_cannot_honour_is_refused(
    run_cli: Callable[..., tuple[int, str, str]],
    monkeypatch: Any,
    server: str,
    option: str,
    value: str,
    message: str,
) -> None:
    pytest.importorskip(server)
    for name in ("uvicorn.main", "hypercorn.__main__", "waitress"):
        monkeypatch.setattr(
            _module(name), "run" if "." in name else "serve", Recorder()
        )
    status, _, err = run_cli("serve", "cli_good:app", "--server", server, option, value)
    assert status == 1
    assert err.startswith("sgibridge: error: ") and err.count("\n") == 1
    assert message in err


# --- --root-path ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        ("", ""),
        ("/", ""),
        ("/api", "/api"),
        ("api", "/api"),
        ("/site/", "/site"),
        ("//a/b//", "/a/b"),
    ],
)
def test_root_path_is_normalised(given: str, taken: str) -> None:
    assert _cli_servers.normalise_root_path(given) == taken


@pytest.mark.parametrize(
    "given", ["/a?b", "/a#b", "/caf%C3%A9", "/a b", "/a//b", "/a/../b", "/./a", "/a\\b"]
)
def test_root_path_that_is_no_prefix_is_refused(
    run_cli: Callable[..., tuple[int, str, str]], given: str
) -> None:
    status, _, err = run_cli("serve", "cli_good:app", "--root-path", given)
    assert status == 1
    assert err == (
        "sgibridge: error: --root-path must be a URL path prefix such as /api (plain, "
        f"unencoded segments), got {given!r}\n"
    )


def test_root_path_startup_says_what_the_server_expects(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    monkeypatch.setattr(_module("uvicorn.main"), "run", Recorder())
    status, _, err = run_cli("serve", "cli_good:app", "--root-path", "legacy")
    assert status == 0
    assert err.splitlines()[1:] == [
        "sgibridge: --root-path 'legacy' is taken as '/legacy'",
        (
            "sgibridge: root path /legacy: uvicorn expects requests without the prefix "
            "(a proxy in front strips /legacy) and adds it back for the app; the app "
            "sees it as its mount prefix"
        ),
    ]


# --- the address ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "server", ["uvicorn", "hypercorn", "granian", "gunicorn", "waitress"]
)
def test_a_port_in_use_is_one_line_before_the_server_starts(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any, server: str
) -> None:
    pytest.importorskip(server)
    recorder = Recorder()
    monkeypatch.setattr(os, "execv", recorder)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, err = run_cli(
            "serve", "cli_good:app", "--server", server, "--port", str(port)
        )
    assert status == 1
    assert recorder.calls == []
    assert err == (
        f"sgibridge: error: 127.0.0.1:{port} (host 127.0.0.1, port {port}) is already in "
        "use (is another server running there?); stop it, or choose another with --port\n"
    )


def test_a_unix_socket_in_use_is_one_line(
    run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    path = str(tmp_path / "busy.sock")
    with socket.socket(socket.AF_UNIX) as taken:
        taken.bind(path)
        taken.listen()
        status, _, err = run_cli("serve", "cli_good:app", "--uds", path)
    assert status == 1
    assert err == (
        f"sgibridge: error: the Unix socket {path} is already in use (is another server "
        "running there?); stop it, or choose another --uds path\n"
    )


# --- the target -------------------------------------------------------------------------------


def test_a_plain_three_argument_function_is_refused_before_the_server_starts(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(_module("uvicorn.main"), "run", recorder)
    status, _, err = run_cli("serve", "cli_good:three")
    assert status == 1
    assert err == (
        "sgibridge: error: 'cli_good:three': the function three is not a WSGI or ASGI "
        "app: it takes 3 arguments (a, b, c) but is not 'async def'; an ASGI 3 app is "
        "'async def app(scope, receive, send)' (a WSGI app takes (environ, "
        "start_response)); if it returns an awaitable, pass --interface asgi3\n"
    )
    assert recorder.calls == []
    monkeypatch.setattr(os, "execv", Recorder())
    _, _, err = run_cli(
        "serve", "cli_good:three", "--interface", "asgi3", "--server", "gunicorn"
    )
    assert "through ASGIToWSGI(app)" in err


def test_a_factory_that_returns_none_says_so(
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    status, _, err = run_cli("serve", "cli_good:none_factory", "--factory")
    assert status == 1
    assert err == (
        "sgibridge: error: the app factory 'cli_good:none_factory' returned None; it "
        "must return the app (is a 'return app' missing?)\n"
    )


def test_an_interface_the_app_clearly_is_not_is_refused(
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    status, _, err = run_cli("serve", "cli_good:app", "--interface", "asgi3")
    assert status == 1
    assert err == (
        "sgibridge: error: --interface asgi3 was given, but 'cli_good:app' is a WSGI "
        "app (a function takes (environ, start_response)); drop --interface to serve it "
        "as what it is\n"
    )


@pytest.mark.parametrize(
    ("target", "server", "kind", "inner"),
    [
        ("cli_good:wrapped", "gunicorn", "WSGIToASGI", "WSGI"),
        ("cli_good:wrapped_asgi", "uvicorn", "ASGIToWSGI", "ASGI"),
    ],
)
def test_an_adapter_the_server_does_not_need_is_unwrapped(
    run_cli: Callable[..., tuple[int, str, str]],
    app_dir: Path,
    monkeypatch: Any,
    target: str,
    server: str,
    kind: str,
    inner: str,
) -> None:
    monkeypatch.setattr(os, "execv", Recorder())
    monkeypatch.setattr(_module("uvicorn.main"), "run", Recorder())
    _, _, err = run_cli("serve", target, "--server", server)
    assert err.splitlines()[0] == (
        f"sgibridge: {target} is {kind}(...); serving the inner {inner} app directly"
    )
    assert "as is at http://" in err.splitlines()[1]
    serve_as: Any = "wsgi" if server == "gunicorn" else "asgi"
    loaded = load(ServeSpec(target, serve_as, app_dir=str(app_dir)))
    assert loaded.served is loaded.app
    assert not isinstance(loaded.served, (WSGIToASGI, ASGIToWSGI))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["serve", "cli_good:app", "--server", "waitress", "--workers", "2"],
            "waitress runs a single process, so --workers does not apply",
        ),
        (
            ["serve", "cli_good:app", "--server", "waitress", "--reload"],
            "waitress has no reloader",
        ),
        (
            ["serve", "cli_good:other", "--threads", "4"],
            (
                "--threads sizes the thread pool of a WSGI app, but cli_good:other is an "
                "ASGI 3 app that uvicorn runs on its event loop"
            ),
        ),
        (["serve", "nowhere_xyz:app"], "could not import module 'nowhere_xyz'"),
        (["inspect", "cli_good:number"], "'cli_good:number': an int instance is not"),
    ],
)
def test_serve_errors_are_one_line(
    run_cli: Callable[..., tuple[int, str, str]], argv: list[str], message: str
) -> None:
    status, _, err = run_cli(*argv)
    assert status == 1
    assert err.startswith("sgibridge: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_an_error_inside_the_users_module_shows_its_traceback(
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    status, _, err = run_cli("inspect", "cli_broken:app")
    assert status == 1
    assert "Traceback" in err
    assert err.splitlines()[-1] == (
        "sgibridge: error: importing module 'cli_broken' failed: RuntimeError: boom at import"
    )


@pytest.mark.parametrize(
    "server", ["granian", "gunicorn", "waitress", "hypercorn", "uvicorn"]
)
def test_a_missing_server_names_the_extra_to_install(
    run_cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    server: str,
) -> None:
    monkeypatch.setitem(sys.modules, server, None)  # makes "import <server>" fail
    status, _, err = run_cli("serve", "cli_good:app", "--server", server)
    assert status == 1
    assert err == (
        f"sgibridge: error: the {server} server is not installed; install it with: "
        f"pip install 'sgibridge[{server}]'\n"
    )


def test_granian_reload_needs_watchfiles(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("granian")
    monkeypatch.setitem(sys.modules, "watchfiles", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    status, _, err = run_cli("serve", "cli_good:app", "--server", "granian", "--reload")
    assert status == 1
    assert "pip install 'granian[reload]'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve"], "the following arguments are required: MODULE:ATTR"),
        (["serve", "m:a", "--port", "http"], "expected a port number, got 'http'"),
        (["serve", "m:a", "--workers", "0"], "expected 1 or more, got 0"),
        (["serve", "m:a", "--server", "tornado"], "invalid choice: 'tornado'"),
    ],
)
def test_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        _cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_python_dash_m_sgibridge_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sgibridge", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for option in (
        "--server",
        "--host",
        "--port",
        "--workers",
        "--threads",
        "--root-path",
        "--reload",
        "--factory",
        "examples:",
    ):
        assert option in result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "sgibridge", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert version.stdout.strip() == f"sgibridge {sgibridge.__version__}"


def test_modules_declare_all() -> None:
    assert set(_detect.__all__) <= set(vars(_detect))
    assert set(_cli_load.__all__) <= set(vars(_cli_load))
    for module in (
        _cli,
        _cli_address,
        _cli_asgi_servers,
        _cli_gunicorn,
        _cli_parser,
        _cli_servers,
        _cli_waitress,
    ):
        assert set(module.__all__) <= set(vars(module)), module.__name__


def test_options_gunicorn_does_not_take_are_one_line(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: Any
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(os, "execv", recorder)
    status, _, err = run_cli(
        "serve", "cli_good:app", "--server", "gunicorn", "--", "--nonsense", "3"
    )
    assert status == 1
    assert recorder.calls == []
    assert err.startswith("sgibridge: error: gunicorn does not take '--nonsense 3': ")
    assert err.endswith("unrecognized arguments: --nonsense\n")
    assert err.count("\n") == 1


def test_granian_reload_is_checked_before_the_target_is_imported(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """cli_broken raises when imported: the watchfiles line comes first, and alone."""
    pytest.importorskip("granian")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    status, _, err = run_cli(
        "serve", "cli_broken:app", "--server", "granian", "--reload"
    )
    assert status == 1
    assert err == (
        "sgibridge: error: granian --reload needs watchfiles: "
        "pip install 'granian[reload]'\n"
    )
