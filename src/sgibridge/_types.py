"""WSGI types (PEP 3333). ASGI types come from :mod:`asgiref.typing`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, TypeAlias

__all__ = (
    "AppStartResponse",
    "Environ",
    "ExcInfo",
    "StartResponse",
    "WSGIApp",
    "WriteCallable",
)

#: PEP 3333 requires a plain ``dict`` (§Specification Details).
Environ: TypeAlias = "dict[str, Any]"
#: As typeshed's ``OptExcInfo``, so that sgibridge's callables fit the standard
#: library's WSGI types (``wsgiref``) without casts.
ExcInfo: TypeAlias = (
    "tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]"
)
#: What a WSGI server's ``write`` callable is typed to return (as typeshed).
WriteCallable: TypeAlias = "Callable[[bytes], object]"


class StartResponse(Protocol):
    """The ``start_response`` a WSGI server passes to an app (PEP 3333), typed
    as typeshed does, so any server's callable fits ``ASGIToWSGI.__call__``."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
        /,
    ) -> WriteCallable: ...


class AppStartResponse(Protocol):
    """The ``start_response`` sgibridge passes to a WSGI app: its ``write``
    returns ``None``, which satisfies apps typed with typeshed's protocol and
    frameworks (Falcon) that require ``None`` alike."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
        /,
    ) -> Callable[[bytes], None]: ...


#: A WSGI app, as ``WSGIToASGI`` accepts it.
WSGIApp: TypeAlias = "Callable[[Environ, AppStartResponse], Iterable[bytes]]"
