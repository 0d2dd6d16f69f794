"""``sgibridge serve`` and ``sgibridge inspect``: a thin layer over each server's own command line.

Theory of operation
===================

``serve`` parses its options, checks that the chosen server is installed and
that every option given is one that server can honour, then resolves, detects
and wraps the target with :func:`._cli_load.load` in its own process, so that a
bad target fails here with one clear line before any server starts. It checks
that the address is free, and then starts the real server through that
server's *own* command line, so that each option means what the server's
documentation says and the server validates it:

==========  ========  ==================================================================
server      speaks    started with
==========  ========  ==================================================================
uvicorn     ASGI      ``uvicorn`` (its click command, in this process; the default)
hypercorn   ASGI      ``hypercorn`` (its ``__main__.main``, in this process)
granian     ASGI      ``granian --interface asgi`` (its click command, in this process)
gunicorn    WSGI      ``os.execv``: ``python -m gunicorn ... --worker-class gthread``
waitress    WSGI      ``waitress.serve(app, ...)`` in this process
==========  ========  ==================================================================

Every command line names ``sgibridge._cli_target:app``. Servers that start
worker processes or a reloader need an *import string*, not an object, and
every process must build the same app. So the CLI writes a
:class:`._cli_load.ServeSpec` (target, factory, app directory, interface,
thread pool, and which interface the server speaks) as JSON into the
``SGIBRIDGE_SERVE`` environment variable, which child processes inherit.
Importing :mod:`._cli_target` reads the spec and calls :func:`._cli_load.load`,
which caches per process: a server running in this process gets the very
object the CLI inspected, and each worker process builds its own.

Options that sgibridge knows (``--log-level``, ``--no-access-log``,
``--forwarded-allow-ips``, the timeouts, TLS, ``--uds``, ``--config``) become
the server's own options (see :data:`_OPTION_NAMES`); one the chosen server
has no equivalent for is refused with one line, never dropped. Anything after
``--`` is appended to the server's command line as it is (for waitress, parsed
by waitress's own ``waitress-serve`` parser).

Gunicorn gets the ``gthread`` worker with :data:`GUNICORN_THREADS` threads,
so that one slow or streaming response does not hold every other request
(and is not killed by the sync worker's timeout), unless its configuration
file, ``GUNICORN_CMD_ARGS`` or the options after ``--`` choose a worker class
or a thread count; what they set is read with Gunicorn's own parser and wins
over sgibridge's defaults, as ``--threads``, ``--log-level`` and the other
explicit options win over the file.

``--root-path`` is normalised to one leading ``/`` and no trailing ``/``
(``legacy`` and ``/legacy/`` are ``/legacy``) and goes to each server's own
setting; the startup lines say whether that server wants requests with the
prefix or without it.

``inspect`` does the same resolution and prints the interface and, for every
server, how the app would be served; it starts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import importlib.util
import io
import logging
import os
import runpy
import shlex
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ._cli_load import ENV_VAR, Loaded, ServeAs, ServeSpec, adapter_label, load
from ._detect import Interface, TargetError, label
from ._version import __version__

__all__ = ("GUNICORN_THREADS", "SERVERS", "main")

#: The import string every server is given.
CLI_TARGET = "sgibridge._cli_target:app"
#: Threads per Gunicorn worker when nothing else says how many.
GUNICORN_THREADS = 4
#: Waitress's own default, shown in the help.
_WAITRESS_THREADS = 4


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

#: For each sgibridge option, the server's own option (``None``: the server has none).
_OPTION_NAMES: dict[str, dict[str, str | None]] = {
    "--forwarded-allow-ips": {
        "uvicorn": "--forwarded-allow-ips",
        "hypercorn": None,
        "granian": None,
        "gunicorn": "--forwarded-allow-ips",
        "waitress": "trusted_proxy",
    },
    "--timeout-keep-alive": {
        "uvicorn": "--timeout-keep-alive",
        "hypercorn": "--keep-alive",
        "granian": None,
        "gunicorn": "--keep-alive",
        "waitress": "channel_timeout",
    },
    "--timeout-graceful-shutdown": {
        "uvicorn": "--timeout-graceful-shutdown",
        "hypercorn": "--graceful-timeout",
        "granian": "--workers-kill-timeout",
        "gunicorn": "--graceful-timeout",
        "waitress": None,
    },
    "--ssl-certfile": {
        "uvicorn": "--ssl-certfile",
        "hypercorn": "--certfile",
        "granian": "--ssl-certificate",
        "gunicorn": "--certfile",
        "waitress": None,
    },
    "--ssl-keyfile": {
        "uvicorn": "--ssl-keyfile",
        "hypercorn": "--keyfile",
        "granian": "--ssl-keyfile",
        "gunicorn": "--keyfile",
        "waitress": None,
    },
    "--config": {
        "uvicorn": None,
        "hypercorn": None,
        "granian": None,
        "gunicorn": "--config",
        "waitress": None,
    },
}

#: Why a server cannot honour an option, and what to do instead.
_CANNOT: dict[tuple[str, str], str] = {
    (
        "--forwarded-allow-ips",
        "hypercorn",
    ): "hypercorn trusts proxies by hop count, not "
    "by address: wrap the app in hypercorn.middleware.ProxyFixMiddleware, or use uvicorn "
    "or gunicorn",
    ("--forwarded-allow-ips", "granian"): "granian has no proxy-header setting; use "
    "uvicorn or gunicorn",
    ("--timeout-keep-alive", "granian"): "granian's HTTP/1 keep-alive has no timeout "
    "(pass -- --no-http1-keep-alive to turn it off)",
    ("--timeout-graceful-shutdown", "waitress"): "waitress closes its connections at "
    "once when it stops",
    (
        "--ssl-certfile",
        "waitress",
    ): "waitress does not speak TLS: put a TLS-terminating "
    "proxy in front, or use another server",
    ("--ssl-keyfile", "waitress"): "waitress does not speak TLS: put a TLS-terminating "
    "proxy in front, or use another server",
    ("--config", "uvicorn"): "it is Gunicorn's configuration file; pass uvicorn's "
    "options after --",
    ("--config", "hypercorn"): "it is Gunicorn's configuration file; pass hypercorn's "
    "own with -- --config FILE",
    ("--config", "granian"): "it is Gunicorn's configuration file; pass granian's "
    "options after --",
    ("--config", "waitress"): "it is Gunicorn's configuration file; pass waitress's "
    "options after --",
}

#: What each server does with a root path, for the startup line.
_PREFIX_RULES = {
    "uvicorn": "uvicorn expects requests without the prefix (a proxy in front strips "
    "{p}) and adds it back for the app",
    "hypercorn": "hypercorn accepts requests with or without the prefix",
    "granian": "granian accepts requests with or without the prefix",
    "gunicorn": "gunicorn requires every request path to start with {p} (others get "
    "an error page)",
    "waitress": "waitress accepts requests with or without the prefix",
}

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
        f"(default 10), gunicorn --threads (default {GUNICORN_THREADS}, gthread worker), "
        f"waitress threads (default {_WAITRESS_THREADS})",
    )

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

    commands.add_parser(
        "inspect",
        parents=[target],
        help="print what MODULE:ATTR is and how each server would serve it",
        description="Import MODULE:ATTR and print its interface and, for each server,\n"
        "the adapter sgibridge would put around it. Starts nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` before the first ``--``, and what follows it."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]


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


def normalise_root_path(text: str) -> str:
    """``text`` as a mount prefix: one leading ``/``, no trailing ``/``; ``""`` for none.

    :raises _CLIError: when it is not a plain URL path (a query, a fragment, a
        percent-escape, whitespace, an empty, ``.`` or ``..`` segment).
    """
    inner = text.strip("/")
    if not inner:
        return ""
    segments = inner.split("/")
    if (
        any(char in text for char in "?#%\\")
        or any(char.isspace() or not char.isprintable() for char in text)
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise _CLIError(
            f"--root-path must be a URL path prefix such as /api (plain, unencoded "
            f"segments), got {text!r}"
        )
    return "/" + inner


def _check_options(args: argparse.Namespace, server: _Server) -> None:
    """Refuse, before anything is imported, what ``server`` cannot honour."""
    if args.workers is not None and not server.processes:
        raise _CLIError(
            f"{server.name} runs a single process, so --workers does not apply; "
            f"use --threads, or a server with worker processes (gunicorn, uvicorn)"
        )
    if args.reload and not server.reload:
        raise _CLIError(
            f"{server.name} has no reloader; drop --reload or use --server uvicorn"
        )
    if (
        args.reload
        and server.name == "granian"
        and importlib.util.find_spec("watchfiles") is None
    ):
        raise _CLIError(
            "granian --reload needs watchfiles: pip install 'granian[reload]'"
        )
    for option, names in _OPTION_NAMES.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is not None and names[server.name] is None:
            raise _CLIError(
                f"{server.name} cannot honour {option}: "
                f"{_CANNOT[(option, server.name)]}"
            )
    if args.uds is not None and (args.host is not None or args.port is not None):
        raise _CLIError("--uds replaces --host and --port; give one or the other")
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        raise _CLIError("TLS needs both --ssl-certfile and --ssl-keyfile")
    if (
        server.name == "waitress"
        and args.forwarded_allow_ips is not None
        and "," in args.forwarded_allow_ips
    ):
        raise _CLIError(
            "waitress trusts one proxy address (or '*'), got "
            f"--forwarded-allow-ips {args.forwarded_allow_ips!r}"
        )
    args.root_path_given = args.root_path
    args.root_path = normalise_root_path(args.root_path)


def _check_app(args: argparse.Namespace, server: _Server, interface: Interface) -> None:
    if args.threads is not None and server.serve_as == "asgi" and interface != "wsgi":
        raise _CLIError(
            f"--threads sizes the thread pool of a WSGI app, but {args.target} is an "
            f"{label(interface)} app that {server.name} runs on its event loop"
        )


def _host(args: argparse.Namespace) -> str:
    return "127.0.0.1" if args.host is None else str(args.host)


def _port_number(args: argparse.Namespace) -> int:
    return 8000 if args.port is None else int(args.port)


def _in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails with "address in use" (as a server binds)."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise _CLIError(f"cannot listen on host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise _CLIError(
                f"cannot listen on {_bind(host, port)}: {exc.strerror}"
            ) from None
    return False


def _uds_in_use(path: str) -> bool:
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False  # a stale file: the servers replace it
    return True


def _address_in_use_error(where: str, hint: str) -> _CLIError:
    return _CLIError(
        f"{where} is already in use (is another server running there?); stop it, or "
        f"{hint}"
    )


def _check_address(args: argparse.Namespace, binds: Sequence[str] = ()) -> None:
    """Refuse, in one line, an address that another process listens on."""
    if args.uds is not None:
        if _uds_in_use(args.uds):
            raise _address_in_use_error(
                f"the Unix socket {args.uds}", "choose another --uds path"
            )
        return
    if binds:  # from gunicorn's configuration
        for bind in binds:
            host, sep, port = bind.rpartition(":")
            if bind.startswith(("unix:", "fd://")) or not sep or not port.isdigit():
                continue
            host = host.strip("[]") or "0.0.0.0"
            if int(port) and _in_use(host, int(port)):
                raise _address_in_use_error(
                    f"{_bind(host, int(port))} (bind in gunicorn's configuration)",
                    "change bind there, or give --host and --port",
                )
        return
    ours, number = _host(args), _port_number(args)
    if number and _in_use(ours, number):
        raise _address_in_use_error(
            f"{_bind(ours, number)} (host {ours}, port {number})",
            "choose another with --port",
        )


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _raise_if_in_use(exc: OSError, args: argparse.Namespace) -> NoReturn:
    """Turn a server's own bind failure (lost race after :func:`_check_address`) into one line."""
    if exc.errno == errno.EADDRINUSE:
        if args.uds is not None:
            raise _address_in_use_error(
                f"the Unix socket {args.uds}", "choose another --uds path"
            ) from None
        host, port = _host(args), _port_number(args)
        raise _address_in_use_error(
            f"{_bind(host, port)} (host {host}, port {port})",
            "choose another with --port",
        ) from None
    raise exc


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# --- the servers ------------------------------------------------------------------------------


