"""Gunicorn: its command line, with sgibridge's worker default, and ``os.execv`` into it.

Gunicorn gets the ``gthread`` worker with :data:`~._cli_servers.GUNICORN_THREADS`
threads, so that one slow or streaming response does not hold every other
request (and is not killed by the sync worker's timeout), unless its
configuration file, ``GUNICORN_CMD_ARGS`` or the options after ``--`` choose a
worker class or a thread count; what they set is read with Gunicorn's own
parser and wins over sgibridge's defaults, as ``--threads``, ``--log-level``
and the other explicit options win over the file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import runpy
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._cli_address import hostport, listen_host, listen_port
from ._cli_servers import (
    CLI_TARGET,
    GUNICORN_THREADS,
    CLIError,
    mapped_options,
    passthrough_argv,
)

if TYPE_CHECKING:
    from ._cli_load import ServeSpec

__all__ = ("GunicornPlan", "gunicorn_plan", "run_gunicorn")


@dataclass(frozen=True)
class GunicornPlan:
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
                raise CLIError(f"gunicorn's configuration file {path!r} does not exist")
            names = runpy.run_path(path)
    except CLIError:
        raise
    except Exception as exc:
        raise CLIError(
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
        raise CLIError(
            f"gunicorn does not take {shlex.join(argv)!r}: "
            f"{said[-1] if said else 'usage error'}"
        ) from None
    return {
        key: value
        for key, value in vars(parsed).items()
        if value is not None and key != "args"
    }


def gunicorn_plan(args: argparse.Namespace) -> GunicornPlan:
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
        argv += ["--bind", hostport(listen_host(args), listen_port(args))]
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
            raise CLIError(
                "--no-access-log, but gunicorn's configuration sets accesslog; drop one"
            )
    elif "accesslog" not in chosen:
        argv += ["--access-logfile", "-"]
    argv += mapped_options(args, "gunicorn") + passthrough_argv(args)
    return GunicornPlan(argv, worker_class, threads, binds)


def _gunicorn_env(args: argparse.Namespace) -> None:
    if args.root_path:
        os.environ["SCRIPT_NAME"] = args.root_path


def run_gunicorn(args: argparse.Namespace, spec: ServeSpec) -> int:
    """Replace this process with Gunicorn, as planned by :func:`gunicorn_plan`."""
    _gunicorn_env(args)
    argv = args.gunicorn.argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # gunicorn takes over this process (and its pid)
    return 1  # pragma: no cover - execv does not return
