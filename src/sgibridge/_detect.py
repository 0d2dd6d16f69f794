"""Tell whether an app speaks WSGI, ASGI 3 or ASGI 2.

Theory of operation
===================

:func:`detect_interface` takes the object ``MODULE:ATTR`` resolved to (see
:mod:`._cli_load`) and says which interface it speaks, and why. The ASGI side
is asgiref's own rule (``asgiref.compatibility.is_double_callable``, the one
servers use): an object marked ``_asgi_single_callable``, a coroutine
function, or an instance whose ``__call__`` is a coroutine function is ASGI 3.
Everything asgiref calls "double callable" is told apart by its signature,
because asgiref never has to consider WSGI:

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

The adapters' construction check (:func:`refuse_asgi_for_wsgi_adapter`,
:func:`refuse_wsgi_for_asgi_adapter`) asks a narrower question,
:func:`clear_interface`: only an app that *clearly* speaks the other
interface is refused, so that mocks, proxies and callables detection cannot
tell are left to the adapter.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from asgiref import compatibility
from asgiref.sync import iscoroutinefunction

from ._exceptions import SGIBridgeError

__all__ = (
    "INTERFACES",
    "Detection",
    "Interface",
    "NotAnAppError",
    "TargetError",
    "clear_interface",
    "describe",
    "detect_interface",
    "label",
    "refuse_asgi_for_wsgi_adapter",
    "refuse_wsgi_for_asgi_adapter",
)

Interface = Literal["wsgi", "asgi3", "asgi2"]

INTERFACES: tuple[Interface, ...] = ("wsgi", "asgi3", "asgi2")

# asgiref ships it untyped.
_is_double_callable = cast("Callable[[object], bool]", compatibility.is_double_callable)


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


# --- detect -----------------------------------------------------------------------------------

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
    return NotAnAppError(f"{describe(obj)} is not a WSGI or ASGI app: {why}")


def describe(obj: object) -> str:
    """``obj`` as messages name it: "the class X", "the function f", "a Foo instance"."""
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


def clear_interface(app: object) -> Interface | None:
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
    interface = clear_interface(app)
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
    if clear_interface(app) == "wsgi":
        raise TypeError(
            f"ASGIToWSGI wraps an ASGI app; {_app_name(app)} is a WSGI app: use it "
            f"directly on a WSGI server, or WSGIToASGI to serve it on an ASGI server"
        )


def label(interface: Interface) -> str:
    """``"WSGI"``, ``"ASGI 3"`` or ``"ASGI 2"``."""
    return _LABELS[interface]
