"""A/B: sgibridge at a git revision ("base") against the working tree ("work"), in one run.

Usage::

    python -m benchmarks.run --ab HEAD~1 --quick --only inprocess
    python -m benchmarks.run --ab HEAD~1 --ab-work HEAD --quick   # two revisions
    make bench-ab BASE=HEAD~1

Theory of operation
-------------------
The base revision is checked out with ``git worktree add --detach`` into a temporary directory,
which is removed (``git worktree remove --force``) when the run ends, however it ends. The "work"
side is the working tree as it is on disk, uncommitted edits included, or another revision
checked out the same way (``--ab-work REV``, for when the shared tree is mid-edit). Only
sgibridge differs between the two sides: the benchmark harness, the apps and the interpreter are
those of the working tree. Each sample is a fresh process (``python -m benchmarks.ab --worker``)
whose ``PYTHONPATH`` starts with that side's ``src``; the worker reports the file its
``sgibridge`` came from, and a sample that imported the wrong tree is an error, not a result.

Every in-process scenario of both directions (``benchmarks.inprocess.SCENARIOS``) runs for the
sgibridge subject only. One calibration process on the working tree picks the iteration count
(about the in-process batch target); both sides then run that same count. The samples are
interleaved: in each round, every scenario runs once per side, base first in even rounds and
work first in odd ones (ABBA), so drift on a shared machine falls on both sides alike. A worker
runs a warm-up batch and then three batches of a third of the count each, and reports the
fastest one's wall time and CPU time (user + system of the process, all threads:
``time.process_time``) per request: the least disturbed figure a sample saw.

The result per scenario is the median over the rounds (at least 5) for each side and the
ratios **work / base** of those medians, for wall time and CPU time: below 1.0 the working tree
is faster. CPU time is the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ("AbSettings", "markdown", "run_ab", "worktree")

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("base", "work")
#: Measured batches per sample process; the sample is the fastest of them.
BATCHES = 3


@dataclass(frozen=True)
class AbSettings:
    """How long and how often to sample."""

    rounds: int = 5
    target_small_s: float = 0.3
    target_large_s: float = 0.2
    sample_timeout_s: float = 120.0


@dataclass
class Samples:
    """One side of one scenario: per-round wall and CPU µs per request."""

    wall_us: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        ok = self.wall_us and self.error is None
        return {
            "wall_us": self.wall_us,
            "cpu_us": self.cpu_us,
            "median_wall_us": statistics.median(self.wall_us) if ok else None,
            "median_cpu_us": statistics.median(self.cpu_us) if ok else None,
            "error": self.error,
        }


class AbError(RuntimeError):
    """Raised when the base revision cannot be checked out or a worker misbehaves."""


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AbError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[tuple[Path, str]]:
    """Check ``rev`` out into a temporary git worktree; yield (path, full commit id).

    The worktree and its directory are removed on exit, also after an error.
    """
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    parent = Path(tempfile.mkdtemp(prefix="sgibridge-ab-"))
    path = parent / "base"
    # SIGTERM (a `kill` of the run) raises SystemExit, so the worktree goes too.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        _git("worktree", "add", "--detach", str(path), commit)
        yield path, commit
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(AbError):
            _git("worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(AbError):
            _git("worktree", "prune")


# --- the worker: one sample in a fresh process -----------------------------------------------


def _worker(
    direction: str, scenario_name: str, n: int, calibrate: float
) -> dict[str, Any]:
    import asyncio

    import sgibridge
    from benchmarks.adapters import build_all, close
    from benchmarks.inprocess import (
        SCENARIOS,
        _a2w_batch,
        _body,
        _chunks,
        _in_thread,
        _new_loop,
        _w2a_batch,
    )

    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    body = _body(scenario.body_size)
    out: dict[str, Any] = {"sgibridge": sgibridge.__file__}

    def timed(run: Callable[[int], float], count: int) -> tuple[float, float]:
        cpu = time.process_time()
        wall = run(count)
        return wall, time.process_time() - cpu

    def measure(run: Callable[[int], float]) -> None:
        run(1)  # imports, first-call caches
        if calibrate:
            count = 1
            while True:
                wall, _ = timed(run, count)
                if wall >= 0.05 or count >= 200_000:
                    out["n"] = max(1, min(200_000, round(calibrate * count / wall)))
                    return
                count *= 4
        # The fastest of a few batches: a sample is what the code costs, not what
        # another process on the machine took from it meanwhile.
        each = max(1, n // BATCHES)
        samples = [timed(run, each) for _ in range(BATCHES)]
        out["wall_us"] = min(wall for wall, _ in samples) / each * 1e6
        out["cpu_us"] = min(cpu for _, cpu in samples) / each * 1e6

    if direction == "w2a":
        chunks = _chunks(body)
        loop, _ = _new_loop(False)
        asyncio.set_event_loop(loop)
        try:

            async def build() -> Any:
                built, missing = build_all("w2a", frozenset({"sgibridge"}))
                if not built:
                    raise AbError(missing[0].reason if missing else "not built")
                return built[0].app

            app = loop.run_until_complete(build())

            def run_w2a(count: int) -> float:
                return loop.run_until_complete(_w2a_batch(app, scenario, chunks, count))

            measure(run_w2a)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()
    else:
        built, missing = build_all("a2w", frozenset({"sgibridge"}))
        if not built:
            raise AbError(missing[0].reason if missing else "not built")
        wsgi = built[0].app
        try:

            def run_a2w(count: int) -> float:
                return _in_thread(lambda: _a2w_batch(wsgi, scenario, body, count), 600)

            measure(run_a2w)
        finally:
            close(wsgi)
    return out


# --- the driver --------------------------------------------------------------------------------


def _sample(
    src: Path,
    direction: str,
    scenario: str,
    *,
    n: int = 0,
    calibrate: float = 0.0,
    timeout: float,
) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    env.pop("PYTHONHOME", None)
    argv = [
        sys.executable,
        "-m",
        "benchmarks.ab",
        "--worker",
        direction,
        scenario,
        str(n),
        str(calibrate),
    ]
    try:
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AbError(f"no answer within {timeout} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise AbError(f"worker exited with {done.returncode}: {tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    origin = Path(result["sgibridge"]).resolve()
    if not origin.is_relative_to(src.resolve()):
        raise AbError(f"imported sgibridge from {origin}, expected under {src}")
    return result


def run_ab(
    base_rev: str,
    settings: AbSettings,
    *,
    work_rev: str | None = None,
    directions: Sequence[str] = ("w2a", "a2w"),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the A/B comparison; return a JSON-ready dict (see :func:`markdown`).

    ``work_rev`` None compares with the working tree on disk; a revision compares two
    revisions, each in its own temporary worktree.
    """
    from benchmarks.inprocess import SCENARIOS

    if settings.rounds < 5:
        raise ValueError(f"an A/B run needs at least 5 rounds, got {settings.rounds}")
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        base_path, base_commit = stack.enter_context(worktree(base_rev))
        if work_rev is None:
            work_root = ROOT
            work: dict[str, Any] = {
                "rev": "working tree",
                "commit": _git("rev-parse", "HEAD"),
                "src_modified": bool(_git("status", "--porcelain", "--", "src")),
            }
        else:
            work_root, work_commit = stack.enter_context(worktree(work_rev))
            work = {"rev": work_rev, "commit": work_commit, "src_modified": False}
        srcs = {"base": base_path / "src", "work": work_root / "src"}
        keys = [(d, s.name) for d in directions for s in SCENARIOS]
        target = {
            s.name: settings.target_large_s
            if s.body_size or s.large
            else settings.target_small_s
            for s in SCENARIOS
        }
        table = {key: {side: Samples() for side in SIDES} for key in keys}
        counts: dict[tuple[str, str], int] = {}
        for key in keys:
            problems = []
            for side in ("work", "base"):  # the other side when one cannot run it
                try:
                    got = _sample(
                        srcs[side],
                        *key,
                        calibrate=target[key[1]],
                        timeout=settings.sample_timeout_s,
                    )
                except AbError as exc:
                    problems.append(f"{side}: {exc}")
                    continue
                counts[key] = int(got["n"])
                break
            else:
                for side in SIDES:
                    table[key][side].error = f"calibration: {problems}"
                log(f"  ab {key[0]} {key[1]:<13} calibration FAILED: {problems}")
        for round_no in range(settings.rounds):
            order = SIDES if round_no % 2 == 0 else SIDES[::-1]
            for key in keys:
                if key not in counts:
                    continue
                for side in order:
                    samples = table[key][side]
                    if samples.error is not None:
                        continue
                    try:
                        got = _sample(
                            srcs[side],
                            *key,
                            n=counts[key],
                            timeout=settings.sample_timeout_s,
                        )
                    except AbError as exc:
                        samples.error = str(exc)
                        log(f"  ab {key[0]} {key[1]:<13} {side} FAILED: {exc}")
                        continue
                    samples.wall_us.append(got["wall_us"])
                    samples.cpu_us.append(got["cpu_us"])
            log(f"  ab round {round_no + 1}/{settings.rounds} done")
    rows = []
    for key in keys:
        sides = {side: table[key][side].as_dict() for side in SIDES}
        row: dict[str, Any] = {
            "direction": key[0],
            "scenario": key[1],
            "iterations": counts.get(key),
            **sides,
        }
        for figure in ("wall", "cpu"):
            b_us = sides["base"][f"median_{figure}_us"]
            w_us = sides["work"][f"median_{figure}_us"]
            row[f"{figure}_ratio"] = w_us / b_us if b_us and w_us is not None else None
        rows.append(row)
    return {
        "base": {"rev": base_rev, "commit": base_commit},
        "work": work,
        "settings": {
            "rounds": settings.rounds,
            "target_small_s": settings.target_small_s,
            "target_large_s": settings.target_large_s,
        },
        "rows": rows,
        "seconds": round(time.monotonic() - started, 1),
    }


