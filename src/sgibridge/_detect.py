"""Find the app behind ``MODULE:ATTR``, tell which interface it speaks, and wrap it.

Theory of operation
===================

``sgibridge serve`` and ``sgibridge inspect`` (:mod:`._cli`) do three things
with a target before any server runs, all of them here:

1. **Resolve** ``MODULE:ATTR`` (:func:`import_target`): import ``MODULE`` with
   the app directory first on ``sys.path``, follow the dotted ``ATTR``, and
   call it when it is an app factory (``--factory``). A module that does not
   exist, an attribute that does not, and an exception raised while importing
   are three different :class:`TargetError` messages.

2. **Detect** the interface (:func:`detect_interface`). The ASGI side is
   asgiref's own rule (``asgiref.compatibility.is_double_callable``, the one
   servers use): an object marked ``_asgi_single_callable``, a coroutine
   function, or an instance whose ``__call__`` is a coroutine function is
   ASGI 3. Everything asgiref calls "double callable" is told apart by its
   signature, because asgiref never has to consider WSGI:

   ===========================================  =========
   callable (or instance ``__call__``) takes     interface
   ===========================================  =========
   ``(environ, start_response)``                 WSGI (PEP 3333 §The Application/Framework Side)
   ``(scope)``, returning the coroutine callable  ASGI 2 (the ASGI spec's "legacy applications")
   ``(scope, receive, send)``, not ``async def``  ASGI 3 (it returns an awaitable)
   ===========================================  =========

   A plain function that takes three other names (``def f(a, b, c)``) is
   neither: it is refused, with ``--interface asgi3`` as the way to insist.

   A *class* is an app too (PEP 3333 allows one): ``__init__(environ,
   start_response)`` with ``__iter__`` is WSGI; ``__init__(scope)`` with an
   ``async def __call__(receive, send)`` is ASGI 2. Flask, Django's
   ``WSGIHandler`` and ``falcon.App`` are WSGI through their
   ``__call__(environ, start_response)``; FastAPI, Starlette, Quart, Django's
   ``ASGIHandler`` and ``falcon.asgi.App`` are ASGI 3 through their
   ``async def __call__``. Anything else (not callable, no parameters, only
   ``*args``) is a :class:`NotAnAppError` that says what it saw; ``--interface``
   overrides the guess.

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
from asgiref.sync import iscoroutinefunction

from ._exceptions import SGIBridgeError

__all__ = (
    "ENV_VAR",
    "Detection",
    "Interface",
    "Loaded",
    "NotAnAppError",
    "ServeAs",
    "ServeSpec",
    "TargetError",
    "adapter_label",
    "app_candidates",
    "detect_interface",
    "import_target",
    "label",
    "load",
    "refuse_asgi_for_wsgi_adapter",
    "refuse_wsgi_for_asgi_adapter",
    "wrap",
)

Interface = Literal["wsgi", "asgi3", "asgi2"]
#: What the server speaks: ``"asgi"`` (ASGI 3) or ``"wsgi"``.
ServeAs = Literal["asgi", "wsgi"]

#: The environment variable that carries a :class:`ServeSpec` to the server's processes.
ENV_VAR = "SGIBRIDGE_SERVE"

_INTERFACES: tuple[Interface, ...] = ("wsgi", "asgi3", "asgi2")

# asgiref ships these untyped.
_is_double_callable = cast("Callable[[object], bool]", compatibility.is_double_callable)
_double_to_single_callable = cast(
    "Callable[[object], Callable[..., Any]]", compatibility.double_to_single_callable
)


class TargetError(SGIBridgeError):
    """Raised when ``MODULE:ATTR`` cannot be imported or resolved."""


class NotAnAppError(TargetError):
    """Raised when the target resolves to something that is neither WSGI nor ASGI."""


@dataclass(frozen=True)
class Detection:
    """What :func:`detect_interface` found.

    :ivar interface: ``"wsgi"``, ``"asgi3"`` or ``"asgi2"``.
    :ivar reason: why, as a phrase (``"an instance whose __call__ takes (environ,
        start_response)"``).
    """

    interface: Interface
    reason: str


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
                f"{_describe(obj)}"
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
            found.append(f"{name} ({_LABELS[detection.interface]})")
    return found


def _try_detect(value: object) -> Detection | None:
    try:
        return detect_interface(value)
    except Exception:  # not an app, or a proxy such as flask.request that raises
        return None


# --- 2. detect --------------------------------------------------------------------------------

_LABELS: dict[Interface, str] = {"wsgi": "WSGI", "asgi3": "ASGI 3", "asgi2": "ASGI 2"}
_NAMES = {
    1: "(scope)",
    2: "(environ, start_response)",
    3: "(scope, receive, send)",
}


def _arity(func: Callable[..., Any]) -> tuple[int, int, bool] | None:
    """(required, most, has *args) positional parameters, or None when unknown."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    required = most = 0
    star = False
    for param in signature.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            most += 1
            if param.default is param.empty:
                required += 1
        elif param.kind is param.VAR_POSITIONAL:
            star = True
    return required, most, star


