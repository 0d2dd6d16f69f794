"""Resolve ``MODULE:ATTR``, wrap the app for the server, and do both once per process.

Theory of operation
===================

``sgibridge serve`` and ``sgibridge inspect`` (:mod:`._cli`) do three things
with a target before any server runs:

1. **Resolve** ``MODULE:ATTR`` (:func:`import_target`): import ``MODULE`` with
   the app directory first on ``sys.path``, follow the dotted ``ATTR``, and
   call it when it is an app factory (``--factory``). A module that does not
   exist, an attribute that does not, and an exception raised while importing
   are three different :class:`~._detect.TargetError` messages.

2. **Detect** the interface, WSGI, ASGI 3 or ASGI 2
   (:func:`~._detect.detect_interface`, in :mod:`._detect`).

3. **Wrap** it for the server (:func:`wrap`). An ASGI server gets an ASGI 3
   callable: a WSGI app goes through :class:`~sgibridge.WSGIToASGI` and an
   ASGI 2 app through asgiref's ``double_to_single_callable``. A WSGI server
   gets a WSGI callable: an ASGI app (either style) goes through
   :class:`~sgibridge.ASGIToWSGI`. An app that already speaks the server's
   interface is served as it is.

:func:`load` does all three from a :class:`ServeSpec`, a small JSON-able
record that :mod:`._cli` also puts in the environment for the server's worker
processes (see :mod:`._cli_target`). It remembers what it built, so a server
running in the CLI's own process serves the very object the CLI inspected,
and an app factory is called once per process.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from asgiref import compatibility

from ._detect import (
    INTERFACES,
    Detection,
    Interface,
    NotAnAppError,
    TargetError,
    clear_interface,
    describe,
    detect_interface,
    label,
)

__all__ = (
    "ENV_VAR",
    "Loaded",
    "ServeAs",
    "ServeSpec",
    "adapter_label",
    "app_candidates",
    "import_target",
    "load",
    "wrap",
)

#: What the server speaks: ``"asgi"`` (ASGI 3) or ``"wsgi"``.
ServeAs = Literal["asgi", "wsgi"]

#: The environment variable that carries a :class:`ServeSpec` to the server's processes.
ENV_VAR = "SGIBRIDGE_SERVE"

# asgiref ships it untyped.
_double_to_single_callable = cast(
    "Callable[[object], Callable[..., Any]]", compatibility.double_to_single_callable
)


# --- 1. resolve -------------------------------------------------------------------------------


def _split(target: str) -> tuple[str, str]:
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise TargetError(
            f"the target must be MODULE:ATTR (for example 'examples.flask_app:app'), "
            f"got {target!r}"
        )
    return module, attr


def _import_module(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module == missing or module.startswith(missing + "."):
            raise TargetError(
                f"could not import module {module!r}: there is no module named "
                f"{missing!r} (searched the app directory {sys.path[0]!r} and sys.path)"
            ) from None
        raise TargetError(
            f"importing module {module!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise TargetError(
            f"importing module {module!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def import_target(target: str, *, factory: bool = False, app_dir: str = ".") -> Any:
    """Return the object ``MODULE:ATTR`` names, called once if it is a factory.

    :param target: ``MODULE:ATTR``; ``ATTR`` may be dotted (``module:obj.app``).
    :param factory: call the object with no arguments and return the result.
    :param app_dir: a directory put first on ``sys.path`` (as ``uvicorn --app-dir``).
    :raises TargetError: when the module or attribute is missing, the import raised, or
        the factory is not callable or raised; the original exception is the ``__cause__``.
    """
    module_name, attr = _split(target)
    path = os.path.abspath(app_dir)
    if sys.path[:1] != [path]:
        sys.path.insert(0, path)
    module = _import_module(module_name)
    obj: Any = module
    for depth, part in enumerate(attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = ".".join([module_name, *attr.split(".")[:depth]])
            hint = ""
            if depth == 0:
                found = app_candidates(module)
                hint = (
                    "; apps it defines: " + ", ".join(found)
                    if found
                    else "; it defines no WSGI or ASGI app"
                )
            raise TargetError(f"{where!r} has no attribute {part!r}{hint}") from None
    if factory:
        if not callable(obj):
            raise TargetError(
                f"--factory was given but {target!r} is not callable: it is "
                f"{describe(obj)}"
            )
        try:
            obj = obj()
        except Exception as exc:
            raise TargetError(
                f"calling the app factory {target!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        if obj is None:
            raise TargetError(
                f"the app factory {target!r} returned None; it must return the app "
                f"(is a 'return app' missing?)"
            )
    return obj


def app_candidates(module: object) -> list[str]:
    """``name (interface)`` for each module-level object that is a WSGI or ASGI app."""
    found = []
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") or inspect.ismodule(value) or inspect.isclass(value):
            continue
        if inspect.isfunction(value) and value.__module__ != getattr(
            module, "__name__", None
        ):
            continue  # imported helpers such as ``redirect``
        detection = _try_detect(value)
        if detection is not None:
            found.append(f"{name} ({label(detection.interface)})")
    return found


def _try_detect(value: object) -> Detection | None:
    try:
        return detect_interface(value)
    except Exception:  # not an app, or a proxy such as flask.request that raises
        return None


# --- 3. wrap ----------------------------------------------------------------------------------


def adapter_label(interface: Interface, serve_as: ServeAs, threads: int | None) -> str:
    """How :func:`wrap` serves an ``interface`` app to a ``serve_as`` server, as text."""
    if serve_as == "asgi":
        if interface == "wsgi":
            return f"WSGIToASGI(app, workers={threads if threads else 10})"
        if interface == "asgi2":
            return "asgiref's double_to_single_callable(app)"
        return "as is"
    if interface == "wsgi":
        return "as is"
    if interface == "asgi2":
        return "ASGIToWSGI(app, asgi_version='2.0')"
    return "ASGIToWSGI(app)"


def wrap(app: Any, interface: Interface, serve_as: ServeAs, threads: int | None) -> Any:
    """Return ``app`` in the adapter a ``serve_as`` server needs, or as it is.

    :param threads: the worker-thread pool of :class:`~sgibridge.WSGIToASGI`
        (``None``: its default).
    """
    from ._asgi_to_wsgi import ASGIToWSGI
    from ._wsgi_to_asgi import WSGIToASGI

    if serve_as == "asgi":
        if interface == "wsgi":
            return (
                WSGIToASGI(app) if threads is None else WSGIToASGI(app, workers=threads)
            )
        if interface == "asgi2":
            return _double_to_single_callable(app)
        return app
    if interface == "wsgi":
        return app
    return ASGIToWSGI(app, asgi_version="2.0" if interface == "asgi2" else "3.0")


# --- all three, cached ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeSpec:
    """What to serve and how; JSON in :data:`ENV_VAR` for the server's processes.

    :ivar target: ``MODULE:ATTR``.
    :ivar serve_as: the server's interface, ``"asgi"`` or ``"wsgi"``.
    :ivar factory: call the target to get the app.
    :ivar app_dir: an absolute directory put first on ``sys.path``.
    :ivar interface: ``"auto"`` to detect, or the interface to assume.
    :ivar threads: the :class:`~sgibridge.WSGIToASGI` pool size for a WSGI app.
    """

    target: str
    serve_as: ServeAs
    factory: bool = False
    app_dir: str = "."
    interface: Interface | Literal["auto"] = "auto"
    threads: int | None = None

    def to_json(self) -> str:
        """Encode for :data:`ENV_VAR`."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServeSpec:
        """Decode what :meth:`to_json` made.

        :raises TargetError: when ``text`` is not such a record.
        """
        try:
            fields = json.loads(text)
            spec = cls(**fields)
        except (TypeError, ValueError) as exc:
            raise TargetError(
                f"{ENV_VAR} is not a serve spec: {text!r} ({exc})"
            ) from None
        if spec.serve_as not in ("asgi", "wsgi") or spec.interface not in (
            "auto",
            *INTERFACES,
        ):
            raise TargetError(f"{ENV_VAR} is not a serve spec: {text!r}")
        return spec