def _server_option(args: argparse.Namespace, server: str, option: str) -> list[str]:
    value = getattr(args, option[2:].replace("-", "_"))
    name = _OPTION_NAMES[option][server]
    if value is None or name is None:
        return []
    return [name, str(value)]


def _passthrough(args: argparse.Namespace) -> list[str]:
    extra: list[str] = args.passthrough
    return extra


def _common(args: argparse.Namespace, server: str) -> list[str]:
    argv: list[str] = []
    for option in _OPTION_NAMES:
        argv += _server_option(args, server, option)
    return argv


def uvicorn_argv(args: argparse.Namespace, spec: ServeSpec) -> list[str]:
    """Uvicorn's command line (without the program name) for ``args``."""
    argv = [CLI_TARGET, "--interface", "asgi3"]
    if args.uds is not None:
        argv += ["--uds", args.uds]
    else:
        argv += ["--host", _host(args), "--port", str(_port_number(args))]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.reload:
        argv += ["--reload", "--reload-dir", spec.app_dir]
    if args.root_path:
        argv += ["--root-path", args.root_path]
    if args.log_level is not None:
        argv += ["--log-level", args.log_level]
    if not args.access_log:
        argv.append("--no-access-log")
    if args.forwarded_allow_ips is not None:
        argv.append("--proxy-headers")
    return argv + _common(args, "uvicorn") + _passthrough(args)


