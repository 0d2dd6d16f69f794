"""ASGIToWSGI's options, checked once when the middleware is made.

Each bad value raises at construction, naming the option and the value that
arrived, so that a typo fails at import time rather than on the first request
(docs/options.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._rules import see

__all__ = ("checked_options",)


def checked_options(
    *,
    wait_time: float | None,
    close_timeout: float | None,
    lifespan: str,
    asgi_version: str | None,
    backend: str,
    chunk_size: int,
    startup_timeout: float | None,
    shutdown_timeout: float,
    request_timeout: float | None,
    eager: bool,
    loop: object,
    backend_options: Mapping[str, Any] | None,
) -> tuple[float | None, bool]:
    """Check :class:`~sgibridge.ASGIToWSGI`'s options.

    :return: ``close_timeout`` (a2wsgi's ``wait_time`` is its other name) and
        whether to use uvloop when it is installed.
    :raises ValueError: for a value outside an option's range, or two that
        contradict each other.
    :raises TypeError: when ``eager`` is not a ``bool``.
    """
    if wait_time is not None:
        if close_timeout is not None and close_timeout != wait_time:
            raise ValueError(
                f"wait_time is a2wsgi's name for close_timeout; got both, "
                f"wait_time={wait_time!r} and close_timeout={close_timeout!r}"
            )
        close_timeout = wait_time
    for name, value, allowed in (
        ("lifespan", lifespan, ("auto", "on", "off")),
        ("asgi_version", asgi_version, (None, "2.0", "3.0")),
        ("backend", backend, ("asyncio", "trio")),
    ):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed!r}, got {value!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int of at least 1, got {chunk_size!r}")
    _check_timeouts(
        close_timeout=close_timeout,
        startup_timeout=startup_timeout,
        shutdown_timeout=shutdown_timeout,
    )
    if request_timeout is not None and not request_timeout > 0:
        raise ValueError(
            f"request_timeout must be > 0 or None, got {request_timeout!r}"
        )
    if not isinstance(eager, bool):
        raise TypeError(f"eager must be True or False, got {eager!r}")
    if eager and request_timeout is not None:
        raise ValueError(
            "A2W-EAGER-01: eager=True runs the app's first step on the WSGI "
            "server's thread, where request_timeout cannot cancel it; got "
            f"request_timeout={request_timeout!r} ({see('A2W-EAGER-01')})"
        )
    if loop is not None and backend != "asyncio":
        raise ValueError(f"loop= needs backend='asyncio', got backend={backend!r}")
    options = dict(backend_options or {})
    use_uvloop = bool(options.pop("use_uvloop", True))
    if options:
        raise ValueError(f"unknown backend_options: {sorted(options)!r}")
    return close_timeout, use_uvloop


def _check_timeouts(**timeouts: float | None) -> None:
    for name, value in timeouts.items():
        if value is not None and not value >= 0:
            raise ValueError(f"{name} must be >= 0 or None, got {value!r}")
