"""Run the benchmarks and write ``results.json``, ``results.md`` and a chart.

Usage::

    python -m benchmarks.run --quick            # under 2 minutes on 2 cores
    python -m benchmarks.run --full             # longer runs, 3 server rounds, 200 MiB bodies
    python -m benchmarks.run --quick --only inprocess --adapters sgibridge,a2wsgi
    python -m benchmarks.run --quick --out benchmarks/results --uvloop
    python -m benchmarks.run --ab HEAD~1 --quick --only inprocess   # base revision vs working tree

Progress goes to stderr; the Markdown report goes to stdout and to ``<out>/results.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import ab, report
from benchmarks._load import wrk_path
from benchmarks.inprocess import Settings, run_inprocess
from benchmarks.servers import ServerSettings, describe_servers, run_servers

__all__ = ("main",)

PACKAGES = (
    "sgibridge",
    "a2wsgi",
    "asgiref",
    "starlette",
    "uvicorn",
    "gunicorn",
    "hypercorn",
    "waitress",
    "granian",
    "anyio",
    "h11",
    "httptools",
    "uvloop",
    "httpx",
    "matplotlib",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _wrk_version() -> str | None:
    exe = wrk_path()
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "-v"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else "unknown"


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def machine() -> dict[str, Any]:
    """Describe the machine and software the numbers came from."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "mem_total": _mem_total(),
        "loadavg_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": packages,
        "wrk": _wrk_version(),
        "git_commit": _git_commit(),
        "stacks": describe_servers(),
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short runs (the default)")
    mode.add_argument(
        "--full", action="store_true", help="longer runs plus 200 MiB bodies"
    )
    parser.add_argument(
        "--only", choices=("inprocess", "servers"), help="run one part only"
    )
    parser.add_argument(
        "--adapters", help="comma-separated adapter names (ceilings are always kept)"
    )
    parser.add_argument("--out", default="benchmarks/results", help="output directory")
    parser.add_argument(
        "--uvloop", action="store_true", help="in-process W2A on uvloop"
    )
    parser.add_argument(
        "--no-chart", action="store_true", help="skip results.png/results.svg"
    )
    parser.add_argument(
        "--ab",
        metavar="BASE",
        help="compare sgibridge at git revision BASE with the working tree "
        "(in-process, interleaved; writes ab.json and ab.md)",
    )
    parser.add_argument(
        "--ab-work",
        metavar="REV",
        help="with --ab: compare with revision REV instead of the working tree",
    )
    return parser.parse_args(argv)


def _run_ab(args: argparse.Namespace, out_dir: Path) -> int:
    if args.only == "servers":
        _stderr(
            "--ab compares in-process only; use --only inprocess or leave --only out"
        )
        return 2
    if args.full:
        settings = ab.AbSettings(rounds=7, target_small_s=0.6, target_large_s=0.5)
    else:
        settings = ab.AbSettings(rounds=5)
    _stderr(f"A/B: sgibridge at {args.ab} against the working tree ...")
    result = ab.run_ab(args.ab, settings, work_rev=args.ab_work, log=_stderr)
    result["meta"] = machine()
    (out_dir / "ab.json").write_text(json.dumps(result, indent=2, default=repr) + "\n")
    text = ab.markdown(result) + "\n"
    (out_dir / "ab.md").write_text(text)
    print(text)
    _stderr(f"wrote {out_dir}/ab.json and ab.md")
    return 0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse(argv)
    full = bool(args.full)
    only: frozenset[str] | None = None
    if args.adapters:
        only = frozenset(a.strip() for a in args.adapters.split(",") if a.strip())
        only |= {"bare-asgi", "bare-wsgi"}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.ab_work and not args.ab:
        _stderr("--ab-work needs --ab BASE")
        return 2
    if args.ab:
        return _run_ab(args, out_dir)

    if full:
        settings = Settings(
            rounds=5, target_small_s=0.6, target_large_s=0.5, uvloop=args.uvloop
        )
        server_settings = ServerSettings(
            duration_s=5.0,
            max_large_requests=1000,
            huge_mib=(200, 1024),
            leak_requests=100_000,
            rounds=3,
        )
    else:
        settings = Settings(
            rounds=3, target_small_s=0.3, target_large_s=0.2, uvloop=args.uvloop
        )
        server_settings = ServerSettings(
            duration_s=1.0,
            max_large_requests=20,
            leak_requests=0,
            rounds=1,
            secondary_small_only=True,
            secondary_adapters=("sgibridge", "a2wsgi"),
            fixed_stacks=False,
        )

    started = time.monotonic()
    results: dict[str, Any] = {"mode": "full" if full else "quick", "meta": machine()}
    _stderr(f"benchmarks ({results['mode']}) on {results['meta']['cpu']}")
    if args.only in (None, "inprocess"):
        _stderr("in-process ...")
        results["inprocess"] = run_inprocess(settings, only=only, log=_stderr)
    if args.only in (None, "servers"):
        _stderr("real servers ...")
        results["servers"] = run_servers(server_settings, only=only, log=_stderr)
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)

    (out_dir / "results.json").write_text(
        json.dumps(results, indent=2, default=repr) + "\n"
    )
    text = (
        report.markdown(results) + f"\n\nTotal time: {results['meta']['seconds']} s\n"
    )
    (out_dir / "results.md").write_text(text)
    if not args.no_chart:
        panels = report.chart_panels(results)
        report.write_svg(panels, out_dir / "results.svg")
        if report.write_png(panels, out_dir / "results.png"):
            _stderr(f"chart: {out_dir / 'results.png'} and results.svg")
        else:
            _stderr(
                f"chart: {out_dir / 'results.svg'} (matplotlib not installed: no PNG)"
            )
    print(text)
    _stderr(
        f"wrote {out_dir}/results.json and results.md in {results['meta']['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
