"""Server target for the real-server benchmarks: ``benchmarks._serve:app``.

The server process builds one adapter from the registry, chosen by two environment variables:
``SGIBRIDGE_BENCH_DIRECTION`` (``w2a`` or ``a2w``) and ``SGIBRIDGE_BENCH_ADAPTER`` (its name).
An adapter that cannot be built makes the import fail, so the server exits with the reason in
its log, which the benchmark reports.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks.adapters import Built, build, registry

__all__ = ("app",)


def _load() -> Any:
    direction = os.environ.get("SGIBRIDGE_BENCH_DIRECTION", "")
    name = os.environ.get("SGIBRIDGE_BENCH_ADAPTER", "")
    if direction not in ("w2a", "a2w"):
        raise RuntimeError(
            f"SGIBRIDGE_BENCH_DIRECTION must be 'w2a' or 'a2w', got {direction!r}"
        )
    for spec in registry("w2a" if direction == "w2a" else "a2w"):
        if spec.name == name:
            result = build(spec)
            if isinstance(result, Built):
                return result.app
            raise RuntimeError(f"adapter {name!r} is unavailable: {result.reason}")
    raise RuntimeError(f"no {direction} adapter named {name!r}")


app = _load()
