"""Waitress: ``waitress.serve`` in this process, with an access log (waitress keeps none).

The options after ``--`` are parsed by waitress's own ``waitress-serve``
parser. :class:`AccessLog` is the WSGI middleware that writes one line per
response in the combined log format.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

from ._cli_address import listen_host, listen_port, raise_if_in_use
from ._cli_load import ServeSpec, load
from ._cli_servers import WAITRESS_THREADS, CLIError

__all__ = ("AccessLog", "run_waitress", "waitress_options")


def _stop(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


def waitress_options(args: argparse.Namespace) -> dict[str, Any]:
    """``waitress.serve`` keywords for ``args``, the options after ``--`` included."""
    from waitress.adjustments import Adjustments

    try:
        extra, positional = Adjustments.parse_args(args.passthrough)
    except Exception as exc:  # getopt's error
        raise CLIError(f"waitress does not take the options after --: {exc}") from None
    if positional:
        raise CLIError(
            f"the options after -- are waitress-serve options; got {positional!r}"
        )
    options: dict[str, Any] = {"threads": args.threads or WAITRESS_THREADS}
    if args.uds is not None:
        options["unix_socket"] = args.uds
    else:
        options.update(host=listen_host(args), port=listen_port(args))
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


def run_waitress(args: argparse.Namespace, spec: ServeSpec) -> int:
    """Serve the app with ``waitress.serve`` in this process until it stops."""
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
        raise_if_in_use(exc, args)
    except ValueError as exc:  # waitress's own check of its settings
        raise CLIError(f"waitress refused its settings: {exc}") from None
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
