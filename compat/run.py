"""Run the frameworks' own suites natively, through sgibridge and through
a2wsgi, and report the table (``make compat``).

Usage: ``python -m compat.run [--suite NAME ...] [--write-docs]``.

Only tests that pass natively count. Tests that natively open a websocket,
push a response, send trailers or use the test client's debug extension
cannot cross WSGI and are excluded for every adapter alike. Each test has a timeout and so does each run; a test that timed out,
or was running when its run was stopped, counts as hung.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from compat import known
from compat.suites import (
    CACHE,
    INJECT,
    ROOT,
    SUITES,
    UNAVAILABLE,
    Suite,
    by_name,
    environment,
    fetch,
)

ADAPTERS = ("sgibridge", "a2wsgi")
# What a test may use natively that cannot cross WSGI, so it is excluded for
# every adapter alike: the wrapper's counter and the reason shown.
UNCARRIED = (
    ("websocket", "websocket"),
    ("push", "server push"),
    ("trailers", "trailers"),
    ("debug", "the test client's http.response.debug"),
)
TEST_TIMEOUT = 30
RUN_TIMEOUT = 1800
# A run in which no test starts or ends for this long is stuck (a hang the
# per-test timeout could not interrupt): it is stopped and resumed after the
# hung test, at most ATTEMPTS times.
STALL = TEST_TIMEOUT * 2 + 30
ATTEMPTS = 20


@dataclass
class Run:
    """One suite under one mode: each test's last record."""

    records: dict[str, dict[str, object]]
    seconds: float
    stopped: bool
    log: Path

    def outcome(self, test: str) -> str:
        record = self.records.get(test)
        return "not run" if record is None else str(record["outcome"])


@dataclass
class Row:
    """A suite's line in the table."""

    suite: Suite
    native: Run
    counted: list[str]
    excluded: dict[str, str]
    through: int
    adapters: dict[str, Run] = field(default_factory=dict)


def command(
    suite: Suite,
    python: str,
    extra: Sequence[str] = (),
    select: Sequence[str] | None = None,
) -> list[str]:
    """The command line that runs ``suite`` (or only ``select``, pytest
    paths or Django labels, instead of its own) with the compat plugin."""
    args = suite.args if select is None else tuple(select)
    if suite.runner == "django":
        return [python, str(INJECT / "sgibridge_compat_django.py"), *args, *extra]
    return [
        python, "-m", "pytest", "-p", "sgibridge_compat_plugin", "-p", "no:cacheprovider",
        "-q", "-p", "no:randomly", f"--timeout={TEST_TIMEOUT}", "--timeout-method=signal",
        "--continue-on-collection-errors", *args, *extra,
    ]  # fmt: skip


def run(
    suite: Suite,
    mode: str,
    python: str = sys.executable,
    extra: Sequence[str] = (),
    timeout: float = RUN_TIMEOUT,
    select: Sequence[str] | None = None,
    tag: str = "",
    skip: Collection[str] = (),
    expect: Collection[str] = (),
) -> Run:
    """Run ``suite`` once in ``mode`` (``native``, ``sgibridge``, ``a2wsgi``);
    ``select`` runs only those tests and ``skip`` leaves these out (by id),
    ``tag`` names the result files apart. A run that stops early (stuck, or
    ended by a crash of the runner) while tests of ``expect`` have not run
    is resumed after the tests it reported."""
    fetch(suite, python)
    out = CACHE / "results"
    out.mkdir(parents=True, exist_ok=True)
    results = out / f"{tag}{suite.dist}-{mode}.jsonl"
    log = out / f"{tag}{suite.dist}-{mode}.log"
    results.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        # This checkout's sgibridge, ahead of whatever is installed.
        PYTHONPATH=os.pathsep.join((str(INJECT), str(ROOT / "src"))),
        SGIBRIDGE_COMPAT_ADAPTER=mode,
        SGIBRIDGE_COMPAT_RESULTS=str(results),
        SGIBRIDGE_COMPAT_TEST_TIMEOUT=str(TEST_TIMEOUT),
        PYTHONDONTWRITEBYTECODE="1",
    )
    done_file = out / f"{tag}{suite.dist}-{mode}.done"
    done_file.write_text("".join(f"{t}\n" for t in skip), encoding="utf-8")
    env["SGIBRIDGE_COMPAT_DONE"] = str(done_file)
    started = time.monotonic()
    stopped = False
    with open(log, "wb") as sink:
        for _attempt in range(ATTEMPTS):
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                stopped = True
                break
            cmd = command(suite, python, extra, select)
            before = len(_read(results))
            stuck = _attempt_once(cmd, suite.workdir, env, sink, results, left)
            records = _read(results)
            missing = [t for t in expect if t not in records]
            if not stuck and (not missing or len(records) == before):
                break
            # Stuck (the hung test was recorded as started), or ended early:
            # the next attempt leaves out every test already started.
            done = [*skip, *records]
            done_file.write_text("".join(f"{t}\n" for t in done), encoding="utf-8")
        else:
            stopped = True
    records = _read(results)
    return Run(records, time.monotonic() - started, stopped, log)


