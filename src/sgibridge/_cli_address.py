"""The address a server will listen on: its defaults, whether another process holds it, and
how it is written in messages."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from collections.abc import Sequence
from typing import NoReturn

from ._cli_servers import CLIError

__all__ = (
    "check_address",
    "hostport",
    "listen_host",
    "listen_port",
    "listen_url",
    "raise_if_in_use",
)


def listen_host(args: argparse.Namespace) -> str:
    """``--host``, or ``127.0.0.1``."""
    return "127.0.0.1" if args.host is None else str(args.host)


def listen_port(args: argparse.Namespace) -> int:
    """``--port``, or 8000."""
    return 8000 if args.port is None else int(args.port)


def _in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails with "address in use" (as a server binds)."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CLIError(f"cannot listen on host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise CLIError(
                f"cannot listen on {hostport(host, port)}: {exc.strerror}"
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


def _address_in_use_error(where: str, hint: str) -> CLIError:
    return CLIError(
        f"{where} is already in use (is another server running there?); stop it, or "
        f"{hint}"
    )


def check_address(args: argparse.Namespace, binds: Sequence[str] = ()) -> None:
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
                    f"{hostport(host, int(port))} (bind in gunicorn's configuration)",
                    "change bind there, or give --host and --port",
                )
        return
    ours, number = listen_host(args), listen_port(args)
    if number and _in_use(ours, number):
        raise _address_in_use_error(
            f"{hostport(ours, number)} (host {ours}, port {number})",
            "choose another with --port",
        )


def hostport(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def raise_if_in_use(exc: OSError, args: argparse.Namespace) -> NoReturn:
    """Turn a server's own bind failure (lost race after :func:`check_address`) into one line."""
    if exc.errno == errno.EADDRINUSE:
        if args.uds is not None:
            raise _address_in_use_error(
                f"the Unix socket {args.uds}", "choose another --uds path"
            ) from None
        host, port = listen_host(args), listen_port(args)
        raise _address_in_use_error(
            f"{hostport(host, port)} (host {host}, port {port})",
            "choose another with --port",
        ) from None
    raise exc


def listen_url(args: argparse.Namespace, binds: Sequence[str] = ()) -> str:
    """Where the server will listen, as the startup line says it.

    :param binds: the addresses from Gunicorn's configuration, when sgibridge passes none.
    """
    if args.uds is not None:
        return f"unix:{args.uds}"
    if binds:
        return " and ".join(f"http://{bind}" for bind in binds)
    scheme = "https" if args.ssl_certfile else "http"
    return f"{scheme}://{hostport(listen_host(args), listen_port(args))}"
