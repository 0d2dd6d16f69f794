"""Why each sgibridge failure in ``make compat`` happens.

Every test that passes natively but not through sgibridge is matched here
to a cause: a harness limit (something a test client does that no WSGI
server can), behaviour that is right as it is, or an open adapter bug with
its root cause. ``make compat`` lists a failure that matches nothing as
unexplained, and tests/test_compat_fast.py fails on one.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Cause:
    """One cause, and the tests it explains.

    :param key: a short stable name.
    :param status: ``"limit"`` (the harness or WSGI cannot carry it),
        ``"right"`` (sgibridge is right to differ) or ``"open"`` (a bug).
    :param text: the root cause, in Markdown.
    :param tests: ``(suite, pattern)`` pairs, patterns as in fnmatch.
    """

    key: str
    status: str
    text: str
    tests: tuple[tuple[str, str], ...]


CAUSES: tuple[Cause, ...] = ()

STATUS_TITLES = {
    "open": "Open",
    "right": "Right as it is",
    "limit": "Harness limit",
}


def explain(suite: str, test: str) -> Cause | None:
    """The cause that covers ``test`` of ``suite``, if any."""
    for cause in CAUSES:
        for name, pattern in cause.tests:
            if name == suite and fnmatchcase(test, pattern):
                return cause
    return None


def _by_key(key: str) -> Cause | None:
    return next((c for c in CAUSES if c.key == key), None)


def order(key: str) -> tuple[int, str]:
    """Open bugs first, then what is right, then harness limits."""
    cause = _by_key(key)
    rank = {"open": 1, "right": 2, "limit": 3}.get(cause.status, 0) if cause else 0
    return rank, key


def heading(key: str) -> str:
    """The Markdown heading and text of a cause."""
    cause = _by_key(key)
    if cause is None:
        return "### Unexplained\n\nNot yet root-caused."
    title = STATUS_TITLES[cause.status]
    prefix = "open, root cause: " if cause.status == "open" else ""
    return f"### {title}: {cause.key}\n\n{prefix}{cause.text.strip()}"


INTRO = """
# Framework compatibility (`make compat`)

The frameworks' own test suites, run with every request passed through
sgibridge in both directions at once:

- WSGI frameworks: the app the test client calls is `ASGIToWSGI(WSGIToASGI(app))`;
- ASGI frameworks: the app the test client calls is `WSGIToASGI(ASGIToWSGI(app))`.

Each suite comes from its framework's source distribution on the package
index, pinned to the version in `compat/requirements.txt`, and runs in its
own environment (`.venv-compat`). It runs natively first: only tests that
pass natively count. Then through sgibridge, and through a2wsgi's pair
(`a2wsgi.ASGIMiddleware(a2wsgi.WSGIMiddleware(app))` and
`a2wsgi.WSGIMiddleware(a2wsgi.ASGIMiddleware(app))`) for comparison.
Each test has a 30 s timeout and each run one of 30 minutes; a test that
outlives either counts as hung.

How each test client is pointed at the pair is in `compat/inject/`:
Werkzeug's client (so Flask's), Falcon's `simulate_*` and `ASGIConductor`,
Starlette's `TestClient`, and Django's `ClientHandler`, which does not speak
WSGI and so is turned into a WSGI app whose response the test sees rebuilt
from what crossed the wire. Lifespan and websocket scopes go to the app
directly in every mode: the test client drives the lifespan itself, and a
websocket cannot cross WSGI.

This file is written by `make compat`; the causes below are kept in
`compat/known.py`.
"""

COLUMNS = """
Columns: *native* counts every test the suite ran; *counted* is the tests
that passed natively, less the excluded ones; *sent a request* is how many
of those made at least one request through the wrapper (the others exercise
the framework without its test client, and pass under any adapter); the
adapter columns count the *counted* tests.
"""

REPRODUCE = """
## Reproduce

`make compat` builds `.venv-compat`, fetches the suites and writes this
file. One suite: `.venv-compat/bin/python -m compat.run --suite Flask`.
The raw results (one JSON line per test) and each run's log are in
`compat/.cache/results/`. `make test` runs a fast subset
(tests/test_compat_fast.py).
"""
