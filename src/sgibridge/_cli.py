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
the server's own options (see :data:`._cli_servers.OPTION_NAMES`); one the chosen server
has no equivalent for is refused with one line, never dropped. Anything after
``--`` is appended to the server's command line as it is (for waitress, parsed
by waitress's own ``waitress-serve`` parser).

Gunicorn gets the ``gthread`` worker unless its own configuration chooses
another (see :mod:`._cli_gunicorn`).

``--root-path`` is normalised to one leading ``/`` and no trailing ``/``
(``legacy`` and ``/legacy/`` are ``/legacy``) and goes to each server's own
setting; the startup lines say whether that server wants requests with the
prefix or without it.

``inspect`` does the same resolution and prints the interface and, for every
server, how the app would be served; it starts nothing.

This module holds the two commands and the startup lines; the parts they use:

=========================  ===================================================================
module                     part
=========================  ===================================================================
:mod:`._cli_parser`        the options and the help text
:mod:`._cli_servers`       the servers, the options each can honour, the checks made first
:mod:`._cli_load`          resolving ``MODULE:ATTR`` and wrapping the app (detection is in
                           :mod:`._detect`)
:mod:`._cli_address`       whether the address is free, and how it is written
:mod:`._cli_asgi_servers`  uvicorn, hypercorn and granian: their command lines, started
:mod:`._cli_gunicorn`      gunicorn's command line, and ``os.execv`` into it
:mod:`._cli_waitress`      ``waitress.serve`` and the access log sgibridge writes for it
=========================  ===================================================================
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from ._cli_address import check_address, listen_url
from ._cli_asgi_servers import run_granian, run_hypercorn, run_uvicorn
from ._cli_gunicorn import gunicorn_plan, run_gunicorn
from ._cli_load import ENV_VAR, Loaded, ServeSpec, adapter_label, load
from ._cli_parser import build_parser, split_passthrough
from ._cli_servers import (
    PREFIX_RULES,
    SERVERS,
    CLIError,
    Server,
    check_app,
    check_options,
    install_hint,
    installed,
)
from ._cli_waitress import run_waitress
from ._detect import TargetError, label

__all__ = ("main",)

_RUNNERS = {
    "uvicorn": run_uvicorn,
    "hypercorn": run_hypercorn,
    "granian": run_granian,
    "gunicorn": run_gunicorn,
    "waitress": run_waitress,
}


# --- the commands -----------------------------------------------------------------------------


def _spec(args: argparse.Namespace, server: Server) -> ServeSpec:
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
        raise CLIError(str(exc)) from None


def _say(text: str) -> None:
    print(f"sgibridge: {text}", file=sys.stderr, flush=True)


def _serve(args: argparse.Namespace) -> int:
    server = SERVERS[args.server]
    if not installed(server):
        raise CLIError(
            f"the {server.name} server is not installed; install it with: "
            f"{install_hint(server)}"
        )
    check_options(args, server)
    binds: list[str] = []
    if server.name == "gunicorn":
        args.gunicorn = gunicorn_plan(args)
        binds = args.gunicorn.binds
    spec = _spec(args, server)
    loaded = _load(spec)
    interface = loaded.detection.interface
    check_app(args, server, interface)
    check_address(args, binds)
    os.environ[ENV_VAR] = spec.to_json()
    _announce(args, server, loaded, binds)
    return _RUNNERS[server.name](args, spec)


def _announce(
    args: argparse.Namespace, server: Server, loaded: Loaded, binds: Sequence[str]
) -> None:
    """The startup lines: what is served, on which server, through what, and where."""
    interface = loaded.detection.interface
    if loaded.note is not None:
        _say(loaded.note)
    url = listen_url(args, binds)
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
        rule = PREFIX_RULES[server.name].format(p=args.root_path)
        _say(f"root path {args.root_path}: {rule}; the app sees it as its mount prefix")


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
        state = "installed" if installed(server) else "missing: " + install_hint(server)
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
    own, passthrough = split_passthrough(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(own)
    args.passthrough = passthrough
    try:
        if args.command == "serve":
            return _serve(args)
        if passthrough:
            raise CLIError("options after -- are for `sgibridge serve` only")
        return _inspect(args)
    except CLIError as exc:
        print(f"sgibridge: error: {exc}", file=sys.stderr)
        return 1
