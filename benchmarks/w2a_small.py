"""W2A small requests on Uvicorn, side by side: sgibridge variants against the peers.

Usage::

    python -m benchmarks.w2a_small                        # sgibridge (working tree), peers
    python -m benchmarks.w2a_small --rev before=HEAD~2    # plus sgibridge at a revision
    python -m benchmarks.w2a_small --apps bench,framework --levels 16,64 --rounds 5

Theory of operation
-------------------
Issue 14 asks WSGIToASGI for at least 1.2x the req/s of the fastest peer (Uvicorn's own WSGI
middleware, a2wsgi) on ``GET /small`` at 16 and 64 connections, on the plain benchmark WSGI app
(``bench``) and on Flask hello (``framework``), and to aim by the server's CPU per request.
``benchmarks.servers`` measures those rows inside the whole ``make bench`` run, one adapter
after another; this script measures only them, interleaved, so that a before/after of one
change is a few minutes.

Each *subject* is a ``benchmarks.upload.Subject``: an adapter name plus, for sgibridge, the tree
its source comes from (the working tree, or a revision in a temporary ``git worktree``). For
every round, app and subject (order rotated each round) a fresh Uvicorn starts with the same
command line as ``benchmarks.servers`` (httptools and uvloop in ``.venv-bench``), takes a
warm-up burst, then ``wrk`` at each concurrency level for ``--seconds``. The figures are the
medians over the rounds of req/s and of the server's CPU milliseconds per 1,000 requests
(user + system, from ``/proc``), and their ratios to the fastest peer's medians: speed
``× peer`` (above 1.00 is faster) and CPU ``× peer`` (below 1.00 is cheaper).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import ab
from benchmarks._load import wrk_load
from benchmarks._proc import running
from benchmarks.servers import ServerSettings, _uvicorn_argv
from benchmarks.upload import ROOT, Subject

__all__ = ("main", "run")

PEERS = ("uvicorn", "a2wsgi")


def _one(
    subject: Subject,
    app: str,
    levels: list[int],
    seconds: float,
    log: Callable[[str], None],
) -> None:
    env = subject.env()
    env["SGIBRIDGE_BENCH_APP"] = app
    argv = _uvicorn_argv(ServerSettings())
    with running(argv, env=env, cwd=str(ROOT)) as proc:
        warm = wrk_load(proc.port, "/small", concurrency=16, duration=1, timeout=10)
        if warm.errors or not warm.requests:
            raise RuntimeError(f"the warm-up failed: {proc.log_tail(5)}")
        for level in levels:
            cpu = proc.cpu_seconds()
            result = wrk_load(
                proc.port, "/small", concurrency=level, duration=seconds, timeout=10
            )
            used = proc.cpu_seconds() - cpu
            if result.errors or not result.requests:
                raise RuntimeError(
                    f"{result.errors} errors, {result.requests} requests"
                )
            key = f"{app}@{level}"
            subject.mbps.setdefault(key, []).append(result.rps)
            subject.cpu.setdefault(key, []).append(used / result.requests * 1e6)
            log(
                f"  {key:<13} {subject.label:<18} {result.rps:8.0f} req/s "
                f"{subject.cpu[key][-1]:7.1f} CPU ms/1k"
            )


def run(
    subjects: list[Subject],
    apps: list[str],
    levels: list[int],
    *,
    rounds: int,
    seconds: float,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure every subject on every app; return a JSON-ready dict."""
    for round_no in range(rounds):
        shift = round_no % len(subjects)
        for app in apps:
            for subject in subjects[shift:] + subjects[:shift]:
                if app in subject.errors or (
                    subject.role == "ceiling" and app != "bench"
                ):
                    continue
                try:
                    _one(subject, app, levels, seconds, log)
                except Exception as exc:  # one subject's failure is a result
                    subject.errors[app] = str(exc)[:300]
                    log(f"  {app:<13} {subject.label:<18} FAILED {exc}")
        log(f"round {round_no + 1}/{rounds} done")
    out: dict[str, Any] = {"rounds": rounds, "seconds": seconds, "rows": {}}
    for app in apps:
        for level in levels:
            key = f"{app}@{level}"
            rows: list[dict[str, Any]] = []
            for s in subjects:
                ok = key in s.mbps and app not in s.errors
                rows.append(
                    {
                        "label": s.label,
                        "role": s.role,
                        "rps": statistics.median(s.mbps[key]) if ok else None,
                        "cpu_ms_per_1k": statistics.median(s.cpu[key]) if ok else None,
                        "rps_rounds": s.mbps.get(key, []),
                        "cpu_rounds": s.cpu.get(key, []),
                        "error": s.errors.get(app),
                    }
                )
            peers = [r for r in rows if r["role"] == "peer" and r["rps"]]
            best = max(peers, key=lambda r: r["rps"]) if peers else None
            cheapest = min(peers, key=lambda r: r["cpu_ms_per_1k"]) if peers else None
            for row in rows:
                row["speed_x_peer"] = (
                    row["rps"] / best["rps"] if best and row["rps"] else None
                )
                row["cpu_x_peer"] = (
                    row["cpu_ms_per_1k"] / cheapest["cpu_ms_per_1k"]
                    if cheapest and row["rps"]
                    else None
                )
            out["rows"][key] = {
                "best_peer": best["label"] if best else None,
                "cheapest_peer": cheapest["label"] if cheapest else None,
                "rows": rows,
            }
    return out


def markdown(result: dict[str, Any]) -> str:
    """The result as Markdown tables, one per app and concurrency level."""

    def num(value: float | None, digits: int = 2) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    lines = []
    for key, section in result["rows"].items():
        lines += [
            (
                f"#### GET /small, {key}: medians of {result['rounds']} rounds of "
                f"{result['seconds']:g} s (fastest peer: {section['best_peer']}, "
                f"cheapest: {section['cheapest_peer']})"
            ),
            "",
            "| subject | req/s | × peer (speed) | CPU ms/1k req | × peer (CPU) |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in section["rows"]:
            cells = [
                row["label"],
                row["error"] or num(row["rps"], 0),
                num(row["speed_x_peer"]),
                num(row["cpu_ms_per_1k"], 1),
                num(row["cpu_x_peer"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.w2a_small")
    parser.add_argument("--apps", default="bench,framework")
    parser.add_argument("--levels", default="16,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--rev",
        action="append",
        default=[],
        metavar="LABEL=REV",
        help="also sgibridge at git revision REV",
    )
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    apps = [a for a in args.apps.split(",") if a]
    levels = [int(c) for c in args.levels.split(",") if c]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        subjects = [Subject("sgibridge", "sgibridge", "subject", ROOT / "src")]
        for spec in args.rev:
            label, _, rev = spec.partition("=")
            path, _ = stack.enter_context(ab.worktree(rev or label))
            subjects.append(
                Subject(f"sgibridge {label}", "sgibridge", "subject", path / "src")
            )
        for peer in (p for p in args.peers.split(",") if p):
            subjects.append(Subject(peer, peer, "peer"))
        if not args.no_ceiling:
            subjects.append(Subject("bare-asgi", "bare-asgi", "ceiling"))
        result = run(
            subjects, apps, levels, rounds=args.rounds, seconds=args.seconds, log=log
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "w2a_small.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (out / "w2a_small.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
