"""Shared test configuration.

Async tests run on every backend explicitly, with asyncio in debug mode, as anyio's
own suite does: a missing trio is a failure here, not a silently halved matrix. This
is what holds CONFORMANCE W2A-THR-03: the same suite passes on asyncio and on trio.
"""

from __future__ import annotations

from typing import Any

import pytest

BACKENDS: list[Any] = [
    pytest.param(("asyncio", {"debug": True}), id="asyncio"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param
