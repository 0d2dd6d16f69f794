# Theory of operation
# ===================
#
# Paths, both directions (docs/behaviour.md §1.3, CORE-PATH-01..06; PEP 3333
# §environ Variables, §Unicode Issues and §URL Reconstruction; the ASGI www
# spec §HTTP Connection Scope and §WSGI encoding differences; RFC 3875 §4.1.5
# and §4.1.13).
#
# WSGI paths are octets held as latin-1 `str`; ASGI paths are UTF-8-decoded
# `str`. An ASCII path converts to itself, so the conversions short-circuit on
# `str.isascii()`. The `raw_path` preference of CORE-PATH-06 only changes the
# result when the server had to replace undecodable octets with U+FFFD: if the
# chosen path contains no U+FFFD, a matching `raw_path` decodes losslessly and
# gives exactly the CORE-PATH-01 result, so `split_raw_path` is only called
# when U+FFFD is present.
"""Paths and root paths, WSGI ⇄ ASGI (docs/behaviour.md §1.3)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

__all__ = (
    "asgi_to_wsgi_path",
    "has_prefix",
    "normalize_root_path",
    "split_raw_path",
    "wsgi_to_asgi_path",
)


def normalize_root_path(rp: str) -> str:
    """Normalise a ``root_path`` or ``SCRIPT_NAME`` (CORE-PATH-03).

    Trailing ``/`` are removed (so ``"/"`` becomes ``""``), and a non-empty
    result that does not start with ``/`` gets one, so the result is always
    ``""`` or starts with ``/`` and does not end with ``/``.
    """
    if rp.endswith("/"):
        rp = rp.rstrip("/")
    if rp and rp[0] != "/":
        rp = "/" + rp
    return rp


def has_prefix(path: str, rp: str) -> bool:
    """Whether ``rp`` is a prefix of ``path`` on a segment boundary (CORE-PATH-04).

    ``/app`` is a prefix of ``/app`` and ``/app/x`` but not of ``/application``.
    """
    if not rp:
        return True
    return path.startswith(rp) and (len(path) == len(rp) or path[len(rp)] == "/")


def asgi_to_wsgi_path(path: str) -> str:
    """Convert an ASGI path (UTF-8 text) to WSGI bytes-as-latin-1 (CORE-PATH-01).

    :raises UnicodeEncodeError: if ``path`` holds a lone surrogate.
    """
    return path if path.isascii() else path.encode("utf-8").decode("latin-1")


def wsgi_to_asgi_path(path: str) -> str:
    """Convert a WSGI path (bytes-as-latin-1) to ASGI UTF-8 text (CORE-PATH-01).

    Invalid UTF-8 becomes U+FFFD.

    :raises UnicodeEncodeError: if ``path`` holds a code point above U+00FF.
    """
    return path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace")


def split_raw_path(
    raw_path: bytes, script: str, path_info: str
) -> tuple[str, str] | None:
    """CORE-PATH-06: ``SCRIPT_NAME``/``PATH_INFO`` from the raw octets, or ``None``.

    The octets are used only if they decode to the chosen full path. The split
    point is found by counting ``/``: byte 0x2F only ever decodes to ``/`` in
    UTF-8, and U+FFFD never stands for it, so ``script`` and the octets hold the
    same number of slashes before the boundary.
    """
    octets = unquote_to_bytes(raw_path)
    if octets.decode("utf-8", "replace") != script + path_info:
        return None
    if not path_info:
        cut = len(octets)
    elif path_info[0] == "/":
        cut = -1
        for _ in range(script.count("/") + 1):
            cut = octets.find(b"/", cut + 1)
    else:
        return None
    text = octets.decode("latin-1")
    return text[:cut], text[cut:]