_ASGI3_NAMES = ["scope", "receive", "send"]


def _positional_names(func: Callable[..., Any]) -> list[str]:
    """The names of ``func``'s positional parameters (its signature is inspectable)."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [
        param.name
        for param in inspect.signature(func).parameters.values()
        if param.kind in kinds
    ]


def _own_call(cls: type) -> Any:
    """The ``__call__`` that instances of ``cls`` get, if a class in its MRO defines one."""
    for klass in cls.__mro__:
        if klass is not object and "__call__" in vars(klass):
            return vars(klass)["__call__"]
    return None


def _not_an_app(obj: object, why: str) -> NotAnAppError:
    return NotAnAppError(f"{_describe(obj)} is not a WSGI or ASGI app: {why}")


def _describe(obj: object) -> str:
    if inspect.isclass(obj):
        return f"the class {obj.__qualname__}"
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return f"the function {obj.__qualname__}"
    name = type(obj).__qualname__
    return f"{'an' if name[:1] in 'aeiouAEIOU' else 'a'} {name} instance"


def _detect_class(cls: type) -> Detection:
    arity = _arity(cls)
    required = arity[0] if arity is not None else -1
    call = _own_call(cls)
    if required == 2 and hasattr(cls, "__iter__"):
        return Detection(
            "wsgi", "a class built with (environ, start_response) and iterated"
        )
    if required == 1 and call is not None and iscoroutinefunction(call):
        return Detection(
            "asgi2", "a class built with (scope) whose instances are async callables"
        )
    raise _not_an_app(
        cls,
        "a class is an app only when built with (environ, start_response) and "
        "iterable (WSGI), or built with (scope) with an 'async def __call__(self, "
        "receive, send)' (ASGI 2); did you mean an instance of it?",
    )


def detect_interface(obj: object) -> Detection:
    """Tell whether ``obj`` is a WSGI, ASGI 3 or ASGI 2 application.

    See the module docstring for the rules; they follow asgiref's
    ``is_double_callable`` for ASGI and the parameter count for the rest.

    :param obj: the object ``MODULE:ATTR`` resolved to.
    :raises NotAnAppError: when it is none of the three; the message says what it is.
    """
    if inspect.isclass(obj):
        if getattr(obj, "_asgi_single_callable", False):
            return Detection("asgi3", "marked _asgi_single_callable")
        if getattr(obj, "_asgi_double_callable", False):
            return Detection("asgi2", "marked _asgi_double_callable")
        return _detect_class(obj)
    if not callable(obj):
        raise _not_an_app(obj, "it is not callable")
    if not _is_double_callable(obj):  # asgiref: a hint, or a coroutine (__call__)
        if getattr(obj, "_asgi_single_callable", False):
            return Detection("asgi3", "marked _asgi_single_callable")
        what = "an async function" if inspect.isfunction(obj) else "an instance"
        if what == "an instance":
            what += " whose __call__ is 'async def'"
        return Detection("asgi3", what)
    if getattr(obj, "_asgi_double_callable", False):
        return Detection("asgi2", "marked _asgi_double_callable")
    is_function = inspect.isfunction(obj) or inspect.ismethod(obj)
    subject = "a function" if is_function else "an instance whose __call__"
    arity = _arity(obj)
    if arity is None:
        raise _not_an_app(
            obj,
            "its signature cannot be inspected; pass --interface wsgi, asgi3 or asgi2",
        )
    required, most, star = arity
    interface: dict[int, Interface] = {2: "wsgi", 1: "asgi2", 3: "asgi3"}
    if required == 3 and _positional_names(obj)[:3] != _ASGI3_NAMES:
        # Neither async nor marked: only the spec's own names make it ASGI 3 (a
        # function that returns the awaitable); anything else would be served and
        # then fail every request with "object NoneType can't be used in 'await'".
        names = ", ".join(_positional_names(obj)[:3])
        raise _not_an_app(
            obj,
            f"it takes 3 arguments ({names}) but is not 'async def'; an ASGI 3 app is "
            f"'async def app(scope, receive, send)' (a WSGI app takes (environ, "
            f"start_response)); if it returns an awaitable, pass --interface asgi3",
        )
    if required in interface:
        return Detection(interface[required], f"{subject} takes {_NAMES[required]}")
    if required == 0 and most == 0 and not star:
        raise _not_an_app(
            obj,
            "it takes no arguments; if it is an app factory, pass --factory",
        )
    if required == 0:
        raise _not_an_app(
            obj,
            "it takes any number of arguments, so its interface cannot be told; "
            "pass --interface wsgi, asgi3 or asgi2",
        )
    raise _not_an_app(
        obj,
        f"it takes {required} arguments; a WSGI app takes (environ, start_response), "
        f"an ASGI 3 app (scope, receive, send) and an ASGI 2 app (scope)",
    )


# --- the adapters' construction check --------------------------------------------------------


def _clear_interface(app: object) -> Interface | None:
    """The interface ``app`` clearly speaks, or None when detection cannot tell.

    "Clearly" is narrower than :func:`detect_interface`: ASGI needs an explicit
    sign (``async def``, or asgiref's marker set to ``True``), WSGI an
    ``(environ, start_response)`` signature; a callable that only has three
    parameters (or one) is left to the adapter, as are mocks and proxies.
    """
    try:
        detection = detect_interface(app)
    except Exception:  # not an app at all, or a proxy that raises on inspection
        return None
    if detection.interface == "wsgi":
        return "wsgi"
    for marker, interface in (
        ("_asgi_single_callable", "asgi3"),
        ("_asgi_double_callable", "asgi2"),
    ):
        if getattr(app, marker, None) is True:
            return cast("Interface", interface)
    if inspect.isclass(app):
        return detection.interface  # (scope) with an async __call__: ASGI 2
    call = (
        app
        if inspect.isfunction(app) or inspect.ismethod(app)
        else _own_call(type(app))
    )
    if call is not None and iscoroutinefunction(call):
        return "asgi3"
    return None


def _app_name(app: object) -> str:
    if inspect.isclass(app) or inspect.isfunction(app) or inspect.ismethod(app):
        return f"{app.__qualname__}"
    return f"{type(app).__qualname__}(...)"


def refuse_asgi_for_wsgi_adapter(app: object) -> None:
    """Raise when ``app``, given to :class:`~sgibridge.WSGIToASGI`, is clearly ASGI.

    Called once by ``WSGIToASGI.__init__``; anything detection cannot tell is
    accepted.

    :raises TypeError: naming the adapter that fits, when ``app`` is an ASGI 3 or
        ASGI 2 app (``async def``, or marked with asgiref's hints).
    """
    interface = _clear_interface(app)
    if interface in ("asgi3", "asgi2"):
        raise TypeError(
            f"WSGIToASGI wraps a WSGI app; {_app_name(app)} is an "
            f"{_LABELS[interface]} app: use it directly on an ASGI server, or "
            f"ASGIToWSGI to serve it on a WSGI server"
        )


def refuse_wsgi_for_asgi_adapter(app: object) -> None:
    """Raise when ``app``, given to :class:`~sgibridge.ASGIToWSGI`, is clearly WSGI.

    Called once by ``ASGIToWSGI.__init__``; anything detection cannot tell is
    accepted.

    :raises TypeError: naming the adapter that fits, when ``app`` takes
        ``(environ, start_response)``.
    """
    if _clear_interface(app) == "wsgi":
        raise TypeError(
            f"ASGIToWSGI wraps an ASGI app; {_app_name(app)} is a WSGI app: use it "
            f"directly on a WSGI server, or WSGIToASGI to serve it on an ASGI server"
        )


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
            *_INTERFACES,
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

    :raises TargetError: see :func:`import_target` and :func:`detect_interface`.
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
        seen = _clear_interface(app)
        if seen is not None and seen != spec.interface:
            raise NotAnAppError(
                f"--interface {spec.interface} was given, but {spec.target!r} is "
                f"{'a' if seen == 'wsgi' else 'an'} {_LABELS[seen]} app "
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


def label(interface: Interface) -> str:
    """``"WSGI"``, ``"ASGI 3"`` or ``"ASGI 2"``."""
    return _LABELS[interface]
