"""ASGIToWSGI under Gunicorn, side by side: ``benchmarks/a2w_gunicorn.py``.

Issue 14's ASGIToWSGI goals are ratios to the bare-WSGI ceiling on Gunicorn (gthread with 8
threads, and the sync worker), for the raw ASGI hello and for FastAPI hello. ``servers.py``
measures one tree at a time; this script puts sgibridge at several revisions (and the working
tree) beside the ceiling in one run, interleaved, so a before and an after share the machine's
moment:

```sh
.venv-bench/bin/python -m benchmarks.a2w_gunicorn --rev before=HEAD~1
.venv-bench/bin/python -m benchmarks.a2w_gunicorn --rounds 7 --workers gthread --apps bench
```

``--eager`` adds the working tree with ``ASGIToWSGI(app, eager=True)`` (served from
``benchmarks/_a2w_eager.py``). Each round starts, for every worker class, app and subject (order rotated per round), a fresh
Gunicorn (one worker), warms it up, then runs ``wrk`` on ``GET /small`` for ``--seconds`` at
``--concurrency`` connections, reading the server's CPU time (user + system, from ``/proc``)
before and after. The table gives per row the medians of req/s and of **CPU ms per 1,000
requests**, and each one's ratio to the ceiling (for CPU: ceiling / subject, so both ratios read
"fraction of the ceiling's efficiency"). Writes ``a2w_gunicorn.json`` and ``a2w_gunicorn.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._load import own_load, wrk_load, wrk_path
from benchmarks._proc import running
from benchmarks.servers import ServerSettings, _gunicorn_argv, _gunicorn_sync_argv

__all__ = ("main",)

ROOT = Path(__file__).resolve().parent.parent
WORKERS: dict[str, Callable[[ServerSettings], list[str]]] = {
    "gthread": _gunicorn_argv,
    "sync": _gunicorn_sync_argv,
}
APPS = ("bench", "framework")


@dataclass
class Subject:
    """One server-side app: an A2W adapter and the sgibridge source tree it imports."""

    label: str
    adapter: str
    src: Path | None = None
    eager: bool = False
    rps: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def env(self, app: str) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(self.src)] if self.src else []
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT)])
        env["SGIBRIDGE_BENCH_DIRECTION"] = "a2w"
        env["SGIBRIDGE_BENCH_ADAPTER"] = self.adapter
        env["SGIBRIDGE_BENCH_APP"] = app
        if self.eager:
            env["SGIBRIDGE_BENCH_A2W_EAGER"] = "1"
        env.pop("XDG_RUNTIME_DIR", None)
        return env


@contextmanager
def _worktree(rev: str) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="sgibridge-a2w-rev-"))
    tree = tmp / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(tree), rev],
        cwd=ROOT,
        check=True,
    )
    try:
        yield tree / "src"
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)],
            cwd=ROOT,
            check=False,
        )


def _one(
    subject: Subject,
    worker: str,
    app: str,
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> None:
    key = f"{worker}/{app}"
    settings = ServerSettings()
    argv = WORKERS[worker](settings)
    if subject.eager:  # sgibridge.ASGIToWSGI(app, eager=True)
        argv[argv.index("benchmarks._serve:app")] = "benchmarks._a2w_eager:app"
    with running(argv, env=subject.env(app), cwd=str(ROOT), startup_timeout=60) as proc:
        # The worker imports the app after the master binds the port: wait for it.
        first = own_load(
            proc.port, "GET", "/small", max_requests=1, duration=0, timeout=60
        )
        warm = wrk_load(proc.port, "/small", concurrency=args.concurrency, duration=1)
        if first.errors or warm.errors or not warm.requests:
            raise RuntimeError(f"the warm-up failed: {proc.log_tail(5)}")
        cpu = proc.cpu_seconds()
        result = wrk_load(
            proc.port,
            "/small",
            concurrency=args.concurrency,
            duration=args.seconds,
            timeout=10,
        )
        used = proc.cpu_seconds() - cpu
    if result.errors or not result.requests:
        raise RuntimeError(f"{result.errors} errors in {result.requests} requests")
    rps = result.requests / result.elapsed_s
    subject.rps.setdefault(key, []).append(rps)
    subject.cpu.setdefault(key, []).append(used / result.requests * 1e6)
    log(
        f"  {key:<17} {subject.label:<14} {rps:8.0f} req/s "
        f"{subject.cpu[key][-1]:7.1f} CPU ms/1k"
    )


def run(
    subjects: list[Subject], args: argparse.Namespace, log: Callable[[str], None]
) -> dict[str, Any]:
    keys = [(w, a) for w in args.workers for a in args.apps]
    for round_no in range(args.rounds):
        log(f"round {round_no + 1}/{args.rounds}")
        shift = round_no % len(subjects)
        order = subjects[shift:] + subjects[:shift]
        for worker, app in keys:
            for subject in order:
                try:
                    _one(subject, worker, app, args, log)
                except Exception as exc:  # a failed row is a result
                    subject.errors[f"{worker}/{app}"] = f"{type(exc).__name__}: {exc}"
                    log(f"  {worker}/{app} {subject.label}: {exc}")
    rows = []
    ceiling = subjects[0]
    for worker, app in keys:
        key = f"{worker}/{app}"
        base_rps = statistics.median(ceiling.rps.get(key) or [0.0])
        base_cpu = statistics.median(ceiling.cpu.get(key) or [0.0])
        for subject in subjects:
            rps_list = subject.rps.get(key) or []
            cpu_list = subject.cpu.get(key) or []
            rps = statistics.median(rps_list) if rps_list else None
            cpu = statistics.median(cpu_list) if cpu_list else None
            rows.append(
                {
                    "worker": worker,
                    "app": app,
                    "subject": subject.label,
                    "samples": len(rps_list),
                    "rps": rps,
                    "rps_all": rps_list,
                    "cpu_ms_per_1k": cpu,
                    "cpu_all": cpu_list,
                    "rps_ratio": rps / base_rps if rps and base_rps else None,
                    "cpu_ratio": base_cpu / cpu if cpu and base_cpu else None,
                    "error": subject.errors.get(key),
                }
            )
    return {
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load": os.getloadavg(),
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    title = (
        f"A2W on Gunicorn, GET /small, wrk -c{result['concurrency']} "
        f"{result['seconds']} s, median of {result['rounds']} interleaved rounds "
        "(ceiling = bare-wsgi, the plain WSGI app, for both apps)"
    )
    lines = [
        title,
        "",
        "| worker | app | subject | req/s | x ceiling | CPU ms/1k | x ceiling (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        if row["rps"] is None:
            lines.append(
                f"| {row['worker']} | {row['app']} | {row['subject']} | "
                f"failed: {row['error']} | | | |"
            )
            continue
        lines.append(
            f"| {row['worker']} | {row['app']} | {row['subject']} | {row['rps']:.0f} | "
            f"{row['rps_ratio']:.2f} | {row['cpu_ms_per_1k']:.1f} | "
            f"{row['cpu_ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rev",
        action="append",
        default=[],
        metavar="LABEL=REV",
        help="also run sgibridge at a git revision (repeatable)",
    )
    parser.add_argument("--no-work", action="store_true", help="skip the working tree")
    parser.add_argument(
        "--eager",
        action="store_true",
        help="also run the working tree with ASGIToWSGI(app, eager=True)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=lambda s: s.split(","), default=list(WORKERS))
    parser.add_argument("--apps", type=lambda s: s.split(","), default=list(APPS))
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if wrk_path() is None:
        parser.error("wrk is not installed (bash benchmarks/setup.sh)")
    subjects = [Subject("bare-wsgi", "bare-wsgi")]
    with ExitStack() as stack:
        for spec in args.rev:
            label, _, rev = spec.partition("=")
            src = stack.enter_context(_worktree(rev or label))
            subjects.append(Subject(label, "sgibridge", src))
        if not args.no_work:
            subjects.append(Subject("work", "sgibridge", ROOT / "src"))
        if args.eager:
            subjects.append(Subject("work-eager", "sgibridge", ROOT / "src", True))
        result = run(subjects, args, print)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "a2w_gunicorn.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (out / "a2w_gunicorn.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