def _attempt_once(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    sink: IO[bytes],
    results: Path,
    timeout: float,
) -> bool:
    """Run the suite until it ends (False) or is stuck (True): no test has
    started or ended for STALL seconds, or ``timeout`` ran out."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    last = (time.monotonic(), -1)
    while True:
        try:
            proc.wait(timeout=2)
            return False
        except subprocess.TimeoutExpired:
            pass
        size = results.stat().st_size if results.exists() else 0
        now = time.monotonic()
        if size != last[1]:
            last = (now, size)
        if now - last[0] > STALL or now > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            # A run that ended its last test and then stuck on the way out
            # has nothing left to run.
            return _unfinished(results)


def _unfinished(results: Path) -> bool:
    ends: set[str] = set()
    starts: set[str] = set()
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            (starts if record["event"] == "start" else ends).add(record["id"])
    return bool(starts - ends)


def _read(results: Path) -> dict[str, dict[str, object]]:
    """Each test's last record; a test that started and never ended is hung."""
    records: dict[str, dict[str, object]] = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["event"] == "start":
                records[record["id"]] = {
                    "outcome": "hung",
                    "detail": "still running when the run was stopped",
                }
            else:
                records[record["id"]] = record
    return records


def tally(run_: Run, tests: Sequence[str], skips: bool = False) -> dict[str, int]:
    """Passed, failed and hung among ``tests``: a test not run is failed, and
    so is a skipped one unless ``skips`` leaves skipped tests out."""
    counts = {"passed": 0, "failed": 0, "hung": 0}
    for test in tests:
        outcome = run_.outcome(test)
        if skips and outcome in ("skipped", "xfailed"):
            continue
        key = outcome if outcome in counts else "failed"
        counts[key] += 1
    return counts


def cached(suite: Suite, adapters: Sequence[str]) -> Row:
    """The row of the last run of ``suite``, from its result files."""
    out = CACHE / "results"

    def load(mode: str) -> Run:
        return Run(
            _read(out / f"{suite.dist}-{mode}.jsonl"),
            0.0,
            False,
            out / f"{suite.dist}-{mode}.log",
        )

    native = load("native")
    counted, excluded, through = _count(native)
    result = Row(suite, native, counted, excluded, through)
    for adapter in adapters:
        result.adapters[adapter] = load(adapter)
    return result


def _count(native: Run) -> tuple[list[str], dict[str, str], int]:
    """The counted tests of a native run, the excluded ones, and how many
    counted tests sent a request."""
    counted: list[str] = []
    excluded: dict[str, str] = {}
    through = 0
    for test, record in native.records.items():
        if record["outcome"] != "passed":
            continue
        uses = [why for key, why in UNCARRIED if record.get(key)]
        if uses:
            excluded[test] = ", ".join(uses)
            continue
        counted.append(test)
        through += bool(record.get("requests"))
    return counted, excluded, through


def row(
    suite: Suite,
    python: str,
    adapters: Sequence[str],
    select: Sequence[str] | None = None,
    tag: str = "",
) -> Row:
    """Run ``suite`` natively, then through each adapter, one at a time."""
    native = run(suite, "native", python, select=select, tag=tag)
    counted, excluded, through = _count(native)
    result = Row(suite, native, counted, excluded, through)
    # Through the adapters, only the counted tests run.
    kept = set(counted)
    skip = [test for test in native.records if test not in kept]
    for adapter in adapters:
        result.adapters[adapter] = run(
            suite, adapter, python, select=select, tag=tag, skip=skip, expect=counted
        )
    return result


