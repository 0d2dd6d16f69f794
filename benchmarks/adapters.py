"""Registries of the adapters under comparison, by direction.

W2A (a WSGI app served as ASGI) and A2W (an ASGI app served as WSGI) each list:

- the **subject**, ``sgibridge``;
- the **peers**, other libraries doing the same job;
- the **ceiling**, the same work with no adapter at all (``bare-asgi`` / ``bare-wsgi``: the
  benchmark app written natively for the server's interface).

Imports happen only when an adapter is built, so a peer that is not installed, or a sgibridge
whose adapters are not written yet, shows up as :class:`Unavailable` with the reason instead of
crashing the run.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from benchmarks.apps import ASGIApp, WSGIApp, asgi_app, wsgi_app

__all__ = (
    "A2W",
    "W2A",
    "AdapterSpec",
    "Built",
    "Direction",
    "Role",
    "Unavailable",
    "build",
    "build_all",
    "close",
    "registry",
)

Direction = Literal["w2a", "a2w"]
Role = Literal["subject", "peer", "ceiling"]


@dataclass(frozen=True)
class AdapterSpec:
    """One entry of a registry.

    :ivar name: short name used in tables and on the command line.
    :ivar direction: ``"w2a"`` or ``"a2w"``.
    :ivar role: ``"subject"`` (sgibridge), ``"peer"`` or ``"ceiling"``.
    :ivar expression: how the app is built, for the report.
    :ivar factory: builds the served app from the benchmark apps; may raise when not installed.
    """

    name: str
    direction: Direction
    role: Role
    expression: str
    factory: Callable[[], Any]


@dataclass(frozen=True)
class Built:
    """An adapter that imported and built: ``app`` is ASGI for W2A and WSGI for A2W."""

    spec: AdapterSpec
    app: Any
    version: str


@dataclass(frozen=True)
class Unavailable:
    """An adapter that could not be built, and why."""

    spec: AdapterSpec
    reason: str


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _framework() -> bool:
    """Does this server run the framework rows (``SGIBRIDGE_BENCH_APP=framework``)?"""
    return os.environ.get("SGIBRIDGE_BENCH_APP", "bench") == "framework"


def _inner_wsgi() -> WSGIApp:
    """The WSGI app the W2A adapters wrap: the benchmark app, or Flask hello."""
    if _framework():
        return cast(
            WSGIApp, importlib.import_module("benchmarks.frameworks").flask_app()
        )
    return wsgi_app


def _inner_asgi() -> ASGIApp:
    """The ASGI app the A2W adapters wrap: the benchmark app, or FastAPI hello."""
    if _framework():
        module = importlib.import_module("benchmarks.frameworks")
        return cast(ASGIApp, module.fastapi_app())
    return asgi_app


# --- W2A factories ----------------------------------------------------------------------------


def _w2a_sgibridge() -> ASGIApp:
    # benchmarks/upload.py compares watermarks (the request body's read-ahead) this way.
    size = os.environ.get("SGIBRIDGE_BENCH_BUFFER_SIZE")
    options = {"buffer_size": int(size)} if size else {}
    module = importlib.import_module("sgibridge")
    return cast(ASGIApp, module.WSGIToASGI(_inner_wsgi(), **options))


def _w2a_a2wsgi() -> ASGIApp:
    return cast(
        ASGIApp, importlib.import_module("a2wsgi").WSGIMiddleware(_inner_wsgi())
    )


def _w2a_asgiref() -> ASGIApp:
    return cast(
        ASGIApp, importlib.import_module("asgiref.wsgi").WsgiToAsgi(_inner_wsgi())
    )


def _w2a_uvicorn() -> ASGIApp:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module("uvicorn.middleware.wsgi")
        return cast(ASGIApp, module._WSGIMiddleware(_inner_wsgi()))


def _w2a_starlette() -> ASGIApp:
    # The module warns at import time (StarletteDeprecationWarning, a UserWarning subclass).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = importlib.import_module("starlette.middleware.wsgi")
        return cast(ASGIApp, module.WSGIMiddleware(_inner_wsgi()))


def _w2a_bare() -> ASGIApp:
    return asgi_app


# --- A2W factories ----------------------------------------------------------------------------


def _a2w_sgibridge() -> WSGIApp:
    return cast(WSGIApp, importlib.import_module("sgibridge").ASGIToWSGI(_inner_asgi()))


def _a2w_a2wsgi() -> WSGIApp:
    return cast(
        WSGIApp, importlib.import_module("a2wsgi").ASGIMiddleware(_inner_asgi())
    )


def _a2w_bare() -> WSGIApp:
    return wsgi_app


W2A: tuple[AdapterSpec, ...] = (
    AdapterSpec(
        "sgibridge", "w2a", "subject", "sgibridge.WSGIToASGI(app)", _w2a_sgibridge
    ),
    AdapterSpec("a2wsgi", "w2a", "peer", "a2wsgi.WSGIMiddleware(app)", _w2a_a2wsgi),
    AdapterSpec("asgiref", "w2a", "peer", "asgiref.wsgi.WsgiToAsgi(app)", _w2a_asgiref),
    AdapterSpec(
        "uvicorn",
        "w2a",
        "peer",
        "uvicorn.middleware.wsgi._WSGIMiddleware(app)",
        _w2a_uvicorn,
    ),
    AdapterSpec(
        "starlette",
        "w2a",
        "peer",
        "starlette.middleware.wsgi.WSGIMiddleware(app)",
        _w2a_starlette,
    ),
    AdapterSpec("bare-asgi", "w2a", "ceiling", "benchmarks.apps.asgi_app", _w2a_bare),
)

A2W: tuple[AdapterSpec, ...] = (
    AdapterSpec(
        "sgibridge", "a2w", "subject", "sgibridge.ASGIToWSGI(app)", _a2w_sgibridge
    ),
    AdapterSpec("a2wsgi", "a2w", "peer", "a2wsgi.ASGIMiddleware(app)", _a2w_a2wsgi),
    AdapterSpec("bare-wsgi", "a2w", "ceiling", "benchmarks.apps.wsgi_app", _a2w_bare),
)

_DISTRIBUTIONS = {
    "sgibridge": "sgibridge",
    "a2wsgi": "a2wsgi",
    "asgiref": "asgiref",
    "uvicorn": "uvicorn",
    "starlette": "starlette",
}


def registry(direction: Direction) -> tuple[AdapterSpec, ...]:
    """Return the registry for ``direction``."""
    return W2A if direction == "w2a" else A2W


def build(spec: AdapterSpec) -> Built | Unavailable:
    """Build one adapter around the benchmark app, or say why it cannot be built."""
    try:
        app = spec.factory()
    except Exception as exc:  # an absent peer is a result, not a crash
        return Unavailable(spec, f"{type(exc).__name__}: {exc}")
    dist = _DISTRIBUTIONS.get(spec.name)
    return Built(spec, app, _version(dist) if dist else "-")


def build_all(
    direction: Direction, only: frozenset[str] | None = None
) -> tuple[list[Built], list[Unavailable]]:
    """Build every adapter of ``direction`` (or those named in ``only``)."""
    built: list[Built] = []
    missing: list[Unavailable] = []
    for spec in registry(direction):
        if only is not None and spec.name not in only:
            continue
        result = build(spec)
        if isinstance(result, Built):
            built.append(result)
        else:
            missing.append(result)
    return built, missing


def close(app: object) -> None:
    """Release what an A2W adapter holds (sgibridge's loop thread runs lifespan shutdown)."""
    shutdown = getattr(app, "shutdown", None)
    if callable(shutdown):
        shutdown()
