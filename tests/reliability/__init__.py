"""Fault injection, hostile input, fuzzing and soak tests (the project's issue 7).

This directory is a package, so that its modules are ``reliability.*`` and never
clash with the top-level test modules under mypy. The real-server harness in
``tests/integration`` is not a package: its directory is put on ``sys.path``
here, so that ``import servers`` works even when only this directory is run.
"""

from __future__ import annotations

import sys
from pathlib import Path

_INTEGRATION = str(Path(__file__).resolve().parent.parent / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)