def table(rows: Sequence[Row], adapters: Sequence[str]) -> str:
    """The Markdown table of ``rows``."""

    def cell(counts: dict[str, int]) -> str:
        return f"{counts['passed']} / {counts['failed']} / {counts['hung']}"

    head = [
        "suite",
        "apps",
        "native (passed / failed / hung)",
        "counted",
        "sent a request",
    ]
    head += [f"{a} (passed / failed / hung)" for a in adapters]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        every = list(r.native.records)
        cells = [
            f"{r.suite.name} {r.suite.version}",
            r.suite.sides,
            cell(tally(r.native, every, skips=True)),
            str(len(r.counted)),
            str(r.through),
        ]
        cells += [cell(tally(r.adapters[a], r.counted)) for a in adapters]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures(r: Row, adapter: str) -> list[tuple[str, str, str]]:
    """Each counted test that did not pass through ``adapter``: id, outcome, detail."""
    found = []
    for test in r.counted:
        outcome = r.adapters[adapter].outcome(test)
        if outcome != "passed":
            detail = str(r.adapters[adapter].records.get(test, {}).get("detail", ""))
            found.append((test, outcome, detail))
    return found


def report(rows: Sequence[Row], adapters: Sequence[str]) -> str:
    """docs/compat.md: the table, the exclusions and every sgibridge failure."""
    parts = [known.INTRO.strip(), "", "## Results", "", table(rows, adapters), ""]
    parts += [known.COLUMNS.strip(), ""]
    if UNAVAILABLE:
        parts += ["Not run, for want of a suite on the package index:", ""]
        parts += [f"- **{name}**: {why}." for name, why in UNAVAILABLE.items()]
        parts.append("")
    parts += ["## Excluded for every adapter", ""]
    excluded = [(r.suite.name, t, why) for r in rows for t, why in r.excluded.items()]
    if excluded:
        parts += [f"- {name}: `{t}` ({why})" for name, t, why in sorted(excluded)]
    else:
        parts.append("None.")
    parts += ["", "## Every sgibridge failure, with its cause", ""]
    groups: dict[str, list[str]] = {}
    for r in rows:
        for test, outcome, detail in (
            failures(r, "sgibridge") if "sgibridge" in r.adapters else []
        ):
            entry = known.explain(r.suite.name, test, detail)
            key = entry.key if entry else "unexplained"
            line = f"`{test}` ({outcome})" + (
                f": {detail}" if detail and not entry else ""
            )
            groups.setdefault(key, []).append(f"- {r.suite.name}: {line}")
    if not groups:
        parts.append("None.")
    else:
        parts += ["| cause | kind | tests |", "|---|---|---|"]
        for key, lines in sorted(groups.items(), key=lambda kv: known.order(kv[0])):
            parts.append(f"| {key} | {known.kind(key)} | {len(lines)} |")
        parts.append("")
    for key, lines in sorted(groups.items(), key=lambda kv: known.order(kv[0])):
        parts += [known.heading(key), "", *lines, ""]
    parts += [known.REPRODUCE.strip(), ""]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.run", description=__doc__)
    parser.add_argument(
        "--suite", action="append", help="run only this suite (repeatable)"
    )
    parser.add_argument(
        "--adapter", action="append", choices=ADAPTERS, help="only this adapter"
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="write docs/compat.md"
    )
    parser.add_argument(
        "--from-cache",
        action="store_true",
        help="report the last run's results instead of running the suites",
    )
    args = parser.parse_args(argv)
    suites = [by_name(n) for n in args.suite] if args.suite else list(SUITES)
    adapters = args.adapter or list(ADAPTERS)
    rows = []
    for suite in suites:
        print(f"== {suite.name} {suite.version}", flush=True)
        if args.from_cache:
            rows.append(cached(suite, adapters))
            continue
        rows.append(row(suite, environment(suite), adapters))
        r = rows[-1]
        for mode, run_ in [("native", r.native), *r.adapters.items()]:
            stop = " (stopped at the run timeout)" if run_.stopped else ""
            print(
                f"   {mode}: {len(run_.records)} tests in {run_.seconds:.0f} s{stop}",
                flush=True,
            )
    print(table(rows, adapters))
    unexplained = [
        (r.suite.name, t) for r in rows if "sgibridge" in r.adapters
        for t, _, detail in failures(r, "sgibridge")
        if known.explain(r.suite.name, t, detail) is None
    ]  # fmt: skip
    for name, test in unexplained:
        print(f"unexplained sgibridge failure: {name}: {test}")
    if args.write_docs:
        (ROOT / "docs" / "compat.md").write_text(
            report(rows, adapters), encoding="utf-8"
        )
        print("wrote docs/compat.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