def _us(value: float | None) -> str:
    return "failed" if value is None else f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    mid = statistics.median(values)
    return f"±{(max(values) - min(values)) / mid / 2:.0%}" if mid else "-"


def markdown(result: dict[str, Any]) -> str:
    """The A/B result as a Markdown table."""
    base, work = result["base"], result["work"]
    if work["rev"] == "working tree":
        against = "the working tree"
        where = f"Working tree: HEAD {work['commit'][:10]}" + (
            ", with uncommitted changes under src/ (new files included)"
            if work["src_modified"]
            else ""
        )
    else:
        against = f"{work['rev']} ({work['commit'][:10]})"
        where = f"Work: {against}"
    lines = [
        f"## A/B: sgibridge at {base['rev']} ({base['commit'][:10]}) against {against}",
        "",
        where
        + f". In-process, medians of {result['settings']['rounds']} interleaved rounds,"
        " one fresh process per sample. **work/base < 1.00 means the working tree is"
        " faster** (or cheaper, for CPU). On a shared machine treat wall ratios within"
        " about ±10 % as noise; CPU time is the steadier figure.",
        "",
        (
            "| direction | scenario | base µs/req | work µs/req | work/base (wall) "
            "| base CPU µs/req | work CPU µs/req | work/base (CPU) | spread base / work |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        b, w = row["base"], row["work"]
        lines.append(
            f"| {row['direction']} | {row['scenario']} | {_us(b['median_wall_us'])} "
            f"| {_us(w['median_wall_us'])} | {_ratio(row['wall_ratio'])} "
            f"| {_us(b['median_cpu_us'])} | {_us(w['median_cpu_us'])} "
            f"| {_ratio(row['cpu_ratio'])} "
            f"| {_spread(b['wall_us'])} / {_spread(w['wall_us'])} |"
        )
    errors = [
        f"- {row['direction']} {row['scenario']} {side}: {row[side]['error']}"
        for row in result["rows"]
        for side in SIDES
        if row[side]["error"]
    ]
    if errors:
        lines += ["", "Failures:", "", *errors]
    lines += ["", f"Total time: {result['seconds']} s"]
    return "\n".join(lines)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab")
    parser.add_argument("--worker", nargs=4, required=True, metavar="ARG")
    args = parser.parse_args(argv)
    direction, scenario, n, calibrate = args.worker
    out = _worker(direction, scenario, int(n), float(calibrate))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