def _run_uvicorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    from uvicorn.main import main as uvicorn_main

    try:
        uvicorn_main.main(
            args=uvicorn_argv(args, spec), prog_name="uvicorn", standalone_mode=True
        )
    except SystemExit as exc:
        return _exit_code(exc)
    return 0  # pragma: no cover - click's standalone mode always exits


def hypercorn_argv(args: argparse.Namespace, spec: ServeSpec) -> list[str]:
    """Hypercorn's command line (without the program name) for ``args``."""
    bind = (
        f"unix:{args.uds}"
        if args.uds is not None
        else _bind(_host(args), _port_number(args))
    )
    argv = [CLI_TARGET, "--bind", bind, "--workers", str(args.workers or 1)]
    if args.reload:
        argv.append("--reload")
    if args.root_path:
        argv += ["--root-path", args.root_path]
    if args.log_level is not None:
        argv += ["--log-level", args.log_level]
    if args.access_log:
        argv += ["--access-logfile", "-"]
    return argv + _common(args, "hypercorn") + _passthrough(args)


def _run_hypercorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    from hypercorn.__main__ import main as hypercorn_main

    try:
        return int(hypercorn_main(hypercorn_argv(args, spec)))
    except OSError as exc:
        _raise_if_in_use(exc, args)
    except SystemExit as exc:
        return _exit_code(exc)


