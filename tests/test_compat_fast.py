"""A fast subset of ``make compat``: part of Falcon's own suite through sgibridge.

Falcon's tests run each case against a WSGI and an ASGI app, so this subset
drives both adapter pairs: ``ASGIToWSGI(WSGIToASGI(app))`` for the WSGI apps
and ``WSGIToASGI(ASGIToWSGI(app))`` for the ASGI ones. It uses the same
harness as ``make compat`` (compat/run.py), in this environment, with the
Falcon source distribution pinned to the installed version (downloaded once
into compat/.cache/; skipped with pip's reason if that fails). Every test
that passes natively must pass through sgibridge, or have its cause written
down in compat/known.py.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgi_client import make_environ

# The harness lives beside tests/, in compat/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compat import known
from compat.run import failures, row
from compat.suites import INJECT, Suite, by_name, fetch

# Falcon test modules that need nothing but Falcon and pytest, and run each
# case against both a WSGI and an ASGI app.
FAST = (
    "tests/test_headers.py",
    "tests/test_cookies.py",
    "tests/test_http_method_routing.py",
    "tests/test_error_handlers.py",
    "tests/test_redirects.py",
    "tests/test_hello.py",
    "tests/test_request_body.py",
    "tests/asgi/test_response_media_asgi.py",
)


@pytest.fixture(scope="module")
def falcon_suite() -> Suite:
    suite = by_name("Falcon")
    installed = importlib.metadata.version("falcon")
    if installed != suite.version:
        pytest.skip(f"Falcon {installed} is installed; compat pins {suite.version}")
    try:
        fetch(suite, sys.executable)
    except RuntimeError as exc:
        pytest.skip(f"the Falcon source distribution could not be fetched: {exc}")
    return suite


@pytest.mark.timeout(300)
def test_falcon_subset_through_sgibridge(falcon_suite: Suite) -> None:
    result = row(falcon_suite, sys.executable, ["sgibridge"], select=FAST, tag="fast-")
    # The harness is honest: the subset ran, and its tests really went
    # through the wrapper.
    assert len(result.counted) > 250, result.native.log.read_text()[-3000:]
    assert result.through > 200
    bridged = result.adapters["sgibridge"]
    assert not bridged.stopped
    unexplained = [
        (test, outcome, detail)
        for test, outcome, detail in failures(result, "sgibridge")
        if known.explain("Falcon", test, detail) is None
    ]
    assert not unexplained, f"see {bridged.log}: {unexplained[:20]}"


@pytest.fixture
def wrap_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(INJECT))
    wrap = importlib.import_module("sgibridge_compat_wrap")

    monkeypatch.setattr(wrap, "MODE", "sgibridge")
    yield wrap
    wrap.next_test()


def test_wrapper_runs_a_wsgi_app_through_both_directions(wrap_module: Any) -> None:
    """The WSGI app really is called as ASGIToWSGI(WSGIToASGI(app))."""
    from sgibridge import ASGIToWSGI, WSGIToASGI

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"through"]

    bridged = wrap_module.wrap_wsgi(app)
    assert wrap_module.wrap_wsgi(app) is bridged
    started: list[str] = []
    result = bridged(
        make_environ(), lambda status, headers, exc_info=None: started.append(status)
    )
    try:
        body = b"".join(result)
    finally:
        result.close()
    assert (started, body) == (["200 OK"], b"through")
    chain = bridged._chain
    assert isinstance(chain, ASGIToWSGI) and isinstance(chain.app, WSGIToASGI)
    assert wrap_module.STATS["requests"] == 1
