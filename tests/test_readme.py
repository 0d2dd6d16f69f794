"""The README's commands still run as written.

Every fenced ``sh``/``console`` line and every inline `` `sgibridge serve ...` `` that serves
something is started on a real server (on a free port instead of 8000, through ``cli_serve``
from ``tests/integration/test_examples.py``) and answers; every ``console`` command that shows
its output prints that output (a port in use, an error, ``inspect``); the demo's curl lines run
against ``make run``'s command; and each Python quick start (a block that starts with
``# FILE.py``) is written to a directory and served with the command in its last comment.
Every other Python block must at least compile. Commands that name a project the reader
has and this repository has not (``mypkg``, ``myproject``, ``MODULE:ATTR``) are listed in :data:`PLACEHOLDERS`.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))

from servers import ServerKind, serve
from test_examples import ROOT, cli_serve

from test_cli_servers import run_to_exit

#: Some tests start two servers, each allowed 30 s to come up on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

README = (ROOT / "README.md").read_text()
#: Modules the README uses as stand-ins for the reader's own project.
PLACEHOLDERS = ("mypkg.", "myproject.", "MODULE:ATTR")
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(*languages: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(README) if lang in languages]


def _without_comment(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line).strip()


def _is_placeholder(command: str) -> bool:
    return any(name in command for name in PLACEHOLDERS)


def _sh_serve_commands() -> list[str]:
    """``sgibridge serve`` lines of the ``sh`` blocks, and every inline one in the text."""
    found = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            if line.startswith("sgibridge serve "):
                found.append(_without_comment(line))
    found.extend(re.findall(r"`(sgibridge serve [^`]+)`", README))
    return list(dict.fromkeys(found))


def _console_commands() -> list[tuple[str, list[str]]]:
    """``(command, the output lines shown under it)`` for every ``$`` line."""
    found = []
    for block in _blocks("console"):
        command: str | None = None
        output: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, output))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            found.append((command, output))
    return found


#: Quick-start files (``# app.py`` on a block's first line): name -> source.
QUICK_START = {
    match.group(1): body
    for body in _blocks("python")
    if (match := re.match(r"# (\w+\.py)\n", body))
}


def _arguments(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[:2] == ["sgibridge", "serve"], command
    return words[2:]


@pytest.fixture(scope="module")
def quick_start_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("quick-start")
    for name, body in QUICK_START.items():
        (where / name).write_text(body)
    return where


def _cwd_for(arguments: list[str], quick_start_dir: Path) -> Path:
    module = arguments[0].split(":")[0]
    return quick_start_dir if f"{module}.py" in QUICK_START else ROOT


def _ready_path(arguments: list[str]) -> str:
    if "--root-path" in arguments and "gunicorn" in arguments:
        return arguments[arguments.index("--root-path") + 1].rstrip("/") + "/"
    return "/"


# --- what the README serves -------------------------------------------------------------------


def test_the_readme_has_what_this_file_checks() -> None:
    assert set(QUICK_START) >= {"app.py", "main.py", "mount.py"}
    assert len(_sh_serve_commands()) >= 10
    assert len(_console_commands()) >= 8


@pytest.mark.parametrize("command", _sh_serve_commands())
def test_every_serve_command_serves(command: str, quick_start_dir: Path) -> None:
    if _is_placeholder(command):
        pytest.skip(f"names the reader's own project: {command}")
    arguments = _arguments(command)
    server = (
        arguments[arguments.index("--server") + 1] if "--server" in arguments else ""
    )
    if server:
        pytest.importorskip(server)
    with (
        cli_serve(
            *arguments,
            cwd=_cwd_for(arguments, quick_start_dir),
            ready_path=_ready_path(arguments),
        ) as running,
        running.client() as http,
    ):
        response = http.get(_ready_path(arguments))
    assert response.status_code < 500, (command, running.log())
    assert "sgibridge: serving " in running.log()


# --- what the README shows a command printing -------------------------------------------------


def _granian_blocked(where: Path) -> dict[str, str]:
    """An environment in which ``import granian`` fails, as when it is not installed."""
    (where / "granian.py").write_text("raise ImportError('not installed')\n")
    paths = [str(where), str(ROOT / "tests" / "integration")]
    return {"PYTHONPATH": ":".join(paths)}


@pytest.mark.parametrize(
    ("command", "output"),
    _console_commands(),
    ids=[command for command, _ in _console_commands()],
)
def test_every_console_command_prints_what_the_readme_shows(
    command: str, output: list[str], tmp_path: Path
) -> None:
    words = shlex.split(_without_comment(command))
    assert words[0] == "sgibridge", command
    if words[1] == "inspect":
        status, out = run_to_exit(*words[2:], command="inspect")
        assert status == 0, out
        address = re.compile(r" at 0x[0-9a-f]+>")
        assert [address.sub(">", line) for line in out.splitlines()] == [
            address.sub(">", line) for line in output
        ]
        return
    arguments = words[2:]
    shown = "\n".join(output)
    if "already in use" in shown:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = str(taken.getsockname()[1])
            status, out = run_to_exit(*arguments, "--port", port)
        assert status == 1
        assert out == shown.replace("8000", port) + "\n"
    elif "sgibridge: error:" in shown:
        env = _granian_blocked(tmp_path) if "without granian" in command else None
        status, out = run_to_exit(*arguments, env=env)
        assert status == 1
        assert out.splitlines()[-len(output) :] == output
    else:
        with cli_serve(*arguments, ready_path=_ready_path(arguments)) as running:
            port = running.base_url.rsplit(":", 1)[1]
        log = running.log()
        for line in output:
            if line.startswith("sgibridge:"):
                assert line.replace(":8000", ":" + port) in log, (line, log)


# --- the demo's routes --------------------------------------------------------------------------


def _route_curls() -> list[str]:
    section = README[README.index("The demo's index page lists its routes") :]
    section = section[: section.index("\n\n", section.index("| route |"))]
    return re.findall(r"`(curl [^`]+)`", section)


def test_the_demo_routes_run_as_listed_and_match_its_index_page(tmp_path: Path) -> None:
    curls = _route_curls()
    assert len(curls) == 7
    (tmp_path / "big.file").write_bytes(b"x" * 3_000_000)
    with (
        cli_serve("examples.flask_app:app") as server,
        server.client() as http,
    ):
        index = http.get("/").text
        for line in curls:
            argv = shlex.split(line.replace("http://127.0.0.1:8000", server.base_url))
            done = subprocess.run(
                argv, cwd=tmp_path, capture_output=True, timeout=60, check=False
            )
            assert done.returncode == 0, (line, done.stderr)
            if "-o" not in argv:
                assert done.stdout, line
            if "/upload" in line:
                assert b'"bytes":3000000' in done.stdout.replace(b" ", b""), done.stdout
    listed = [line.split("  #")[0].strip() for line in index.splitlines()[3:]]
    assert listed == [
        line.replace("http://127.0.0.1:8000", server.base_url) for line in curls
    ]


# --- the Python quick starts --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(QUICK_START))
def test_each_quick_start_runs_with_the_command_in_its_last_comment(
    name: str, quick_start_dir: Path
) -> None:
    last = QUICK_START[name].rstrip().splitlines()[-1]
    command = shlex.split(last.split("#", 1)[1])
    extra, target = command[1:-1], command[-1]
    kinds: dict[str, ServerKind] = {"uvicorn": "uvicorn", "gunicorn": "gunicorn"}
    kind = kinds[command[0]]
    path = "/legacy/" if name == "mount.py" else "/"
    with (
        serve(kind, target, extra_args=extra, cwd=str(quick_start_dir)) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        response = http.get(path)
    assert response.status_code == 200, server.log()
    assert response.text in ('{"hello":"world"}', "Hello from Flask")


def test_every_other_python_block_compiles() -> None:
    others = [body for body in _blocks("python") if body not in QUICK_START.values()]
    assert others
    for body in others:
        compile(textwrap.dedent(body), "<README.md>", "exec")
