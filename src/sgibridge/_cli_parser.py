"""The ``sgibridge`` command line's options and help text, and the split at ``--``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._cli_servers import GUNICORN_THREADS, SERVERS, WAITRESS_THREADS
from ._version import __version__

__all__ = ("build_parser", "split_passthrough")

_EPILOG = """\
examples:
  sgibridge serve examples.flask_app:app                     Flask on Uvicorn (WSGIToASGI)
  sgibridge serve examples.fastapi_gunicorn:app --server gunicorn --workers 2
                                                             FastAPI on Gunicorn (ASGIToWSGI)
  sgibridge serve myproject.wsgi:application --reload        Django on Uvicorn, reloading
  sgibridge serve mypkg:create_app --factory --port 5000     an app factory
  sgibridge serve examples.fastapi_gunicorn:app --server gunicorn -- --timeout 120
                                                             anything else, after --
  sgibridge inspect examples.flask_app:app                   what was detected, how it is served

The target is imported with the app directory (--app-dir, default: the current
directory) first on sys.path. WSGI, ASGI 3 and ASGI 2 apps are told apart
automatically; --interface overrides that. Options after -- go to the server's
own command line unchanged.
"""


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


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole seconds, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {value}")
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


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``sgibridge``, its ``serve`` and ``inspect`` commands and their help."""
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
    _add_target_options(target)

    serve = commands.add_parser(
        "serve",
        parents=[target],
        help="start a server for MODULE:ATTR",
        usage="sgibridge serve MODULE:ATTR [options] [-- SERVER OPTIONS]",
        description="Import MODULE:ATTR, detect WSGI, ASGI 3 or ASGI 2, wrap it in the\n"
        "adapter the server needs (or none) and start the server.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_serve_options(serve)

    commands.add_parser(
        "inspect",
        parents=[target],
        help="print what MODULE:ATTR is and how each server would serve it",
        description="Import MODULE:ATTR and print its interface and, for each server,\n"
        "the adapter sgibridge would put around it. Starts nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _add_target_options(target: argparse.ArgumentParser) -> None:
    """The options ``serve`` and ``inspect`` share: what the app is, and the server."""
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
        f"(default 10), gunicorn --threads (default {GUNICORN_THREADS}, gthread worker), "
        f"waitress threads (default {WAITRESS_THREADS})",
    )


def _add_serve_options(serve: argparse.ArgumentParser) -> None:
    """The options only ``serve`` takes: where to listen, and how the server runs."""
    serve.add_argument("--host", default=None, help="bind address (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=None, help="bind port (default: 8000)"
    )
    serve.add_argument(
        "--uds", metavar="PATH", help="listen on a Unix domain socket instead"
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
    serve.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        help="the server's log level (default: the server's own)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="turn off the access log (on by default, in each server's own format)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="trust X-Forwarded-* headers from these comma-separated addresses "
        "('*' for any): uvicorn, gunicorn, waitress (one address)",
    )
    serve.add_argument(
        "--timeout-keep-alive",
        type=_seconds,
        metavar="S",
        help="close idle keep-alive connections after S seconds (not granian)",
    )
    serve.add_argument(
        "--timeout-graceful-shutdown",
        type=_seconds,
        metavar="S",
        help="on stop, wait at most S seconds for requests in flight (not waitress)",
    )
    serve.add_argument(
        "--ssl-certfile", metavar="FILE", help="TLS certificate (not waitress)"
    )
    serve.add_argument("--ssl-keyfile", metavar="FILE", help="TLS key (not waitress)")
    serve.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="Gunicorn's configuration file (gunicorn only); sgibridge's own options "
        "win over it, its settings win over sgibridge's defaults",
    )


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` before the first ``--``, and what follows it."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]
