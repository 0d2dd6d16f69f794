"""WSGI types (PEP 3333). ASGI types come from :mod:`asgiref.typing`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, TypeAlias

__all__ = ("Environ", "ExcInfo", "StartResponse", "WSGIApp", "WriteCallable")

#: PEP 3333 requires a plain ``dict`` (§Specification Details).
Environ: TypeAlias = "dict[str, Any]"
#: As typeshed's ``OptExcInfo``, so that sgibridge's callables fit the standard
#: library's WSGI types (``wsgiref``) without casts.
ExcInfo: TypeAlias = (
    "tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]"
)
WriteCallable: TypeAlias = "Callable[[bytes], object]"


class StartResponse(Protocol):
    """The ``start_response`` callable of PEP 3333."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
        /,
    ) -> WriteCallable: ...


WSGIApp: TypeAlias = "Callable[[Environ, StartResponse], Iterable[bytes]]"
