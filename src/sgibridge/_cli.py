"""``sgibridge serve`` and ``sgibridge inspect``: a thin argparse layer (DESIGN §1).

Theory of operation
===================

``serve`` parses its options, checks that the chosen server is installed,
then resolves, detects and wraps the target with :func:`._detect.load` in its
own process, so that a bad target fails here with one clear line before any
server starts. It then starts the real server with the settings given:

==========  ========  ==================================================================
server      speaks    started with
==========  ========  ==================================================================
uvicorn     ASGI      ``uvicorn.run("sgibridge._cli_target:app", ...)`` (the default)
hypercorn   ASGI      ``hypercorn.run.run(config)``, ``config.application_path`` as above
granian     ASGI      ``granian.Granian("sgibridge._cli_target:app", ...).serve()``
gunicorn    WSGI      ``os.execv``: ``python -m gunicorn sgibridge._cli_target:app ...``
waitress    WSGI      ``waitress.serve(app, ...)`` in this process
==========  ========  ==================================================================

Servers that start worker processes or a reloader need an *import string*,
not an object, and every process must build the same app. So the CLI writes
a :class:`._detect.ServeSpec` (target, factory, app directory, interface,
thread pool, and which interface the server speaks) as JSON into the
``SGIBRIDGE_SERVE`` environment variable, which child processes inherit, and
hands the server the fixed string ``sgibridge._cli_target:app``. Importing
:mod:`._cli_target` reads the spec and calls :func:`._detect.load`, which
caches per process: a server running in this process gets the very object
the CLI inspected, and each worker process builds its own.

``--root-path`` goes to each server's own setting: uvicorn's and hypercorn's
``root_path``, gunicorn's ``SCRIPT_NAME`` environment variable, waitress's
``url_prefix`` and granian's ``url_path_prefix``. Whether requests arrive with
the prefix (gunicorn, waitress, hypercorn) or without it (uvicorn adds it to
``path``) is that server's rule.

``inspect`` does the same resolution and prints the interface and, for every
server, how the app would be served; it starts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ._detect import (
    ENV_VAR,
    Interface,
    Loaded,
    ServeAs,
    ServeSpec,
    TargetError,
    adapter_label,
    label,
    load,
)
from ._version import __version__

__all__ = ("SERVERS", "main")

#: The import string every server is given.
CLI_TARGET = "sgibridge._cli_target:app"


@dataclass(frozen=True)
class _Server:
    name: str
    serve_as: ServeAs
    module: str
    processes: bool = True
    reload: bool = True


SERVERS: dict[str, _Server] = {
    server.name: server
    for server in (
        _Server("uvicorn", "asgi", "uvicorn"),
        _Server("hypercorn", "asgi", "hypercorn"),
        _Server("granian", "asgi", "granian"),
        _Server("gunicorn", "wsgi", "gunicorn"),
        _Server("waitress", "wsgi", "waitress", processes=False, reload=False),
    )
}

_EPILOG = """\
examples:
  sgibridge serve examples.flask_app:app                     Flask on Uvicorn (WSGIToASGI)
  sgibridge serve examples.fastapi_gunicorn:app --server gunicorn --workers 2
                                                             FastAPI on Gunicorn (ASGIToWSGI)
  sgibridge serve myproject.wsgi:application --reload        Django on Uvicorn, reloading
  sgibridge serve mypkg:create_app --factory --port 5000     an app factory
  sgibridge inspect examples.flask_app:app                   what was detected, how it is served

