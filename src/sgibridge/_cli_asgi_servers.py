"""Uvicorn, Hypercorn and Granian: each started through its own command line, in this process.

Each ``*_argv`` function writes the server's command line (without the program
name) for the options ``sgibridge serve`` was given, naming
``sgibridge._cli_target:app``; each ``run_*`` hands it to the server's own
entry point and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ._cli_address import hostport, listen_host, listen_port, raise_if_in_use
from ._cli_servers import CLI_TARGET, mapped_options, passthrough_argv

if TYPE_CHECKING:
    from ._cli_load import ServeSpec

__all__ = (
    "granian_argv",
    "hypercorn_argv",
    "run_granian",
    "run_hypercorn",
    "run_uvicorn",
    "uvicorn_argv",
)


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run_click(
    command: Any, argv: list[str], prog_name: str, args: argparse.Namespace
) -> int:
    """Run a server's click command in this process; return its exit status."""
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=True)
    except OSError as exc:
        raise_if_in_use(exc, args)
    except SystemExit as exc:
        return _exit_code(exc)
    return 0  # pragma: no cover - click's standalone mode always exits


def uvicorn_argv(args: argparse.Namespace, spec: ServeSpec) -> list[str]:
    """Uvicorn's command line (without the program name) for ``args``."""
    argv = [CLI_TARGET, "--interface", "asgi3"]
    if args.uds is not None:
        argv += ["--uds", args.uds]
    else:
        argv += ["--host", listen_host(args), "--port", str(listen_port(args))]
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
    return argv + mapped_options(args, "uvicorn") + passthrough_argv(args)


def run_uvicorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    """Run uvicorn's click command in this process; return its exit status."""
    from uvicorn.main import main as uvicorn_main

    return _run_click(uvicorn_main, uvicorn_argv(args, spec), "uvicorn", args)


def hypercorn_argv(args: argparse.Namespace, spec: ServeSpec) -> list[str]:
    """Hypercorn's command line (without the program name) for ``args``."""
    bind = (
        f"unix:{args.uds}"
        if args.uds is not None
        else hostport(listen_host(args), listen_port(args))
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
    return argv + mapped_options(args, "hypercorn") + passthrough_argv(args)


def run_hypercorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    """Run hypercorn's ``main`` in this process; return its exit status."""
    from hypercorn.__main__ import main as hypercorn_main

    try:
        return int(hypercorn_main(hypercorn_argv(args, spec)))
    except OSError as exc:
        raise_if_in_use(exc, args)
    except SystemExit as exc:
        return _exit_code(exc)


def granian_argv(args: argparse.Namespace, spec: ServeSpec) -> list[str]:
    """Granian's command line (without the program name) for ``args``."""
    argv = [CLI_TARGET, "--interface", "asgi", "--workers", str(args.workers or 1)]
    if args.uds is not None:
        argv += ["--uds", args.uds]
    else:
        argv += ["--host", listen_host(args), "--port", str(listen_port(args))]
    if args.root_path:
        argv += ["--url-path-prefix", args.root_path]
    if args.reload:
        argv += ["--reload", "--reload-paths", spec.app_dir]
    if args.log_level is not None:
        argv += ["--log-level", args.log_level]
    argv.append("--access-log" if args.access_log else "--no-access-log")
    return argv + mapped_options(args, "granian") + passthrough_argv(args)


def run_granian(args: argparse.Namespace, spec: ServeSpec) -> int:
    """Run granian's click command in this process; return its exit status."""
    from granian.cli import cli as granian_cli

    return _run_click(granian_cli, granian_argv(args, spec), "granian", args)
    return 0  # pragma: no cover - click's standalone mode always exits