@dataclass(frozen=True)
class Loaded:
    """The result of :func:`load`.

    :ivar app: the object the target named (after the factory call).
    :ivar detection: its interface and why.
    :ivar served: what the server is given (``app`` or an adapter around it).
    :ivar note: set when the target was an sgibridge adapter that the server does
        not need, and its inner app is served instead; says so in one line.
    """

    app: Any
    detection: Detection
    served: Any
    note: str | None = None


_loaded: dict[ServeSpec, Loaded] = {}


def load(spec: ServeSpec) -> Loaded:
    """Import, detect and wrap ``spec.target``, once per process and spec.

    :raises TargetError: see :func:`import_target` and :func:`~._detect.detect_interface`.
    """
    done = _loaded.get(spec)
    if done is not None:
        return done
    app = import_target(spec.target, factory=spec.factory, app_dir=spec.app_dir)
    if spec.interface == "auto":
        try:
            detection = detect_interface(app)
        except NotAnAppError as exc:
            raise NotAnAppError(f"{spec.target!r}: {exc}") from None
    else:
        seen = clear_interface(app)
        if seen is not None and seen != spec.interface:
            raise NotAnAppError(
                f"--interface {spec.interface} was given, but {spec.target!r} is "
                f"{'a' if seen == 'wsgi' else 'an'} {label(seen)} app "
                f"({detect_interface(app).reason}); drop "
                f"--interface to serve it as what it is"
            )
        detection = Detection(spec.interface, "given with --interface")
    app, detection, note = _unwrap(spec, app, detection)
    served = wrap(app, detection.interface, spec.serve_as, spec.threads)
    done = _loaded[spec] = Loaded(app, detection, served, note)
    return done


def _unwrap(
    spec: ServeSpec, app: Any, detection: Detection
) -> tuple[Any, Detection, str | None]:
    """The inner app of an sgibridge adapter that the server does not need."""
    from ._asgi_to_wsgi import ASGIToWSGI
    from ._wsgi_to_asgi import WSGIToASGI

    inner: Any
    if spec.serve_as == "wsgi" and isinstance(app, WSGIToASGI):
        inner, kind = app.app, "WSGI"
    elif spec.serve_as == "asgi" and isinstance(app, ASGIToWSGI):
        inner, kind = app.app, "ASGI"
    else:
        return app, detection, None
    note = (
        f"{spec.target} is {type(app).__name__}(...); serving the inner {kind} app "
        f"directly"
    )
    try:
        inner_detection = detect_interface(inner)
    except NotAnAppError:
        inner_detection = Detection(
            "wsgi"
            if kind == "WSGI"
            else ("asgi2" if app.asgi_version == "2.0" else "asgi3"),
            f"the app inside {type(app).__name__}",
        )
    return inner, inner_detection, note