The target is imported with the app directory (--app-dir, default: the current
directory) first on sys.path. WSGI, ASGI 3 and ASGI 2 apps are told apart
automatically; --interface overrides that.
"""


class _CLIError(Exception):
    """A one-line error for the user."""


# --- argument parsing -------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port number, got {text!r}"
        ) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port from 0 to 65535, got {value}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgibridge",
        description="Serve a WSGI or ASGI app on any server, through sgibridge's adapters.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"sgibridge {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "target", metavar="MODULE:ATTR", help="the app, e.g. examples.flask_app:app"
    )
    target.add_argument(
        "--factory",
        action="store_true",
        help="MODULE:ATTR is a function that takes no arguments and returns the app",
    )
    target.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="put DIR first on sys.path before importing (default: the current directory)",
    )
    target.add_argument(
        "--interface",
        choices=("auto", "wsgi", "asgi3", "asgi2"),
        default="auto",
        help="the app's interface (default: detect it)",
    )
    target.add_argument(
        "--server",
        choices=tuple(SERVERS),
        default="uvicorn",
        help="the server to run (default: uvicorn)",
    )
    target.add_argument(
        "--threads",
        type=_positive,
        metavar="N",
        help="WSGI worker threads: WSGIToASGI's pool on uvicorn, hypercorn and granian "
        "(default 10), gunicorn --threads, waitress threads (default 4)",
    )

    serve = commands.add_parser(
        "serve",
        parents=[target],
        help="start a server for MODULE:ATTR",
        description="Import MODULE:ATTR, detect WSGI, ASGI 3 or ASGI 2, wrap it in the\n"
        "adapter the server needs (or none) and start the server.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="bind port (default: 8000)"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="worker processes (not waitress; default: the server's own, 1)",
    )
    serve.add_argument(
        "--root-path",
        default="",
        metavar="P",
        help="the URL prefix the app is mounted under (e.g. /api), given to the server",
    )
    serve.add_argument(
        "--reload", action="store_true", help="restart when files change (not waitress)"
    )

    commands.add_parser(
        "inspect",
        parents=[target],
        help="print what MODULE:ATTR is and how each server would serve it",
        description="Import MODULE:ATTR and print its interface and, for each server,\n"
        "the adapter sgibridge would put around it. Starts nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


# --- shared steps -----------------------------------------------------------------------------


def _installed(server: _Server) -> bool:
    try:
        importlib.import_module(server.module)
    except ImportError:
        return False
    return True


def _install_hint(server: _Server) -> str:
    return f"pip install 'sgibridge[{server.name}]'"


def _spec(args: argparse.Namespace, server: _Server) -> ServeSpec:
    return ServeSpec(
        target=args.target,
        serve_as=server.serve_as,
        factory=args.factory,
        app_dir=os.path.abspath(args.app_dir),
        interface=args.interface,
        threads=args.threads,
    )


def _load(spec: ServeSpec) -> Loaded:
    try:
        return load(spec)
    except TargetError as exc:
        cause = exc.__cause__
        if cause is not None:  # the user's own code raised: its traceback helps
            traceback.print_exception(type(cause), cause, cause.__traceback__)
        raise _CLIError(str(exc)) from None


def _check(args: argparse.Namespace, server: _Server, interface: Interface) -> None:
    if args.workers is not None and not server.processes:
        raise _CLIError(
            f"{server.name} runs a single process, so --workers does not apply; "
            f"use --threads, or a server with worker processes (gunicorn, uvicorn)"
        )
    if args.reload and not server.reload:
        raise _CLIError(
            f"{server.name} has no reloader; drop --reload or use --server uvicorn"
        )
    if args.threads is not None and server.serve_as == "asgi" and interface != "wsgi":
        raise _CLIError(
            f"--threads sizes the thread pool of a WSGI app, but {args.target} is an "
            f"{label(interface)} app that {server.name} runs on its event loop"
        )
    if (
        args.reload
        and server.name == "granian"
        and importlib.util.find_spec("watchfiles") is None
    ):
        raise _CLIError(
            "granian --reload needs watchfiles: pip install 'granian[reload]'"
        )


# --- the servers ------------------------------------------------------------------------------


def _run_uvicorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    import uvicorn

    uvicorn.run(
        CLI_TARGET,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        reload_dirs=[spec.app_dir] if args.reload else None,
        root_path=args.root_path,
        interface="asgi3",
    )
    return 0


def _run_hypercorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = CLI_TARGET
    config.bind = [_bind(args.host, args.port)]
    config.workers = args.workers or 1
    config.use_reloader = args.reload
    config.root_path = args.root_path
    return int(run(config))


def _run_granian(args: argparse.Namespace, spec: ServeSpec) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        CLI_TARGET,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers or 1,
        url_path_prefix=args.root_path or None,
        reload=args.reload,
    ).serve()
    return 0


def _gunicorn_argv(args: argparse.Namespace) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        CLI_TARGET,
        "--bind",
        _bind(args.host, args.port),
    ]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.reload:
        argv.append("--reload")
    return argv


def _run_gunicorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    if args.root_path:
        os.environ["SCRIPT_NAME"] = args.root_path
    argv = _gunicorn_argv(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # gunicorn takes over this process (and its pid)
    return 1  # pragma: no cover - execv does not return


def _stop(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


def _run_waitress(args: argparse.Namespace, spec: ServeSpec) -> int:
    import waitress

    from ._asgi_to_wsgi import ASGIToWSGI

    served = load(spec).served
    # waitress stops its loop on SystemExit or KeyboardInterrupt; SIGTERM gets the same.
    signal.signal(signal.SIGTERM, _stop)
    try:
        waitress.serve(
            served,
            host=args.host,
            port=args.port,
            threads=args.threads or 4,
            url_prefix=args.root_path,
            ident="sgibridge",
        )
    finally:
        if isinstance(served, ASGIToWSGI):
            served.shutdown()  # lifespan shutdown, now rather than at exit
    return 0


_RUNNERS = {
    "uvicorn": _run_uvicorn,
    "hypercorn": _run_hypercorn,
    "granian": _run_granian,
    "gunicorn": _run_gunicorn,
    "waitress": _run_waitress,
}


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- the commands -----------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    server = SERVERS[args.server]
    if not _installed(server):
        raise _CLIError(
            f"the {server.name} server is not installed; install it with: "
            f"{_install_hint(server)}"
        )
    spec = _spec(args, server)
    loaded = _load(spec)
    interface = loaded.detection.interface
    _check(args, server, interface)
    os.environ[ENV_VAR] = spec.to_json()
    url = f"http://{_bind(args.host, args.port)}"
    if args.root_path:
        url += f" (root path {args.root_path})"
    how = adapter_label(interface, server.serve_as, args.threads)
    print(
        f"sgibridge: serving {args.target} ({label(interface)}) on {server.name} "
        f"{'as is' if how == 'as is' else 'through ' + how} at {url}",
        file=sys.stderr,
        flush=True,
    )
    return _RUNNERS[server.name](args, spec)


def _inspect(args: argparse.Namespace) -> int:
    loaded = _load(_spec(args, SERVERS[args.server]))
    detection = loaded.detection
    lines = [
        f"target:     {args.target}{' (factory)' if args.factory else ''}",
        f"object:     {_short_repr(loaded.app)}",
        f"interface:  {label(detection.interface)}: {detection.reason}",
        "",
        "how `sgibridge serve` runs it:",
    ]
    rows = []
    for server in SERVERS.values():
        name = server.name + (" (--server)" if server.name == args.server else "")
        how = adapter_label(detection.interface, server.serve_as, args.threads)
        state = (
            "installed" if _installed(server) else "missing: " + _install_hint(server)
        )
        rows.append((name, server.serve_as.upper(), how, state))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, speaks, how, state in rows:
        cells = (name.ljust(widths[0]), speaks.ljust(widths[1]), how.ljust(widths[2]))
        lines.append("  " + "  ".join(cells) + "  " + state)
    print("\n".join(lines))
    return 0


def _short_repr(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 100 else text[:97] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sgibridge`` command line; return the exit status.

    :param argv: the arguments after the program name (default: ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        return _inspect(args)
    except _CLIError as exc:
        print(f"sgibridge: error: {exc}", file=sys.stderr)
        return 1
