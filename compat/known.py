"""Why each sgibridge failure in ``make compat`` happens.

Every test that passes natively but not through sgibridge is matched here
to a cause: a harness limit (something a test client does that no WSGI
server can), behaviour that is right as it is, or an open adapter bug with
its root cause. ``make compat`` lists a failure that matches nothing as
unexplained, and tests/test_compat_fast.py fails on one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Cause:
    """One cause, and the tests it explains.

    :param key: a short stable name.
    :param status: ``"limit"`` (the harness or WSGI cannot carry it),
        ``"right"`` (sgibridge is right to differ) or ``"open"`` (a bug).
    :param text: the root cause, in Markdown.
    :param tests: ``(suite, pattern, detail)`` triples: the test id as an
        fnmatch pattern, and a regular expression the failure's message must
        match (``""`` for any).
    """

    key: str
    status: str
    text: str
    tests: tuple[tuple[str, str, str], ...]


CAUSES: tuple[Cause, ...] = (
    Cause(
        "status-outside-100-599",
        "right",
        """
Fixed for 200-999: a final status of three digits such as `723 Tricky` or
`792 Climate change driven catastrophic weather event` is now served in
both directions, as h11 and Gunicorn serve it (CORE-STAT-01/02 as
amended). What this cause still covers is a final status that is a 1xx or
not three digits, such as `123` or `1000`: sgibridge refuses it on its way
to the wire (a 1xx is never final, and RFC 9112 section 4 allows only
three digits), so the request ends in an error; a2wsgi passes it through.
""",
        (
            ("Falcon", "*", r"CORE-STAT-0[12]"),
            ("Starlette", "*", r"CORE-STAT-0[12]"),
        ),
    ),
    Cause(
        "invalid-header-on-the-wire",
        "right",
        """
The app sends a response header whose name is not an RFC 9110 token
(`x-symböl`) or whose value holds a control character. sgibridge refuses it
(CORE-HDR-08), as h11 and Gunicorn do on a real socket.
""",
        (("Falcon", "*", r"CORE-HDR-08"),),
    ),
    Cause(
        "reason-phrase",
        "limit",
        """
