"""The core's translations before and after a change to it, interleaved in one run.

Usage::

    python -m benchmarks.core_split --before HEAD~1 [--rounds 60] [--number 2000]

The ``--before`` revision's core (``_translate``) is loaded from git beside the
working tree's core, and the two are timed in alternating rounds, so that load
from other processes falls on both alike: ``scope_to_environ`` over a typical
Uvicorn scope (a browser GET with eight headers), ``environ_to_scope`` over
Gunicorn's environ for the same request, and both response-header translations
over a typical HTML response's five headers. Prints the best and the median
microseconds per call, and the after/before ratio on the best and as the median
of paired rounds.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgibridge import _translate as working

ROOT = Path(__file__).resolve().parents[1]

#: What Uvicorn (httptools) hands an app for a browser's GET /items/42?q=1.
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 54321),
    "scheme": "http",
    "method": "GET",
    "root_path": "",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "query_string": b"q=1",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101"),
        (b"accept", b"text/html,application/xhtml+xml,*/*;q=0.8"),
        (b"accept-language", b"en-GB,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"connection", b"keep-alive"),
        (b"cookie", b"session=abc123; theme=dark"),
        (b"upgrade-insecure-requests", b"1"),
    ],
    "state": {},
}


def _load_before(revision: str, directory: Path) -> Any:
    """The core (``_translate``) of ``revision``, imported as ``sgibridge_before``.

    The revision's ``src/sgibridge`` is unpacked beside the working tree's, with
    an empty ``__init__`` so that only the core and what it imports are loaded.
    """
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "src/sgibridge"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    package = directory / "sgibridge_before"
    (directory / "src" / "sgibridge").rename(package)
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module("sgibridge_before._translate")
    finally:
        sys.path.remove(str(directory))


ERRORS = io.StringIO()
FILE_WRAPPER = object()


#: What Gunicorn (sync worker) hands an app for the same request.
ENVIRON: dict[str, Any] = {
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": io.BytesIO(),
    "wsgi.errors": ERRORS,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.file_wrapper": FILE_WRAPPER,
    "wsgi.input_terminated": True,
    "SERVER_SOFTWARE": "gunicorn/23.0.0",
    "REQUEST_METHOD": "GET",
    "QUERY_STRING": "q=1",
    "RAW_URI": "/items/42?q=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101",
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8",
    "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.5",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
    "HTTP_CONNECTION": "keep-alive",
    "HTTP_COOKIE": "session=abc123; theme=dark",
    "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "54321",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "PATH_INFO": "/items/42",
    "SCRIPT_NAME": "",
}


#: A typical HTML response's headers, as a WSGI app and as an ASGI app give them.
WSGI_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "1234"),
    ("Set-Cookie", "session=abc123; Path=/; HttpOnly"),
    ("Cache-Control", "no-cache"),
    ("X-Frame-Options", "DENY"),
]
ASGI_HEADERS = [(n.lower().encode(), v.encode()) for n, v in WSGI_HEADERS]


def _calls(core: Any) -> dict[str, Callable[[], object]]:
    template = core.environ_template(
        errors=ERRORS, multithread=True, multiprocess=False, file_wrapper=FILE_WRAPPER
    )
    scope_to_environ = core.scope_to_environ
    environ_to_scope = core.environ_to_scope
    wsgi_response_headers = core.wsgi_response_headers
    asgi_response_headers = core.asgi_response_headers

    def to_environ() -> object:
        return scope_to_environ(SCOPE, template)

    def to_scope() -> object:
        return environ_to_scope(ENVIRON)

    def from_wsgi() -> object:
        return wsgi_response_headers(WSGI_HEADERS)

    def from_asgi() -> object:
        return asgi_response_headers(ASGI_HEADERS)

    return {
        "scope_to_environ": to_environ,
        "environ_to_scope": to_scope,
        "wsgi_response_headers": from_wsgi,
        "asgi_response_headers": from_asgi,
    }


def _comparable(result: object) -> object:
    """``result`` with the environ's ``asgi.scope`` view (a class of each
    revision's own, so never equal across revisions) as its plain headers."""
    if isinstance(result, dict) and "asgi.scope" in result:
        view = result["asgi.scope"]
        return {**result, "asgi.scope": {**view, "headers": list(view["headers"])}}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a git revision")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        before = _calls(_load_before(args.before, Path(directory)))
    after = _calls(working)
    for function in before:
        if _comparable(before[function]()) != _comparable(after[function]()):
            raise SystemExit(f"the two revisions' {function} give different results")
    for function in before:
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            for name, call in (
                ("before", before[function]),
                ("after", after[function]),
            ):
                seconds = timeit.timeit(call, number=args.number)
                times[name].append(seconds / args.number * 1e6)
        ratios = [a / b for a, b in zip(times["after"], times["before"], strict=True)]
        print(f"{function} ({args.rounds} interleaved rounds of {args.number} calls):")
        for name, samples in times.items():
            print(
                f"  {name:>6}: best {min(samples):.3f} µs, "
                f"median {statistics.median(samples):.3f} µs"
            )
        print(
            f"  after/before: {min(times['after']) / min(times['before']):.3f} on the "
            f"best, median of paired rounds {statistics.median(ratios):.3f}"
        )


if __name__ == "__main__":
    main()