def granian_argv(args: argparse.Namespace, spec: ServeSpec) -> list[str]:
    """Granian's command line (without the program name) for ``args``."""
    argv = [CLI_TARGET, "--interface", "asgi", "--workers", str(args.workers or 1)]
    if args.uds is not None:
        argv += ["--uds", args.uds]
    else:
        argv += ["--host", _host(args), "--port", str(_port_number(args))]
    if args.root_path:
        argv += ["--url-path-prefix", args.root_path]
    if args.reload:
        argv += ["--reload", "--reload-paths", spec.app_dir]
    if args.log_level is not None:
        argv += ["--log-level", args.log_level]
    argv.append("--access-log" if args.access_log else "--no-access-log")
    return argv + _common(args, "granian") + _passthrough(args)


def _run_granian(args: argparse.Namespace, spec: ServeSpec) -> int:
    from granian.cli import cli as granian_cli

    try:
        granian_cli.main(
            args=granian_argv(args, spec), prog_name="granian", standalone_mode=True
        )
    except OSError as exc:
        _raise_if_in_use(exc, args)
    except SystemExit as exc:
        return _exit_code(exc)
    return 0  # pragma: no cover - click's standalone mode always exits


@dataclass(frozen=True)
class _GunicornPlan:
    """What sgibridge passes to Gunicorn, and what Gunicorn will end up using."""

    argv: list[str]
    worker_class: str
    threads: int
    binds: list[str]
    """``bind`` from Gunicorn's configuration, when sgibridge passes none."""


