"""The servers ``sgibridge serve`` can start, and which of its options each can honour.

:data:`SERVERS` names each server, the interface it speaks, and whether it runs
worker processes and has a reloader. :data:`OPTION_NAMES` maps each option
sgibridge knows to the server's own; where a server has none,
:func:`check_options` refuses the option with the reason (never drops it), and
:func:`mapped_options` writes the rest on the server's command line.
:class:`CLIError`, the one-line error every part of the command line raises,
is defined here, at the bottom of the command line's imports.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._detect import Interface, label

if TYPE_CHECKING:
    from ._cli_load import ServeAs

__all__ = (
    "CLI_TARGET",
    "GUNICORN_THREADS",
    "OPTION_NAMES",
    "PREFIX_RULES",
    "SERVERS",
    "WAITRESS_THREADS",
    "CLIError",
    "Server",
    "check_app",
    "check_options",
    "install_hint",
    "installed",
    "mapped_options",
    "normalise_root_path",
    "passthrough_argv",
)

#: The import string every server is given.
CLI_TARGET = "sgibridge._cli_target:app"
#: Threads per Gunicorn worker when nothing else says how many.
GUNICORN_THREADS = 4
#: Waitress's own default, shown in the help.
WAITRESS_THREADS = 4


@dataclass(frozen=True)
class Server:
    name: str
    serve_as: ServeAs
    module: str
    processes: bool = True
    reload: bool = True


SERVERS: dict[str, Server] = {
    server.name: server
    for server in (
        Server("uvicorn", "asgi", "uvicorn"),
        Server("hypercorn", "asgi", "hypercorn"),
        Server("granian", "asgi", "granian"),
        Server("gunicorn", "wsgi", "gunicorn"),
        Server("waitress", "wsgi", "waitress", processes=False, reload=False),
    )
}

#: For each sgibridge option, the server's own option (``None``: the server has none).
OPTION_NAMES: dict[str, dict[str, str | None]] = {
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
PREFIX_RULES = {
    "uvicorn": "uvicorn expects requests without the prefix (a proxy in front strips "
    "{p}) and adds it back for the app",
    "hypercorn": "hypercorn accepts requests with or without the prefix",
    "granian": "granian accepts requests with or without the prefix",
    "gunicorn": "gunicorn requires every request path to start with {p} (others get "
    "an error page)",
    "waitress": "waitress accepts requests with or without the prefix",
}


class CLIError(Exception):
    """A one-line error for the user."""


# --- checks -----------------------------------------------------------------------------------


def installed(server: Server) -> bool:
    """Whether ``server``'s package can be imported."""
    try:
        importlib.import_module(server.module)
    except ImportError:
        return False
    return True


def install_hint(server: Server) -> str:
    """The ``pip install`` line that adds ``server``."""
    return f"pip install 'sgibridge[{server.name}]'"


def normalise_root_path(text: str) -> str:
    """``text`` as a mount prefix: one leading ``/``, no trailing ``/``; ``""`` for none.

    :raises CLIError: when it is not a plain URL path (a query, a fragment, a
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
        raise CLIError(
            f"--root-path must be a URL path prefix such as /api (plain, unencoded "
            f"segments), got {text!r}"
        )
    return "/" + inner


def check_options(args: argparse.Namespace, server: Server) -> None:
    """Refuse, before anything is imported, what ``server`` cannot honour."""
    if args.workers is not None and not server.processes:
        raise CLIError(
            f"{server.name} runs a single process, so --workers does not apply; "
            f"use --threads, or a server with worker processes (gunicorn, uvicorn)"
        )
    if args.reload and not server.reload:
        raise CLIError(
            f"{server.name} has no reloader; drop --reload or use --server uvicorn"
        )
    if (
        args.reload
        and server.name == "granian"
        and importlib.util.find_spec("watchfiles") is None
    ):
        raise CLIError(
            "granian --reload needs watchfiles: pip install 'granian[reload]'"
        )
    for option, names in OPTION_NAMES.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is not None and names[server.name] is None:
            raise CLIError(
                f"{server.name} cannot honour {option}: "
                f"{_CANNOT[(option, server.name)]}"
            )
    if args.uds is not None and (args.host is not None or args.port is not None):
        raise CLIError("--uds replaces --host and --port; give one or the other")
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        raise CLIError("TLS needs both --ssl-certfile and --ssl-keyfile")
    if (
        server.name == "waitress"
        and args.forwarded_allow_ips is not None
        and "," in args.forwarded_allow_ips
    ):
        raise CLIError(
            "waitress trusts one proxy address (or '*'), got "
            f"--forwarded-allow-ips {args.forwarded_allow_ips!r}"
        )
    args.root_path_given = args.root_path
    args.root_path = normalise_root_path(args.root_path)


def check_app(args: argparse.Namespace, server: Server, interface: Interface) -> None:
    """Refuse, once the interface is known, an option that does not apply to the app."""
    if args.threads is not None and server.serve_as == "asgi" and interface != "wsgi":
        raise CLIError(
            f"--threads sizes the thread pool of a WSGI app, but {args.target} is an "
            f"{label(interface)} app that {server.name} runs on its event loop"
        )


# --- the server's command line ----------------------------------------------------------------


def _server_option(args: argparse.Namespace, server: str, option: str) -> list[str]:
    value = getattr(args, option[2:].replace("-", "_"))
    name = OPTION_NAMES[option][server]
    if value is None or name is None:
        return []
    return [name, str(value)]


def passthrough_argv(args: argparse.Namespace) -> list[str]:
    """The options given after ``--``, for the server's command line as they are."""
    extra: list[str] = args.passthrough
    return extra


def mapped_options(args: argparse.Namespace, server: str) -> list[str]:
    """The :data:`OPTION_NAMES` options given, under ``server``'s own names."""
    argv: list[str] = []
    for option in OPTION_NAMES:
        argv += _server_option(args, server, option)
    return argv