ASGI carries no reason phrase: the app's status line reaches ASGIToWSGI
as a number, and the WSGI status line gets RFC 9110's phrase for it on
every Python (CORE-STAT-02 as amended), so the standard `413 Content Too
Large`, `414 URI Too Long` and `416 Range Not Satisfiable` now match. A
custom or older phrase still cannot cross: `719 I am not a teapot` arrives
as `719 Unknown` (a code `HTTPStatus` does not know), Falcon's `418 I'm a
teapot` as `HTTPStatus`'s `418 I'm a Teapot`, and `422 Unprocessable
Entity` as RFC 9110's `422 Unprocessable Content`. a2wsgi takes
`HTTPStatus`'s phrase: it fails the custom phrases too, and before Python
3.13 also 413, 414 and 416 (there it passes 422).
""",
        (
            ("Falcon", "*", r"'4(1[3468]|22) |\"4(1[3468]|22) "),
            ("Falcon", "*", r"4(1[3468]|22) .* == "),
            ("Falcon", "*", r"""assert '(\d{3}) [^']*' == ['"]\1 """),
        ),
    ),
    Cause(
        "wsgi-input-seek",
        "right",
        """
The test calls `tell()` or `seek()` on `wsgi.input`. PEP 3333 does not give
`wsgi.input` either; the server's (here ASGIToWSGI's) input stream has
neither. a2wsgi fails or hangs on the same tests.
""",
        (
            (
                "Falcon",
                "tests/test_request_body.py::*",
                r"has no attribute '(tell|seek)'",
            ),
        ),
    ),
    Cause(
        "wsgi-errors-stream",
        "limit",
        """
The test hands the app its own `wsgi.errors` stream and reads what the app
logged into it. Through the pair the app gets the `wsgi.errors` of the
server that runs it (WSGIToASGI's, `sys.stderr` by default): a Python
stream in the environ cannot cross ASGI.
""",
        (
            ("Falcon", "tests/test_wsgi_errors.py::*", ""),
            ("Flask", "tests/test_logging.py::test_wsgi_errors_stream", ""),
            ("Flask", "tests/test_logging.py::test_log_view_exception", ""),
        ),
    ),
    Cause(
        "flask-preserved-context",
        "limit",
        """
`with client:` keeps the request context for the test to inspect after the
request: the test client puts a callable in the environ
(`werkzeug.debug.preserve_context`) for the app to hand its contexts to.
No Python object in the environ crosses ASGI, and the app runs on
WSGIToASGI's worker thread, so the test finds no context: "Working outside
of request context".
""",
        (("Flask", "*", r"Working outside of (request|application) context"),),
    ),
    Cause(
        "quart-preserved-context",
        "limit",
        """
`async with app.test_client():` keeps the request context for the test to
inspect after the request: Quart's test client marks the scope with its own
key `_quart._preserve_context`, and the app then stores a copy of its
request context on the app object. Behind the pair the app's scope is the
one ASGIToWSGI builds from the environ, which carries the request and no
test-client key, so the app keeps nothing: "'Quart' object has no attribute
'_preserved_context'". a2wsgi fails it the same way.
""",
        (
            (
                "Quart",
                "tests/test_testing.py::test_with_usage",
                r"no attribute '_preserved_context'",
            ),
        ),
    ),
    Cause(
        "interrupt-stays-in-its-request",
        "right",
        """
The view raises `KeyboardInterrupt` and the test expects it to come out of
`client.get()`. Behind the pair it comes out as sgibridge's `AppInterrupted`
(an `Exception`, with the `KeyboardInterrupt` as its `__cause__`): the
interrupt reaches ASGIToWSGI's event loop from WSGIToASGI, and an interrupt
raised inside one request ends that request only (A2W-ERR-08). Raising a
`KeyboardInterrupt` into the WSGI server's request thread would stop that
worker thread, or the worker process, for one request's failure; Uvicorn
likewise catches `BaseException` per request.
""",
        (
            (
                "Flask",
                "tests/test_basic.py::test_baseexception_error_handling",
                "AppInterrupted",
            ),
        ),
    ),
    Cause(
        "a2w-app-exception-not-reraised",
        "open",
        """
The test expects the ASGI app's exception to come out of Starlette's test
client (`raise_server_exceptions=True`). Natively it does; behind
`WSGIToASGI(ASGIToWSGI(app))` it is lost. For `test_wsgi_exc_info` the
cause is isolated: an ASGI app that raises before `http.response.start`
gets a 500 from ASGIToWSGI and the exception is only logged, never raised
to the WSGI side (not from the call, the iteration or `close()`), so
WSGIToASGI, in front, sees an ordinary 500. WSGIToASGI, in the same
situation, re-raises after its 500 (W2A-ERR-01): the two directions differ,
which issue 10 asks to make consistent. For the background task that fails
after a complete, streamed response whose reader closes early
(`test_closing_completed_response_waits_for_background_task`), the
exception does not reach the test client either; not isolated further.
""",
        (
            ("Starlette", "tests/middleware/test_wsgi.py::test_wsgi_exc_info*", ""),
            (
                "Starlette",
                "tests/test_testclient.py::test_closing_completed_response_waits_for_background_task*",
                r"DID NOT RAISE",
            ),
        ),
    ),
    Cause(
        "request-body-read-ahead",
        "right",
        """
Werkzeug's client follows a 308 redirect by sending the same `wsgi.input`
object again. Natively Flask redirects before reading the form, so the
stream is still unread; behind the pair the adapters read the request body
ahead of the app (WSGIToASGI's request pump), so the redirected request
finds it consumed and the view fails on the missing form field. a2wsgi,
which reads only when the app asks, passes it. Reading ahead keeps the
WSGI app's reads off the event loop's schedule; the cost falls only on a
client that sends the same stream object twice.
""",
        (("Flask", "tests/test_basic.py::test_routing_redirect_debugging", ""),),
    ),
    Cause(
        "order-dependent",
        "limit",
        """
The test depends on state an earlier test left behind: it fails natively
too when run alone (Flask's
`pytest tests/test_reqctx.py::test_bad_environ_raises_bad_request`, which
sends no request at all; Starlette's
`test_staticfiles_with_invalid_dir_permissions_returns_401`, which as root
gets its 401 only after other tests ran).
""",
        (
            ("Flask", "tests/test_reqctx.py::test_bad_environ_raises_bad_request", ""),
            (
                "Starlette",
                "tests/test_staticfiles.py::test_staticfiles_with_invalid_dir_permissions_returns_401*",
                "assert 200 == 401",
            ),
        ),
    ),
    Cause(
        "content-length-for-complete-body",
        "right",
        """
The app streams a body without a length; the test checks that no
`Content-Length` is sent. When the WSGI app's whole body is in hand before
the headers go out, WSGIToASGI frames it with `Content-Length` (W2A-BODY,
`_w2a_response.py`), which HTTP allows and clients prefer to chunking.
""",
        (
            ("Falcon", "tests/test_hello.py::TestHelloWorld::test_stream_chunked", ""),
            (
                "Falcon",
                "*test_content_length_not_set_when_streaming_response*",
                "content-length",
            ),
        ),
    ),
    Cause(
        "scope-address-iterable",
        "open",
        """
WSGIToASGI ignores a scope `client` (and `server`) that is an iterable but
not a tuple or list. The ASGI spec types both as `Iterable[str, int]`, and
Falcon's test scopes pass `iter([addr, port])`, so `REMOTE_ADDR` falls back
to the default. In the translation core,
`sgibridge/_scope_to_environ.py` (the address keys, W2A-ENV-05/06) checks
`isinstance(client, (tuple, list))`; taking `tuple(client)` of any
non-string iterable is the tiny fix.
""",
        (("Falcon", "*test_simulate_remote_addr*", ""),),
    ),
    Cause(
        "file-wrapper-close-attribute",
        "open",
        """
`wsgi.file_wrapper` calls the file's `close` attribute whenever it exists:
Falcon's test stream sets `close = False` (not callable), and the response
fails with `TypeError: 'bool' object is not callable`. PEP 3333 says "if it
has a close() method"; WSGIToASGI's `FileWrapper.close` should call it only
when `callable(close)`.
""",
        (("Falcon", "*", r"'bool' object is not callable"),),
    ),
    Cause(
        "pathsend-abspath-on-the-loop",
        "open",
        """
Starlette's `FileResponse` and `StaticFiles` use the
`http.response.pathsend` extension that ASGIToWSGI offers, and ASGIToWSGI
resolves the path with `os.path.abspath()` (a `getcwd()` system call) on its
event loop, in `_a2w_response.py` (`_pathsend`). Starlette's suite runs
blockbuster, which fails any blocking call on a running asyncio loop. The
fix is small: resolve the path where the file is opened, on the WSGI
server's thread.
""",
        (("Starlette", "*", r"Blocking call to os\.path\.abspath"),),
    ),
    Cause(
        "trailers",
        "limit",
        """
Tests of the test client's own handling of HTTP trailers
(`http.response.trailers`, declared with `"trailers": True` in the start
message): a WSGI response has no trailers, so ASGIToWSGI does not offer the
extension. The tests whose app sends trailers natively are excluded; these
declare them, or check what the client does with a broken trailer sequence.
""",
        (("Starlette", "tests/test_testclient.py::*trailer*", ""),),
    ),
    Cause(
        "lifespan-state",
        "limit",
        """
The test puts values in the lifespan state and reads them in a request
(`scope["state"]`). The test client runs the app's lifespan itself and
copies its state into each request scope; a WSGI environ has no place for
it, so behind the pair the request sees ASGIToWSGI's own state (it runs the
lifespan itself when it is on, and it is off here so that the app's
lifespan runs once).
""",
        (
            ("Starlette", "tests/test_applications.py::test_request_state*", ""),
            ("Starlette", "tests/test_routing.py::test_lifespan_state_*", ""),
        ),
    ),
    Cause(
        "body-framed-by-content-length",
        "right",
        """
The test client sends more body bytes than its `Content-Length` says, to
check that Starlette's body limit counts what arrives. A WSGI app reads at
most `CONTENT_LENGTH` bytes (PEP 3333), and ASGIToWSGI delivers exactly
that, so the excess never reaches the app: 200 instead of 413.
""",
        (
            (
                "Starlette",
                "*test_received_bytes_are_counted_with_unreliable_content_length*",
                "",
            ),
        ),
    ),
    Cause(
        "canned-500",
        "right",
        """
With `raise_server_exceptions=False`, the test client makes up an empty
500 when the app raises before responding. Behind the pair the 500 is a
real response from the adapter, with a short `Internal Server Error` body,
as Uvicorn and Gunicorn send.
""",
        (("Starlette", "tests/test_exceptions.py::test_force_500_response*", ""),),
    ),
    Cause(
        "request-header-joining",
        "right",
        """
The client sends a header twice (`x-token: foo` and `x-token: bar`). A WSGI
environ has one `HTTP_X_TOKEN` key, so WSGIToASGI joins the field lines
with `, ` (RFC 9110 section 5.3, PEP 3333's CGI rules) and the app sees one
header line; Falcon's `get_header()` of a joined line returns the whole
line, where natively it returns the last field line.
""",
        (
            ("Starlette", "*test_with_duplicate_headers*", ""),
            (
                "Falcon",
                "tests/test_headers.py::TestHeaders::test_request_multiple_header*",
                "",
            ),
        ),
    ),
    Cause(
        "test-client-streaming-internals",
        "limit",
        """
These tests check how Starlette's test client itself streams: that the
response object exists before the app's first body chunk, that the app is
held back until the test reads, that chunk boundaries are kept, that
closing the client cancels the app on the client's own loop, and that the
app runs on the same loop as its lifespan. Behind the pair the app runs on
ASGIToWSGI's own loop, a WSGI server sends the headers with the first
non-empty body chunk (PEP 3333), the adapters buffer up to their watermark
and HTTP keeps no chunk boundaries, so none of this can hold; the bytes
the client reads are the same.
""",
        (
            ("Starlette", "tests/test_testclient.py::test_streaming_response_*", ""),
            (
                "Starlette",
                "tests/test_testclient.py::test_use_testclient_as_contextmanager*",
                "",
            ),
            (
                "Starlette",
                "tests/test_testclient.py::test_closing_client_cancels_unclosed_response*",
                "",
            ),
        ),
    ),
    Cause(
        "head-response-without-body",
        "right",
        """
The view returns `request.method` as the body for every method, and the test
checks that a `HEAD` response's body holds `HEAD`. Natively Quart's test
client hands back whatever the app sent. Behind the pair ASGIToWSGI, the
server in front of the ASGI app, drops the body of a response to `HEAD`
(A2W-SEND-10, RFC 9110 section 9.3.2), as Uvicorn, Hypercorn and Gunicorn
do on a real socket: a client never sees a `HEAD` body. a2wsgi passes the
bytes on.
""",
        (("Quart", "tests/test_testing.py::test_methods", r"'HEAD' in ''"),),
    ),
    Cause(
        "root-path-outside-path",
        "right",
        """
The test asks for path `/` with `root_path="/bob"` and expects 404: Quart
takes `path` to include `root_path`, so `/` is outside the app. WSGIToASGI's
default `root_path_mode="auto"` reads a path that does not start with
`root_path` in the older ASGI convention, where `path` excluded it
(W2A-ENV-02), so the app behind the pair is asked for `/bob/` and answers
200. `WSGIToASGI(app, root_path_mode="included")` gives the 404 Quart
expects; a2wsgi also answers 200.
""",
        (("Quart", "tests/test_basic.py::test_root_path", r"200 == 404"),),
    ),
    Cause(
        "int-content-length",
        "open",
        """
Django's file-upload tests build the environ themselves with
`"CONTENT_LENGTH": len(payload)`, an `int` (PEP 3333 says a string; Django
itself does `int(...)` on it, so any type works natively). ASGIToWSGI
answers 400 (A2W-RECV-02: `CONTENT_LENGTH must match ^[0-9]+$`), in the
translation core's `sgibridge/_environ_to_scope.py`. Accepting a
non-negative `int` as its decimal string is the tiny, liberal fix; a2wsgi
accepts it.
""",
        (
            (
                "Django",
                "file_uploads.tests.FileUploadTests.*",
                r"Content-Type header is|400 != 200",
            ),
        ),
    ),
    Cause(
        "asgi-scope-in-environ-leaks-secrets",
        "open",
        """
WSGIToASGI puts the whole ASGI scope in the environ as `asgi.scope`
(`sgibridge/_scope_to_environ.py`), raw headers included. Django's
technical 500 page shows every `request.META` key and hides the values of
sensitive ones by key name (`HTTP_COOKIE`, `*SECRET*`, ...), but it cannot
know that `asgi.scope` holds the same cookie and headers again: the session
cookie and a `Secret-Header` value appear in the debug page, which these
tests forbid. Either leave `asgi.scope` out or keep its `headers` out of it.
""",
        (("Django", "view_tests.tests.test_debug.ExceptionReporterFilterTests.*", ""),),
    ),
    Cause(
        "django-thread-locals",
        "limit",
        """
The test activates a language with `translation.override()` on its own
thread and expects the view to see it. Django keeps the active language in
an asgiref `Local`, which since asgiref 3.11 is tagged with its thread and
moves only through asgiref's own `sync_to_async`/`async_to_sync`; behind
the pair the view runs on WSGIToASGI's worker thread, as on a real server,
where the test's override is not active.
""",
        (("Django", "view_tests.tests.test_i18n.I18NViewTests.*", ""),),
    ),
    Cause(
        "cookie-attributes-as-text",
        "limit",
        """
The test reads a cookie attribute as the view set it (`max-age` as the int
50400). Behind the pair the test client's cookies are parsed from the
`Set-Cookie` lines that crossed the wire, where every attribute is text.
""",
        (
            (
                "Django",
                "view_tests.tests.test_i18n.SetLanguageTests.test_setlang_cookie",
                "",
            ),
        ),
    ),
    Cause(
        "non-utf8-path",
        "limit",
        """
The test requests a path whose percent-escapes are not UTF-8
(`/~%A9helloworld`). ASGI's `path` is text decoded from UTF-8, so
ASGIToWSGI must replace the byte (U+FFFD) and only `raw_path` keeps it;
WSGIToASGI builds `PATH_INFO` from `path`, as a2wsgi does, and Django sees
`/~%EF%BF%BDhelloworld`. Rebuilding `PATH_INFO` from `raw_path` when it
agrees with `path` would carry such paths through.
""",
        (("Django", "handlers.tests.HandlerRequestTests.test_invalid_urls", ""),),
    ),
    Cause(
        "django-streaming-after-the-wire",
        "limit",
        """
Behind the pair the server side consumes a streaming response before the
test client sees it: the test gets the bytes that crossed the wire, in the
chunks they crossed in (HTTP keeps no chunk boundaries, so a file's 4096-byte
blocks arrive joined). What Django does while it iterates the stream (the
`request_finished` signal at its end, the warning for an asynchronous
iterator served synchronously) has already happened on the server's side
when the test iterates.
""",
        (
            ("Django", "handlers.tests.HandlerRequestTests.test_async_streaming", ""),
            (
                "Django",
                "handlers.tests.SignalsTests.test_request_signals_streaming_response",
                "",
            ),
            # StaticHelperTest repeats StaticTests; which one meets joined
            # blocks depends on timing.
            ("Django", "view_tests.tests.test_static.*.test_chunked", ""),
        ),
    ),
    Cause(
        "falcon-asgi-stream-tell",
        "limit",
        """
After reading the whole request body, Falcon's ASGI request stream reports
twice the body's length from `tell()` behind the pair (`2 == 1`,
`1782 == 891`); the bytes the app read are right. A plain ASGI app that
reads the same request through `WSGIToASGI(ASGIToWSGI(app))` gets one
`http.request` with the body and nothing after it, so the doubling is in
how Falcon's stream meets the messages the pair sends; not isolated
further.

Root cause: Falcon's own ASGI `BoundedStream` counts the first event's body
into its position when the stream is built, and again when `read()` hands
those bytes out (falcon/asgi/stream.py), so a plain ASGI call with one
`{"body": b".", "more_body": False}` gives `tell() == 2` with no adapter at
all. Falcon's test client hides it by always sending an empty first event;
a real server (and the pair) sends the body in the first event.
""",
        (
            (
                "Falcon",
                "tests/asgi/test_request_body_asgi.py::TestRequestBody::*",
                r"assert \d+ == \d+",
            ),
        ),
    ),
    Cause(
        "disconnect-after-request",
        "right",
        """
Falcon's one-shot `simulate_request` for an ASGI app sends
`http.disconnect` as soon as the request body has been delivered
(falcon/testing/client.py, `req_event_emitter.disconnect()` right after the
request task starts), and still expects the whole response. WSGIToASGI
now sends what the app hands over complete even after a disconnect (a
list, a first chunk that fills `Content-Length`, a stream's first chunk,
which leaves with the headers, and the end of a body), and a client that
leaves after its whole request no longer keeps a queued call from
starting (W2A-IN-14 as amended); this took the cause from 48 tests to 1.
What remains is the rule's other half: a disconnect ends a response still
being produced at the app's next write, so that streams to a client that
left end (issue 13 §1). `test_hello_asgi.py::test_filelike_closing_aiofiles`
streams an 8 to 16 KiB file that Falcon reads in 8 KiB blocks through
aiofiles, one thread hop each; ASGIToWSGI hands the first block to
WSGIToASGI alone, it goes out with the headers, and the second block is
the app's next write after the disconnect, so the test gets the first
8 KiB only. Natively, and through a2wsgi (whose WSGIMiddleware never reads
past the body), the whole file arrives. A real client that has gone reads
nothing either way.

The one test left (`test_filelike_closing_aiofiles`) is W2A-IN-14 working as
written: the file leaves in 8 KiB blocks, the first goes out with the headers,
and the app's next write after the client's disconnect ends the stream, which
is what keeps an abandoned stream from running for ever on a real server.
""",
        (
            ("Falcon", "tests/asgi/*", ""),
            ("Falcon", "*asgi*", ""),
            ("Falcon", "*Async*", ""),
            ("Falcon", "*-True]", ""),
            ("Falcon", "*[[]True]", ""),
            ("Falcon", "tests/test_media_handlers.py::test_async_*", ""),
            ("Falcon", "tests/test_typing.py::test_app_fancy_async_*", ""),
            (
                "Falcon",
                "tests/test_httperror.py::TestDefaultSerializeError::test_json_async_only_error",
                "",
            ),
        ),
    ),
)

STATUS_TITLES = {
    "open": "Open",
    "right": "Right as it is",
    "limit": "Harness limit",
}


def explain(suite: str, test: str, detail: str = "") -> Cause | None:
    """The first cause that covers ``test`` of ``suite`` failing with
    ``detail``, if any."""
    for cause in CAUSES:
        for name, pattern, message in cause.tests:
            if (
                name == suite
                and fnmatchcase(test, pattern)
                and re.search(message, detail)
            ):
                return cause
    return None


def _by_key(key: str) -> Cause | None:
    return next((c for c in CAUSES if c.key == key), None)


def order(key: str) -> tuple[int, str]:
    """Open bugs first, then what is right, then harness limits."""
    cause = _by_key(key)
    rank = {"open": 1, "right": 2, "limit": 3}.get(cause.status, 0) if cause else 0
    return rank, key


def kind(key: str) -> str:
    """How a cause is classed, as the report's table names it."""
    cause = _by_key(key)
    return "unexplained" if cause is None else STATUS_TITLES[cause.status].lower()


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
own environment (`.venv-compat`). Quart's suite is 0.15.1's (its source
distributions from 0.16.3 on ship no tests); it needs the Werkzeug 2.0 of
its day, so it runs in `.venv-compat-quart`, pinned in
`compat/requirements-quart.txt`. Each suite runs natively first: only tests that
pass natively count. Then through sgibridge, and through a2wsgi's pair
(`a2wsgi.ASGIMiddleware(a2wsgi.WSGIMiddleware(app))` and
`a2wsgi.WSGIMiddleware(a2wsgi.ASGIMiddleware(app))`) for comparison.
Each test has a 30 s timeout and each run one of 30 minutes; a test that
outlives either counts as hung.

How each test client is pointed at the pair is in `compat/inject/`:
Werkzeug's client (so Flask's), Falcon's `simulate_*` and `ASGIConductor`,
Starlette's `TestClient`, Quart's test client (its HTTP and websocket
connections), and Django's `ClientHandler`, which does not speak
WSGI and so is turned into a WSGI app whose response the test sees rebuilt
from what crossed the wire. Lifespan and websocket scopes go to the app
directly in every mode: the test client drives the lifespan itself, and a
websocket cannot cross WSGI. A test that natively opens a websocket, pushes
a response, sends trailers or sends Starlette's test-client-only
`http.response.debug` message is excluded for every adapter alike.

This file is written by `make compat`; the causes below are kept in
`compat/known.py`.
"""

COLUMNS = """
Columns: *native* counts every test the suite ran, less the skipped ones; *counted* is the tests
that passed natively, less the excluded ones; *sent a request* is how many
of those made at least one request through the wrapper (the others exercise
the framework without its test client, and pass under any adapter); the
adapter columns count the *counted* tests.
"""

REPRODUCE = """
## Reproduce

`make compat` builds `.venv-compat` (and the suites' own environments),
fetches the suites and writes this file. One suite: `.venv-compat/bin/python -m compat.run --suite Flask`.
The raw results (one JSON line per test) and each run's log are in
`compat/.cache/results/`. `make test` runs a fast subset
(tests/test_compat_fast.py).
"""
