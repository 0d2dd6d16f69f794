"""The suites ``make compat`` runs, and how to fetch them.

Each suite comes from its framework's source distribution on the package
index, pinned to the version in compat/requirements.txt, so a fresh machine
(or CI) fetches exactly what a run here used. Downloads are cached under
``compat/.cache/`` (git-ignored). A suite whose dependencies conflict with
that environment names requirements of its own, and runs in a virtual
environment built from them (:func:`environment`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "compat" / ".cache"
INJECT = ROOT / "compat" / "inject"


@dataclass(frozen=True)
class Suite:
    """One framework's test suite.

    :param name: the suite's name in the table.
    :param dist: the distribution on the package index.
    :param version: the pinned version.
    :param runner: ``"pytest"`` or ``"django"`` (Django's runtests.py).
    :param args: pytest arguments, or the Django test labels.
    :param sides: what the framework's apps speak: ``"WSGI"``, ``"ASGI"``.
    :param requirements: a requirements file in compat/ (exact pins) for a
        suite that cannot share compat/requirements.txt's environment; it
        then runs in ``.venv-compat-<dist>`` (:func:`environment`). Empty:
        the suite runs in the harness's own environment.
    """

    name: str
    dist: str
    version: str
    runner: str
    args: tuple[str, ...]
    sides: str
    requirements: str = ""

    @property
    def venv(self) -> Path | None:
        """The suite's own virtual environment, if it has requirements."""
        if not self.requirements:
            return None
        return ROOT / f".venv-compat-{self.dist.lower()}"

    @property
    def source(self) -> Path:
        """Where the unpacked source distribution lives."""
        return CACHE / "src" / f"{self.dist}-{self.version}"

    @property
    def workdir(self) -> Path:
        """Where the suite runs from."""
        return self.source / "tests" if self.runner == "django" else self.source


#: Django's test apps that exercise the request/response cycle through the
#: test client.
DJANGO_APPS = (
    "requests_tests",
    "responses",
    "file_uploads",
    "middleware",
    "sessions_tests",
    "csrf_tests",
    "view_tests",
    "handlers",
    "test_client",
    "test_client_regress",
)

SUITES = (
    Suite("Flask", "flask", "3.1.3", "pytest", ("tests",), "WSGI"),
    Suite("Django", "django", "5.2.19", "django", DJANGO_APPS, "WSGI"),
    Suite(
        "Falcon",
        "falcon",
        "4.4.0",
        "pytest",
        (
            "tests",
            # These start real servers or check the build, not the test client.
            "--ignore=tests/test_wsgi_servers.py",
            "--ignore=tests/asgi/test_asgi_servers.py",
            "--ignore=tests/test_cython.py",
            "--ignore=tests/test_examples.py",
        ),
        "WSGI and ASGI",
    ),
    Suite("Starlette", "starlette", "1.10.0", "pytest", ("tests",), "ASGI"),
    # Quart's source distributions from 0.16.3 on ship no tests; 0.15.1's
    # suite needs the Werkzeug 2.0 of its day, so it has its own environment.
    Suite(
        "Quart",
        "Quart",
        "0.15.1",
        "pytest",
        ("tests",),
        "ASGI",
        requirements="requirements-quart.txt",
    ),
)

#: Frameworks the task names whose suites cannot be had from the index.
UNAVAILABLE = {
    "Litestar": "its source distribution (2.25.0) ships no tests; Starlette stands in",
}


def by_name(name: str) -> Suite:
    """The suite called ``name`` (case-insensitive)."""
    for suite in SUITES:
        if suite.name.lower() == name.lower():
            return suite
    raise KeyError(f"no suite {name!r}; known: {', '.join(s.name for s in SUITES)}")


def environment(suite: Suite, python: str = sys.executable) -> str:
    """The Python that runs ``suite``: ``python`` itself, or the suite's own
    virtual environment, built from its requirements with ``python``'s
    interpreter and rebuilt when the requirements change.

    :raises RuntimeError: the install failed; the message carries pip's.
    """
    venv = suite.venv
    if venv is None:
        return python
    requirements = ROOT / "compat" / suite.requirements
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".installed"
    own = str(venv / "bin" / "python")
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest:
        return own
    steps = [
        [python, "-m", "venv", "--clear", str(venv)],
        [own, "-m", "pip", "install", "--quiet", "-r", str(requirements)],
    ]
    for step in steps:
        done = subprocess.run(
            step, capture_output=True, text=True, timeout=1800, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"building {venv.name} failed ({' '.join(step[1:4])}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
    stamp.write_text(digest, encoding="utf-8")
    return own


def fetch(suite: Suite, python: str = sys.executable) -> Path:
    """Download and unpack ``suite``'s source distribution, once.

    :raises RuntimeError: the download failed; the message carries pip's.
    """
    marker = suite.source / ".sgibridge-unpacked"
    if marker.exists():
        return suite.source
    sdists = CACHE / "sdist"
    sdists.mkdir(parents=True, exist_ok=True)
    archive = sdists / f"{suite.dist}-{suite.version}.tar.gz"
    if not archive.exists():
        done = subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", suite.dist, "--dest", str(sdists),
             f"{suite.dist}=={suite.version}"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not archive.exists():
            raise RuntimeError(
                f"pip download of {suite.dist}=={suite.version} failed: "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE / "src", filter="data")
    marker.touch()
    return suite.source
