"""A pytest plugin that runs a framework's own suite through an adapter pair.

Loaded with ``-p sgibridge_compat_plugin``. It points each framework's test
client at :mod:`sgibridge_compat_wrap`'s wrapper (Werkzeug's, so Flask's;
Falcon's ``simulate_*`` and ``ASGIConductor``; Starlette's ``TestClient``;
Quart's test client)
and writes one JSON line per test to ``SGIBRIDGE_COMPAT_RESULTS``: a
``start`` line when the test begins (a test with no end line was hung when
the run was stopped) and an ``end`` line with its outcome and what it sent
through the wrapper.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import pytest
import sgibridge_compat_wrap as wrap

_results_path = os.environ.get("SGIBRIDGE_COMPAT_RESULTS")
_phases: dict[str, list[pytest.TestReport]] = {}


def _write(record: dict[str, Any]) -> None:
    if _results_path:
        with open(_results_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def _patch_werkzeug() -> None:
    try:
        import werkzeug.test
    except ImportError:
        return
    original = werkzeug.test.Client.run_wsgi_app

    # The client's own call only: an app that runs a WSGI app inside a
    # request (Werkzeug's Response.from_app, with the request's environ) is
    # not an HTTP request and is not wrapped.
    @functools.wraps(original)
    def run_wsgi_app(self: Any, environ: Any, buffered: bool = False) -> Any:
        application = self.application
        self.application = wrap.wrap_wsgi(application)
        try:
            return original(self, environ, buffered)
        finally:
            self.application = application

    werkzeug.test.Client.run_wsgi_app = run_wsgi_app  # type: ignore[method-assign]


def _patch_falcon() -> None:
    try:
        import falcon.testing
        from falcon.testing import client
    except ImportError:
        return
    simulate = client.simulate_request
    simulate_asgi = client._simulate_request_asgi

    @functools.wraps(simulate)
    def simulate_request(app: Any, *args: Any, **kwargs: Any) -> Any:
        wrapped = (
            wrap.wrap_asgi(app) if client._is_asgi_app(app) else wrap.wrap_wsgi(app)
        )
        return simulate(wrapped, *args, **kwargs)

    @functools.wraps(simulate_asgi)
    async def _simulate_request_asgi(app: Any, *args: Any, **kwargs: Any) -> Any:
        return await simulate_asgi(wrap.wrap_asgi(app), *args, **kwargs)

    client.simulate_request = simulate_request
    client._simulate_request_asgi = _simulate_request_asgi
    falcon.testing.simulate_request = simulate_request


def _patch_starlette() -> None:
    try:
        from starlette import testclient
    except ImportError:
        return
    transport = testclient._TestClientTransport
    original = transport.__init__

    @functools.wraps(original)
    def __init__(self: Any, app: Any, *args: Any, **kwargs: Any) -> None:
        original(self, wrap.wrap_asgi(app), *args, **kwargs)

    transport.__init__ = __init__  # type: ignore[method-assign]


def _patch_quart() -> None:
    try:
        from quart.testing import connections
    except ImportError:
        return
    # Each connection starts the app in ``__aenter__``; the connection's
    # ``app`` stays the Quart app for the rest (its ``response_class``), and
    # the test app (quart/testing/app.py) drives the lifespan directly.
    for cls in (connections.TestHTTPConnection, connections.TestWebsocketConnection):
        original = cls.__aenter__

        @functools.wraps(original)
        async def __aenter__(self: Any, original: Any = original) -> Any:
            app = self.app
            self.app = wrap.wrap_asgi(app)
            try:
                return await original(self)
            finally:
                self.app = app

        cls.__aenter__ = __aenter__  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _patch_werkzeug()
    _patch_falcon()
    _patch_starlette()
    _patch_quart()


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Leave out the tests an earlier attempt of this run already reported."""
    done = wrap.done_tests()
    if done:
        kept = [item for item in items if item.nodeid not in done]
        config.hook.pytest_deselected(
            items=[item for item in items if item.nodeid in done]
        )
        items[:] = kept


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    wrap.next_test()
    _write({"id": nodeid, "event": "start"})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _phases.setdefault(report.nodeid, []).append(report)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    reports = _phases.pop(nodeid, [])
    outcome = "passed"
    detail = ""
    for report in reports:
        if report.failed:
            text = str(report.longrepr)
            outcome = "hung" if "from pytest-timeout" in text else "failed"
            detail = _short(report)
            break
        if report.skipped:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    stats = dict(wrap.STATS)
    wrap.next_test()
    _write(
        {"id": nodeid, "event": "end", "outcome": outcome, "detail": detail, **stats}
    )


def _short(report: pytest.TestReport) -> str:
    """The last line of the failure that names the error, for the report."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0][:300] if crash.message else ""
    return (
        str(report.longrepr).strip().splitlines()[-1][:300] if report.longrepr else ""
    )