def _gunicorn_file_settings(location: str | None) -> dict[str, Any]:
    """The Gunicorn settings a configuration file (or ``python:module``) sets."""
    from gunicorn.config import Config, get_default_config_file

    path = location if location is not None else get_default_config_file()
    if path is None:
        return {}
    try:
        if path.startswith("python:"):
            names = vars(importlib.import_module(path[len("python:") :]))
        else:
            path = path.removeprefix("file:")
            if not os.path.exists(path):
                raise _CLIError(
                    f"gunicorn's configuration file {path!r} does not exist"
                )
            names = runpy.run_path(path)
    except _CLIError:
        raise
    except Exception as exc:
        raise _CLIError(
            f"reading gunicorn's configuration {path!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    known = Config().settings
    return {key: value for key, value in names.items() if key in known}


def _gunicorn_settings(argv: Sequence[str]) -> dict[str, Any]:
    """The settings Gunicorn's own parser reads from ``argv`` (options only)."""
    from gunicorn.config import Config

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parsed = Config().parser().parse_args(list(argv))
    except SystemExit:
        said = errors.getvalue().strip().splitlines()
        raise _CLIError(
            f"gunicorn does not take {shlex.join(argv)!r}: "
            f"{said[-1] if said else 'usage error'}"
        ) from None
    return {
        key: value
        for key, value in vars(parsed).items()
        if value is not None and key != "args"
    }


def gunicorn_plan(args: argparse.Namespace) -> _GunicornPlan:
    """Gunicorn's command line for ``args``, with the gthread default applied."""
    env_args = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
    ours = _gunicorn_settings(args.passthrough)
    from_env = _gunicorn_settings(env_args)
    config = args.config or ours.get("config") or from_env.get("config")
    chosen = {**_gunicorn_file_settings(config), **from_env, **ours}

    argv = [sys.executable, "-m", "gunicorn", CLI_TARGET]
    binds: list[str] = []
    if args.uds is not None:
        argv += ["--bind", f"unix:{args.uds}"]
    elif args.host is not None or args.port is not None or "bind" not in chosen:
        argv += ["--bind", _bind(_host(args), _port_number(args))]
    else:
        bind = chosen["bind"]
        binds = [bind] if isinstance(bind, str) else [str(item) for item in bind]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]

    worker_class = str(chosen.get("worker_class", "gthread"))
    if "worker_class" not in chosen:
        argv += ["--worker-class", "gthread"]
    if args.threads is not None:
        threads = args.threads
        argv += ["--threads", str(threads)]
    elif "threads" in chosen:
        threads = int(chosen["threads"])
    else:
        threads = GUNICORN_THREADS if worker_class == "gthread" else 1
        if worker_class == "gthread":
            argv += ["--threads", str(threads)]
    if worker_class == "sync" and threads > 1:
        worker_class = "gthread"  # Gunicorn's own rule
    if args.reload:
        argv.append("--reload")
    if args.log_level is not None:
        argv += ["--log-level", args.log_level]
    if not args.access_log:
        if "accesslog" in chosen:
            raise _CLIError(
                "--no-access-log, but gunicorn's configuration sets accesslog; drop one"
            )
    elif "accesslog" not in chosen:
        argv += ["--access-logfile", "-"]
    argv += _common(args, "gunicorn") + _passthrough(args)
    return _GunicornPlan(argv, worker_class, threads, binds)


