"""Run Django's own suite (its tests/runtests.py) through an adapter pair.

Usage, from the unpacked tests/ folder: ``python sgibridge_compat_django.py
LABEL ...``, with the environment of :mod:`sgibridge_compat_wrap`.

Django's test client does not speak WSGI: it hands an environ to its
``ClientHandler`` and gets the ``HttpResponse`` object back. Through an
adapter pair, the handler below turns Django into a real WSGI app (status,
headers, ``Set-Cookie`` lines and body, as Django's ``WSGIHandler`` sends
them), calls it through the pair, and rebuilds the response the test sees
from what crossed the wire. What cannot cross WSGI is carried from the
inner side: the request object (``wsgi_request``), the response's class
and its non-HTTP attributes (templates, context, ``file_to_stream``), as
a test client in front of a server would need them. The inner side runs on
the adapter's worker thread with the test's database connections, as
Django's own LiveServerTestCase shares them with its server thread.

Each test gets a start and an end line in ``SGIBRIDGE_COMPAT_RESULTS`` and
a per-test alarm; a test that outlives it counts as hung.
"""

from __future__ import annotations

import copy
import json
import os
import runpy
import signal
import sys
import unittest
from http.cookies import SimpleCookie
from types import FrameType
from typing import Any

import sgibridge_compat_wrap as wrap

TIMEOUT = int(os.environ.get("SGIBRIDGE_COMPAT_TEST_TIMEOUT", "30"))
RESULTS = os.environ.get("SGIBRIDGE_COMPAT_RESULTS")


def _write(record: dict[str, Any]) -> None:
    if RESULTS:
        with open(RESULTS, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


class Hung(Exception):
    """The test outlived its alarm."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hung(f"Timeout >{TIMEOUT}s")


class RecordingResult(unittest.TextTestResult):
    """Django's text result, plus a JSON line per test."""

    done = wrap.done_tests()

    def startTest(self, test: unittest.TestCase) -> None:
        if test.id() in self.done:
            # Reported by an earlier attempt of this run: skip it unrecorded.
            self._compat = ["done", ""]
            setattr(test, test._testMethodName, unittest.skip("done")(lambda: None))
            super().startTest(test)
            return
        wrap.next_test()
        self._compat = ["passed", ""]
        _write({"id": test.id(), "event": "start"})
        signal.alarm(TIMEOUT)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        signal.alarm(0)
        super().stopTest(test)
        outcome, detail = getattr(self, "_compat", ["failed", "no start"])
        if outcome == "done":
            return
        _write(
            {
                "id": test.id(),
                "event": "end",
                "outcome": outcome,
                "detail": detail,
                **wrap.STATS,
            }
        )
        wrap.next_test()

    def _fail(self, err: Any) -> None:
        kind = "hung" if err[0] is Hung else "failed"
        if getattr(self, "_compat", ["passed"])[0] != "hung":
            self._compat = [kind, f"{err[0].__name__}: {str(err[1])[:300]}"]

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        self._fail(err)
        super().addError(test, err)

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        self._fail(err)
        super().addFailure(test, err)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        if err is not None:
            self._fail(err)
        super().addSubTest(test, subtest, err)

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        if getattr(self, "_compat", [""])[0] != "done":
            self._compat = ["skipped", reason]
        super().addSkip(test, reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        self._compat = ["xfailed", ""]
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        self._compat = ["failed", "unexpected success"]
        super().addUnexpectedSuccess(test)


def _install() -> None:
    from django.db import connections
    from django.http.response import ResponseHeaders
    from django.test import client as test_client
    from django.test.runner import DiscoverRunner

    DiscoverRunner.get_resultclass = lambda self: RecordingResult
    original = test_client.ClientHandler

    class BridgedClientHandler(original):  # type: ignore[misc, valid-type]
        """Django's client handler, with every request through the pair."""

        def __call__(self, environ: dict[str, Any]) -> Any:
            wrap.STATS["requests"] += 1
            if wrap.MODE == "native":
                return super().__call__(environ)
            shared = {alias: connections[alias] for alias in connections}
            for conn in shared.values():
                conn.inc_thread_sharing()
            inner: list[Any] = []

            def app(environ: dict[str, Any], start_response: Any) -> Any:
                for alias, conn in shared.items():
                    connections[alias] = conn
                response = original.__call__(self, environ)
                inner.append(response)
                headers = [
                    *response.items(),
                    *(
                        ("Set-Cookie", c.output(header=""))
                        for c in response.cookies.values()
                    ),
                ]
                start_response(
                    f"{response.status_code} {response.reason_phrase}", headers
                )
                if response.streaming:
                    return iter(response)
                return [response.content]

            try:
                status, headers, chunks = _call(wrap.wrap_wsgi(app), environ)
            finally:
                for conn in shared.values():
                    conn.dec_thread_sharing()
            from django.http import HttpResponse

            new = copy.copy(inner[0]) if inner else HttpResponse()
            new.headers = ResponseHeaders({})
            new.cookies = SimpleCookie()
            code, _, reason = status.partition(" ")
            new.status_code = int(code)
            new.reason_phrase = reason
            for name, value in headers:
                if name.lower() == "set-cookie":
                    new.cookies.load(value)
                else:
                    new.headers[name] = value
            if new.streaming:
                new.streaming_content = chunks
            else:
                new.content = b"".join(chunks)
            new.wsgi_request = inner[0].wsgi_request if inner else None
            return new

    test_client.ClientHandler = BridgedClientHandler


def _call(
    app: Any, environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Call a WSGI app as a server would; the status, headers and body."""
    started: list[Any] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        started[:] = [status, headers]
        return lambda data: chunks.append(data)

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0], started[1], [c for c in chunks if c]


def main() -> None:
    signal.signal(signal.SIGALRM, _alarm)
    sys.path.insert(0, os.getcwd())
    import django.test.client  # noqa: F401  (loaded before the patch)

    _install()
    sys.argv = [
        "runtests.py",
        "--settings=test_sqlite",
        "--parallel=1",
        "-v",
        "1",
        *sys.argv[1:],
    ]
    runpy.run_path("runtests.py", run_name="__main__")


if __name__ == "__main__":
    main()
