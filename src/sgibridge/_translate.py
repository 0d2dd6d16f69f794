# Theory of operation
# ===================
#
# The sans-I/O core shared by both adapters (docs/behaviour.md §1). Every function
# is pure: no threads, no event loop, no I/O, and no input is ever mutated
# (CORE-STR-04). This module is the core's front door: it holds no code of its
# own and re-exports what the adapters use from the modules that do the work,
# each split along the grain of the translation:
#
# ======================  ==============================================  ============
# module                  what                                            behaviour.md
# ======================  ==============================================  ============
# `_scope_to_environ`     request: ASGI scope -> WSGI environ (W2A)       §2.2
# `_environ_headers`      its header lines -> HTTP_* keys                 §2.2
# `_environ_to_scope`     request: WSGI environ -> ASGI scope (A2W),      §3.2, §3.3
#                         and how much of `wsgi.input` to read
# `_response_headers`     response header lists, both directions          §1.2
# `_status`               status lines and protocol versions              §1.4
# `_paths`                SCRIPT_NAME/PATH_INFO <-> root_path/path        §1.3
# `_canned`               canned error responses, `RequestRejected`       Conventions
# `_strings`              byte classes, tokens, lengths, log-safe reprs   §1.1, §4
# ======================  ==============================================  ============
#
# The layering is one way: `_strings` imports nothing of sgibridge, `_canned`,
# `_paths` and `_status` import only what is below them, and the request
# modules and `_response_headers` sit on top. No core module imports anyio or
# starts a thread.
#
# Errors. A broken ASGI scope or message raises `ASGIProtocolError`; a broken
# WSGI status, header list or environ raises `WSGIProtocolError`. A request
# that the app must not see raises `RequestRejected` carrying the status of the
# canned response the adapter must send. Every message names the rule and
# shows the offending value with `!r`, cut so that a hostile
# 64 KiB header cannot flood the log.
"""The shared, I/O-free translation core between WSGI and ASGI (docs/behaviour.md §1)."""

from __future__ import annotations

from . import _environ_headers
from ._canned import CANNED_BODIES, RequestRejected, canned_asgi, canned_wsgi
from ._environ_to_scope import environ_to_scope, request_body_length
from ._paths import (
    asgi_to_wsgi_path,
    has_prefix,
    normalize_root_path,
    wsgi_to_asgi_path,
)
from ._response_headers import HOP_BY_HOP, asgi_response_headers, wsgi_response_headers
from ._scope_to_environ import environ_template, scope_to_environ
from ._status import http_version, parse_status_line, server_protocol, status_line
from ._strings import CACHE_MAX

# Read by a test that checks that a flood of distinct header names leaves the
# request-name cache bounded: the very dict that scope_to_environ fills.
_REQUEST_KEYS_DROP = _environ_headers._REQUEST_KEYS_DROP
_CACHE_MAX = CACHE_MAX

__all__ = (
    "CANNED_BODIES",
    "HOP_BY_HOP",
    "RequestRejected",
    "asgi_response_headers",
    "asgi_to_wsgi_path",
    "canned_asgi",
    "canned_wsgi",
    "environ_template",
    "environ_to_scope",
    "has_prefix",
    "http_version",
    "normalize_root_path",
    "parse_status_line",
    "request_body_length",
    "scope_to_environ",
    "server_protocol",
    "status_line",
    "wsgi_response_headers",
    "wsgi_to_asgi_path",
)