def _gunicorn_env(args: argparse.Namespace) -> None:
    if args.root_path:
        os.environ["SCRIPT_NAME"] = args.root_path


def _run_gunicorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    _gunicorn_env(args)
    argv = args.gunicorn.argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # gunicorn takes over this process (and its pid)
    return 1  # pragma: no cover - execv does not return


def _stop(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


def waitress_options(args: argparse.Namespace) -> dict[str, Any]:
    """``waitress.serve`` keywords for ``args``, the options after ``--`` included."""
    from waitress.adjustments import Adjustments

    try:
        extra, positional = Adjustments.parse_args(args.passthrough)
    except Exception as exc:  # getopt's error
        raise _CLIError(f"waitress does not take the options after --: {exc}") from None
    if positional:
        raise _CLIError(
            f"the options after -- are waitress-serve options; got {positional!r}"
        )
    options: dict[str, Any] = {"threads": args.threads or _WAITRESS_THREADS}
    if args.uds is not None:
        options["unix_socket"] = args.uds
    else:
        options.update(host=_host(args), port=_port_number(args))
    options.update(url_prefix=args.root_path, ident="sgibridge")
    if args.forwarded_allow_ips is not None:
        options.update(
            trusted_proxy=args.forwarded_allow_ips,
            trusted_proxy_headers="x-forwarded-for x-forwarded-host "
            "x-forwarded-proto x-forwarded-port",
            clear_untrusted_proxy_headers=True,
        )
    if args.timeout_keep_alive is not None:
        options["channel_timeout"] = args.timeout_keep_alive
    for key, value in extra.items():
        if key not in ("help", "call"):
            options[key] = value
    return options


def _log_to_stderr(name: str, level: int, fmt: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(getattr(h, "_sgibridge", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt))
        handler._sgibridge = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger


def _run_waitress(args: argparse.Namespace, spec: ServeSpec) -> int:
    import waitress

    from ._asgi_to_wsgi import ASGIToWSGI

    served = load(spec).served
    options = waitress_options(args)
    level = getattr(logging, (args.log_level or "info").upper())
    _log_to_stderr("waitress", level, "%(levelname)s:%(name)s:%(message)s")
    app: Any = served
    if args.access_log:
        app = AccessLog(
            served, _log_to_stderr("sgibridge.access", logging.INFO, "%(message)s")
        )
    # waitress stops its loop on SystemExit or KeyboardInterrupt; SIGTERM gets the same.
    signal.signal(signal.SIGTERM, _stop)
    try:
        waitress.serve(app, **options)
    except OSError as exc:
        _raise_if_in_use(exc, args)
    except ValueError as exc:  # waitress's own check of its settings
        raise _CLIError(f"waitress refused its settings: {exc}") from None
    finally:
        if isinstance(served, ASGIToWSGI):
            served.shutdown()  # lifespan shutdown, now rather than at exit
    return 0


class AccessLog:
    """A WSGI middleware that logs each response in the Common Log Format (with
    referer and user agent, as Apache's "combined"), for waitress, which keeps no
    access log of its own. The body streams through untouched; the line is
    written when the server closes the response."""

    def __init__(self, app: Callable[..., Iterable[bytes]], logger: logging.Logger):
        self.app = app
        self.logger = logger

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        seen: dict[str, str] = {"status": "-"}

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, *exc)

        return _Logged(self.app(environ, start), environ, seen, self.logger)


class _Logged:
    def __init__(
        self,
        result: Iterable[bytes],
        environ: dict[str, Any],
        seen: dict[str, str],
        logger: logging.Logger,
    ) -> None:
        self.result = result
        self.environ = environ
        self.seen = seen
        self.logger = logger
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.result:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            env = self.environ
            path = env.get("REQUEST_URI") or (
                env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "")
            )
            if env.get("QUERY_STRING") and "?" not in path:
                path += "?" + env["QUERY_STRING"]
            when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
            self.logger.info(
                '%s - - [%s] "%s %s %s" %s %s "%s" "%s"',
                env.get("REMOTE_ADDR", "-"),
                when,
                env.get("REQUEST_METHOD", "-"),
                path,
                env.get("SERVER_PROTOCOL", "-"),
                self.seen["status"],
                self.sent or "-",
                env.get("HTTP_REFERER", "-"),
                env.get("HTTP_USER_AGENT", "-"),
            )


