"""WSGIToASGI under real Uvicorn and Hypercorn on 127.0.0.1 (CONFORMANCE §2)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from rss import sample_rss
from servers import Server, ServerKind, serve

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SERVERS: list[ServerKind] = ["uvicorn", "hypercorn"]


@pytest.fixture(scope="module", params=SERVERS)
def flask_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param, "apps.w2a_flask:asgi_app") as server:
        yield server


@pytest.fixture(scope="module", params=SERVERS)
def mounted_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param, "apps.w2a_flask:fastapi_app") as server:
        yield server


def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30)


def test_flask_get_and_post(flask_server: Server) -> None:
    """W2A-APP-03, W2A-BODY-08: Flask answers GET and POST through the adapter."""
    with client(flask_server) as http:
        response = http.get("/")
        assert (response.status_code, response.text) == (200, "hello from flask")
        assert response.headers["content-length"] == "16"
        response = http.post("/echo", content=b"ping")
        assert response.content == b"ping"


def test_5_mib_echo(flask_server: Server) -> None:
    """W2A-IN-01..03: a 5 MiB body arrives whole and comes back byte for byte."""
    body = os.urandom(5 * MiB)
    with client(flask_server) as http:
        assert http.post("/echo", content=body).content == body


def test_SEC_10_200_mib_upload_and_download_keep_memory_flat(
    flask_server: Server,
) -> None:
    """SEC-10, W2A-IN-01, W2A-BODY-02: 200 MiB up (Content-Length and chunked)
    and down; the server's RSS grows by less than 40 MiB."""
    size = 200 * MiB
    block = b"u" * MiB

    def chunks() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield block

    with client(flask_server) as http:
        http.get("/")  # warm up: worker threads and imports exist before the baseline
        with sample_rss(flask_server) as rss:
            sized = http.post("/upload", content=block * 8, timeout=60)
            assert sized.json() == {"bytes": 8 * MiB}
            chunked = http.post("/upload", content=chunks(), timeout=120)
            assert chunked.json() == {"bytes": size}
            received = 0
            with http.stream(
                "GET", "/download", params={"size": size}, timeout=120
            ) as response:
                assert response.headers["content-length"] == str(size)
                for data in response.iter_raw(1024 * 1024):
                    received += len(data)
            assert received == size
    assert rss.growth_mib < 40, f"server RSS grew by {rss.growth_mib:.1f} MiB"


def test_W2A_CLOSE_01_disconnect_mid_download_closes_the_generator(
    flask_server: Server,
) -> None:
    """W2A-CLOSE-01, W2A-ERR-07: a client that leaves mid-download makes the
    adapter close the app's generator promptly (within 2 s), and the server
    keeps serving."""
    tag = os.urandom(4).hex()
    with client(flask_server) as http:
        with http.stream("GET", "/endless", params={"tag": tag}) as response:
            assert response.status_code == 200
            for _ in response.iter_raw(65536):
                break
        # Leaving the block closed the connection with the body unread.
        flask_server.wait_for_log(f"ENDLESS-CLOSED {tag}", timeout=2.0)
    with client(flask_server) as http:
        assert http.get("/").text == "hello from flask"


def test_W2A_ENV_02_flask_mounted_in_fastapi(mounted_server: Server) -> None:
    """W2A-ENV-02/03, CONFORMANCE §5 rows 1-3: Flask mounted at /legacy sees
    SCRIPT_NAME=/legacy and PATH_INFO without it; url_for and redirects keep
    the prefix; FastAPI routes still work."""
    with client(mounted_server) as http:
        assert http.get("/api").json() == {"from": "fastapi"}
        assert http.get("/legacy/where").json() == {
            "script_name": "/legacy",
            "path_info": "/where",
            "url": "/legacy/where",
        }
        redirect = http.get("/legacy/go")
        assert redirect.status_code == 302
        assert redirect.headers["location"].endswith("/legacy/where")


def test_W2A_BODY_10_head_of_a_stream_has_no_content_length(
    flask_server: Server,
) -> None:
    """W2A-BODY-10 (RFC 9110 §8.6): HEAD of a route that streams without a
    length (Flask answers HEAD with an empty body) gets no content-length: 0."""
    with client(flask_server) as http:
        head = http.head("/events")
        get = http.get("/events")
    assert head.status_code == get.status_code == 200
    assert "content-length" not in head.headers
    assert "content-length" not in get.headers and get.content


def test_W2A_ENV_21_content_length_with_transfer_encoding_uses_server_framing(
    flask_server: Server,
) -> None:
    """W2A-ENV-21 (issue 10): httpx sends Content-Length and Transfer-Encoding
    when a user sets ``Transfer-Encoding: chunked`` explicitly; the server
    framed the body by Transfer-Encoding, and the app reads exactly that body,
    not a 400 and not the first Content-Length bytes."""
    body = b"framed by chunks, " * 1000
    with client(flask_server) as http:
        response = http.post(
            "/echo", content=body, headers={"Transfer-Encoding": "chunked"}
        )
        assert (response.status_code, response.content) == (200, body)
        short = http.post(
            "/echo",
            content=iter([b"more than ", b"three bytes"]),
            headers={"Content-Length": "3", "Transfer-Encoding": "chunked"},
        )
        assert (short.status_code, short.content) == (200, b"more than three bytes")
