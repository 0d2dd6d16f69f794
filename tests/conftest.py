"""Shared test configuration.

Async tests run on every backend explicitly, with asyncio in debug mode, as anyio's
own suite does: a missing trio is a failure here, not a silently halved matrix. This
is what holds W2A-THR-03: the same suite passes on asyncio and on trio.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

# A run started in the background by a shell without job control (``cmd &``,
# as CI wrappers and ``nohup`` do) inherits SIGINT ignored, and so would every
# server the tests start; Waitress stops on SIGINT only, so it would not stop.
# A handler of our own is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

BACKENDS: list[Any] = [
    pytest.param(("asyncio", {"debug": True}), id="asyncio"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param