_RUNNERS = {
    "uvicorn": _run_uvicorn,
    "hypercorn": _run_hypercorn,
    "granian": _run_granian,
    "gunicorn": _run_gunicorn,
    "waitress": _run_waitress,
}


# --- the commands -----------------------------------------------------------------------------


def _say(text: str) -> None:
    print(f"sgibridge: {text}", file=sys.stderr, flush=True)


def _serve(args: argparse.Namespace) -> int:
    server = SERVERS[args.server]
    if not _installed(server):
        raise _CLIError(
            f"the {server.name} server is not installed; install it with: "
            f"{_install_hint(server)}"
        )
    _check_options(args, server)
    binds: list[str] = []
    if server.name == "gunicorn":
        args.gunicorn = gunicorn_plan(args)
        binds = args.gunicorn.binds
    spec = _spec(args, server)
    loaded = _load(spec)
    interface = loaded.detection.interface
    _check_app(args, server, interface)
    _check_address(args, binds)
    os.environ[ENV_VAR] = spec.to_json()
    if loaded.note is not None:
        _say(loaded.note)
    if args.uds is not None:
        url = f"unix:{args.uds}"
    elif binds:
        url = " and ".join(f"http://{bind}" for bind in binds)
    else:
        scheme = "https" if args.ssl_certfile else "http"
        url = f"{scheme}://{_bind(_host(args), _port_number(args))}"
    if args.root_path:
        url += f" (root path {args.root_path})"
    how = adapter_label(interface, server.serve_as, args.threads)
    where = server.name
    if server.name == "gunicorn":
        plan = args.gunicorn
        where += f" ({plan.worker_class} worker"
        if plan.worker_class == "gthread":
            where += f", {plan.threads} threads per worker"
        where += ")"
    _say(
        f"serving {args.target} ({label(interface)}) on {where} "
        f"{'as is' if how == 'as is' else 'through ' + how} at {url}"
    )
    if args.root_path:
        if args.root_path != args.root_path_given:
            _say(f"--root-path {args.root_path_given!r} is taken as {args.root_path!r}")
        rule = _PREFIX_RULES[server.name].format(p=args.root_path)
        _say(f"root path {args.root_path}: {rule}; the app sees it as its mount prefix")
    return _RUNNERS[server.name](args, spec)


def _inspect(args: argparse.Namespace) -> int:
    loaded = _load(_spec(args, SERVERS[args.server]))
    detection = loaded.detection
    lines = [
        f"target:     {args.target}{' (factory)' if args.factory else ''}",
        f"object:     {_short_repr(loaded.app)}",
        f"interface:  {label(detection.interface)}: {detection.reason}",
    ]
    if loaded.note is not None:
        lines.append(f"note:       {loaded.note}")
    lines += ["", "how `sgibridge serve` runs it:"]
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

    :param argv: the arguments after the program name (default: ``sys.argv[1:]``);
        for ``serve``, those after ``--`` go to the server's command line.
    """
    own, passthrough = _split_passthrough(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(own)
    args.passthrough = passthrough
    try:
        if args.command == "serve":
            return _serve(args)
        if passthrough:
            raise _CLIError("options after -- are for `sgibridge serve` only")
        return _inspect(args)
    except _CLIError as exc:
        print(f"sgibridge: error: {exc}", file=sys.stderr)
        return 1
