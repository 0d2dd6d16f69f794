"""``make test-all``: the test suite on every Python sgibridge supports.

One session per version in ``PYTHONS``, each in its own virtualenv under ``.nox/``
with the project installed editable with its ``dev`` extra. An interpreter is
looked for in pyenv's versions folder (``~/.pyenv/versions/3.X.*/bin``, the newest
patch release), then on ``PATH`` as ``python3.X``. pyenv's own folders come first
because its shims on ``PATH`` answer for every version but run only the selected
one. A version that is not installed is skipped with a note, on a developer's
machine and in CI alike; every version that is found must pass.

Run one version with ``make test-all NOX_ARGS="-s tests-3.13"``; arguments after
``--`` go to pytest (``nox -s tests-3.10 -- -x -k body``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

PYTHONS = ("3.10", "3.11", "3.12", "3.13")

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = False
# Use only interpreters already on this machine; never fetch one.
nox.options.download_python = "never"
nox.options.reuse_existing_virtualenvs = True


def _pyenv_bins(root: Path) -> list[str]:
    """The newest pyenv install of each supported version, as ``bin`` folders."""
    found = []
    for version in PYTHONS:
        pattern = re.compile(rf"^{re.escape(version)}\.(\d+)$")
        matches = [
            (int(m[1]), path)
            for path in (root.glob(f"{version}.*") if root.is_dir() else ())
            if (m := pattern.match(path.name))
            and (path / "bin" / f"python{version}").exists()
        ]
        if matches:
            found.append(str(max(matches)[1] / "bin"))
    return found


# nox finds interpreters through PATH: put pyenv's real installs before its shims.
_pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
os.environ["PATH"] = os.pathsep.join([*_pyenv_bins(_pyenv), os.environ.get("PATH", "")])


@nox.session(python=list(PYTHONS))
def tests(session: nox.Session) -> None:
    """The whole test suite (unit, integration and reliability) on one Python."""
    session.install("-e", ".[dev]")
    session.run(
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        *session.posargs,
    )
