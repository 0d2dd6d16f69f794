"""Server target for ``benchmarks/a2w_gunicorn.py --eager``: ``benchmarks._a2w_eager:app``.

``sgibridge.ASGIToWSGI(app, eager=True)`` around the app that ``SGIBRIDGE_BENCH_APP`` names
(the benchmark app, or FastAPI hello), the same inner apps as ``benchmarks._serve``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.adapters import _inner_asgi
from sgibridge import ASGIToWSGI

__all__ = ("app",)

app: Any = ASGIToWSGI(_inner_asgi(), eager=True)
