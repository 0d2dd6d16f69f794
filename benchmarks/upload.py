"""W2A uploads on real servers, side by side: sgibridge variants against the peers.

Usage::

    python -m benchmarks.upload                       # sgibridge (working tree), peers, ceiling
    python -m benchmarks.upload --rev before=HEAD~2   # plus sgibridge at a revision
    python -m benchmarks.upload --buffer 256k,1m,4m   # plus sgibridge with other watermarks
    python -m benchmarks.upload --servers uvicorn,hypercorn --mib 20 --rounds 5 --rss
    python -m benchmarks.upload --env MALLOC_TRIM_THRESHOLD_=16777216   # every server

Theory of operation
-------------------
The question this answers is the one issue 14 asks of the request body: what does streaming an
upload through sgibridge's bounded buffer cost, per GiB, against Uvicorn's own WSGI middleware
(which reads the whole body into memory first), a2wsgi, and the bare ASGI app (the ceiling)?
Each *subject* is an adapter name from ``benchmarks.adapters`` plus, for sgibridge, the tree
its source comes from (the working tree, or a revision checked out into a temporary
``git worktree`` as ``benchmarks.ab`` does) and an optional ``buffer_size`` (the request body's
read-ahead: how far the loop reads ahead of the WSGI app, in bytes).

For every round, every server and every subject (order rotated each round) a fresh server
starts (``benchmarks._proc.running``, the same command lines as ``benchmarks.servers``), takes a
warm-up upload, then ``--requests`` uploads of ``--mib`` MiB one after another on one keep-alive
connection (``benchmarks._load.own_load``). The figures per subject are the medians over the
rounds of MB/s (client side) and of the server's CPU seconds per GiB (user + system of the
server's process tree, from ``/proc``), and the ratios against the fastest peer's medians: speed
``× peer`` (above 1.00 is faster) and CPU ``× peer`` (below 1.00 is cheaper). With ``--rss``,
each subject also takes one 1 GiB upload in the first round, with the server's peak RSS growth
sampled every 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import ab
from benchmarks._load import own_load
from benchmarks._proc import running
from benchmarks.servers import (
    GIB,
    MIB,
    ServerSettings,
    _hypercorn_argv,
    _sampling,
    _uvicorn_argv,
)

__all__ = ("Subject", "main", "run")

ROOT = Path(__file__).resolve().parent.parent
SERVERS: dict[str, Callable[[ServerSettings], list[str]]] = {
    "uvicorn": _uvicorn_argv,
    "hypercorn": _hypercorn_argv,
}
PEERS = ("uvicorn", "a2wsgi")


@dataclass
class Subject:
    """One server-side app: an adapter, the sgibridge tree it uses, its watermark."""

    label: str
    adapter: str
    role: str
    src: Path | None = None
    buffer_size: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    mbps: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(self.src)] if self.src else []
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT)])
        env["SGIBRIDGE_BENCH_DIRECTION"] = "w2a"
        env["SGIBRIDGE_BENCH_ADAPTER"] = self.adapter
        if self.buffer_size is not None:
            env["SGIBRIDGE_BENCH_BUFFER_SIZE"] = str(self.buffer_size)
        env.pop("XDG_RUNTIME_DIR", None)
        env.update(self.extra_env)
        return env


def _size(text: str) -> int:
    text = text.strip().lower()
    for suffix, factor in (("k", 1024), ("m", MIB), ("g", GIB)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * factor)
    return int(text)


def _one(
    subject: Subject,
    server: str,
    mib: int,
    requests: int,
    rss: bool,
    log: Callable[[str], None],
) -> None:
    body = bytes(mib * MIB)
    argv = SERVERS[server](ServerSettings())
    with running(argv, env=subject.env(), cwd=str(ROOT)) as proc:
        warm = own_load(
            proc.port,
            "POST",
            "/upload",
            body=body,
            max_requests=1,
            duration=0,
            timeout=60,
            expect_body=str(len(body)).encode(),
        )
        if warm.errors or not warm.requests:
            raise RuntimeError(f"the warm-up upload failed: {proc.log_tail(5)}")
        cpu = proc.cpu_seconds()
        result = own_load(
            proc.port,
            "POST",
            "/upload",
            body=body,
            max_requests=requests,
            duration=0 if requests == 1 else 60,
            timeout=120,
            expect_body=str(len(body)).encode(),
        )
        used = proc.cpu_seconds() - cpu
        if result.errors or result.requests != requests:
            raise RuntimeError(
                f"{result.errors} errors, {result.requests}/{requests} uploads"
            )
        subject.mbps.setdefault(server, []).append(result.mb_out_per_s)
        subject.cpu.setdefault(server, []).append(
            used / (result.requests * len(body) / GIB)
        )
        if rss and server not in subject.rss:
            huge = bytes(GIB)
            before = proc.rss_bytes()
            with _sampling(proc) as sampler:
                big = own_load(
                    proc.port,
                    "POST",
                    "/upload",
                    body=huge,
                    max_requests=1,
                    duration=0,
                    timeout=300,
                    expect_body=str(GIB).encode(),
                )
            if big.requests == 1:
                subject.rss[server] = sampler.peak - before
    log(
        f"  {server:<9} {subject.label:<16} {subject.mbps[server][-1]:8.1f} MB/s "
        f"{subject.cpu[server][-1]:6.2f} CPU s/GiB"
    )


def run(
    subjects: list[Subject],
    servers: list[str],
    *,
    mib: int,
    requests: int,
    rounds: int,
    rss: bool,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure every subject on every server; return a JSON-ready dict."""
    for round_no in range(rounds):
        shift = round_no % len(subjects)
        for subject in subjects[shift:] + subjects[:shift]:
            for server in servers:
                if server in subject.errors:
                    continue
                try:
                    _one(subject, server, mib, requests, rss and round_no == 0, log)
                except Exception as exc:  # one subject's failure is a result
                    subject.errors[server] = str(exc)[:300]
                    log(f"  {server:<9} {subject.label:<16} FAILED {exc}")
        log(f"round {round_no + 1}/{rounds} done")
    out: dict[str, Any] = {
        "env": subjects[0].extra_env if subjects else {},
        "mib": mib,
        "requests": requests,
        "rounds": rounds,
        "servers": {},
    }
    for server in servers:
        rows: list[dict[str, Any]] = []
        for s in subjects:
            ok = server in s.mbps and server not in s.errors
            rows.append(
                {
                    "label": s.label,
                    "adapter": s.adapter,
                    "role": s.role,
                    "buffer_size": s.buffer_size,
                    "mb_per_s": statistics.median(s.mbps[server]) if ok else None,
                    "cpu_s_per_gib": statistics.median(s.cpu[server]) if ok else None,
                    "mb_per_s_rounds": s.mbps.get(server, []),
                    "cpu_rounds": s.cpu.get(server, []),
                    "rss_growth_1gib": s.rss.get(server),
                    "error": s.errors.get(server),
                }
            )
        peers = [r for r in rows if r["role"] == "peer" and r["mb_per_s"]]
        best = max(peers, key=lambda r: r["mb_per_s"]) if peers else None
        for row in rows:
            fast = best is not None and row["mb_per_s"]
            row["speed_x_peer"] = (
                row["mb_per_s"] / best["mb_per_s"] if fast and best else None
            )
            row["cpu_x_peer"] = (
                row["cpu_s_per_gib"] / best["cpu_s_per_gib"] if fast and best else None
            )
        out["servers"][server] = {
            "best_peer": best["label"] if best else None,
            "rows": rows,
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    """The result as Markdown tables, one per server."""

    def num(value: float | None, digits: int = 2) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    lines = []
    if result.get("env"):
        lines += [f"Server environment: {result['env']}", ""]
    for server, section in result["servers"].items():
        lines += [
            (
                f"#### {server}: {result['requests']} uploads of {result['mib']} MiB, "
                f"medians of {result['rounds']} rounds (best peer: {section['best_peer']})"
            ),
            "",
            (
                "| subject | MB/s | × peer (speed) | CPU s/GiB | × peer (CPU) "
                "| RSS growth, 1 GiB upload |"
            ),
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in section["rows"]:
            rss = row["rss_growth_1gib"]
            cells = [
                row["label"],
                row["error"] or num(row["mb_per_s"], 0),
                num(row["speed_x_peer"]),
                num(row["cpu_s_per_gib"]),
                num(row["cpu_x_peer"]),
                "–" if rss is None else f"{rss / MIB:.1f} MiB",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upload")
    parser.add_argument("--servers", default="uvicorn,hypercorn")
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rss", action="store_true", help="one 1 GiB upload each")
    parser.add_argument(
        "--rev",
        action="append",
        default=[],
        metavar="LABEL=REV",
        help="also sgibridge at git revision REV",
    )
    parser.add_argument(
        "--buffer",
        default="",
        help="also the working tree's sgibridge with these buffer_size values (256k,4m)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set in every server's environment (e.g. glibc's MALLOC_* tunables)",
    )
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        subjects = [Subject("sgibridge", "sgibridge", "subject", ROOT / "src")]
        for size in (s for s in args.buffer.split(",") if s):
            subjects.append(
                Subject(
                    f"sgibridge {size}",
                    "sgibridge",
                    "subject",
                    ROOT / "src",
                    _size(size),
                )
            )
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
        extra = dict(kv.split("=", 1) for kv in args.env)
        for subject in subjects:
            subject.extra_env = extra
        result = run(
            subjects,
            servers,
            mib=args.mib,
            requests=args.requests,
            rounds=args.rounds,
            rss=args.rss,
            log=log,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "upload.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (out / "upload.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
