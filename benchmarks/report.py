"""Turn a results dict into Markdown tables and a bar chart (PNG with matplotlib, SVG always).

Ratios are *speed* ratios, so every ratio reads the same way: ``× best peer`` is how many times
faster (or higher-throughput) an adapter is than the best peer in that row's table, and
``× ceiling`` the same against the no-adapter ceiling.  Above 1 is faster; the best peer is 1.00
by definition; the ceiling normally stays above every adapter, so ``× ceiling`` is below 1.
"""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ("Panel", "Row", "chart_panels", "markdown", "write_png", "write_svg")

MIB = 1024 * 1024


@dataclass
class Row:
    """One adapter's figure in one table."""

    adapter: str
    role: str
    value: float | None
    extras: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Panel:
    """One bar group of the chart."""

    title: str
    unit: str
    bars: list[tuple[str, str, float]]  # (adapter, role, value)

    def limit(self) -> float:
        """The axis end: a ceiling far above every adapter is clipped, so adapters stay legible."""
        adapters = [v for _, role, v in self.bars if role != "ceiling"]
        top = max((v for _, _, v in self.bars), default=1.0) or 1.0
        if adapters and max(adapters) > 0 and top > 1.5 * max(adapters):
            return 1.25 * max(adapters)
        return top


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value / MIB:.1f} MiB"


def _speed(value: float, reference: float, higher_is_better: bool) -> float:
    return value / reference if higher_is_better else reference / value


def _table(
    title: str,
    unit: str,
    rows: Sequence[Row],
    higher_is_better: bool,
    extra_heads: Sequence[str],
) -> str:
    measured = [
        r for r in rows if r.value is not None and r.value > 0 and r.error is None
    ]
    peers = [r.value for r in measured if r.role == "peer" and r.value is not None]
    best = (max(peers) if higher_is_better else min(peers)) if peers else None
    ceiling = next((r.value for r in measured if r.role == "ceiling"), None)
    heads = ["adapter", unit, "× best peer", "× ceiling", *extra_heads]
    lines = [f"#### {title}", "", "| " + " | ".join(heads) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(heads) - 1)) + "|")
    for row in rows:
        name = f"**{row.adapter}**" if row.role == "subject" else row.adapter
        if row.role == "ceiling":
            name += " (ceiling)"
        if row.error is not None or row.value is None or row.value <= 0:
            reason = (
                (row.error or "no result").replace("|", "/").replace("\n", " ")[:120]
            )
            cells = [name, reason, "–", "–", *(["–"] * len(extra_heads))]
        else:
            vs_best = _speed(row.value, best, higher_is_better) if best else None
            vs_ceil = _speed(row.value, ceiling, higher_is_better) if ceiling else None
            cells = [
                name,
                _fmt(row.value),
                _fmt(vs_best, 2),
                _fmt(vs_ceil, 3),
                *row.extras,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- in-process ---------------------------------------------------------------------------------


def _inprocess_tables(direction: dict[str, Any]) -> list[str]:
    out = []
    for scenario in direction["scenarios"]:
        info = scenario["scenario"]
        rows = []
        for r in scenario["results"]:
            spread = r.get("spread")
            extras = [
                _fmt(r.get("cpu_us")),
                "–" if spread is None else f"±{spread * 50:.0f}%",
            ]
            if info["large"]:
                extras.append(_mib(r.get("peak_bytes")))
            rows.append(
                Row(r["adapter"], r["role"], r.get("us"), extras, r.get("error"))
            )
        heads = ["CPU µs/request", "spread"] + (
            ["traced peak"] if info["large"] else []
        )
        out.append(_table(info["title"], "µs/request", rows, False, heads))
    for missing in direction.get("unavailable", []):
        out.append(f"- `{missing['adapter']}` unavailable: {missing['reason']}\n")
    return out


# --- servers ------------------------------------------------------------------------------------


_TRANSFER = re.compile(r"^(download|upload)_(\d+)m(?:_c(\d+))?$")


def _transfer_order(key: str) -> tuple[int, int, str]:
    match = _TRANSFER.match(key)
    assert match is not None
    return int(match.group(2)), int(match.group(3) or 1), match.group(1)


def _server_tables(direction: dict[str, Any]) -> list[str]:
    results = direction["results"]
    out = [f"`{direction['command']}`\n"]
    if direction.get("scope"):
        out.append(f"Scope: {direction['scope']}.\n")
    if direction.get("error"):
        out.append(f"Not run: {direction['error']}.\n")
        return out

    def rows_for(key: str, value_key: str, extras: list[tuple[str, str]]) -> list[Row]:
        rows = []
        for r in results:
            metric = (r.get("metrics") or {}).get(key)
            if metric is None or "skipped" in metric:
                reason = (metric or {}).get("skipped") or r.get("error", "no result")
                if "skipped" in (metric or {}):
                    reason = "skipped: " + reason
                rows.append(Row(r["adapter"], r["role"], None, error=reason))
                continue
            cells = []
            for extra, kind in extras:
                value = metric.get(extra)
                if kind == "mib":
                    cells.append(_mib(value))
                elif kind == "int":
                    cells.append("–" if value is None else f"{value:.0f}")
                else:
                    cells.append(_fmt(value, 2))
            value = metric.get(value_key)
            errors = metric.get("errors") or 0
            error = f"{errors:.0f} errors" if errors and not value else None
            rows.append(Row(r["adapter"], r["role"], value, cells, error))
        return rows

    latency = [
        ("cpu_ms_per_1k", "num"),
        ("p50_ms", "num"),
        ("p99_ms", "num"),
        ("errors", "int"),
    ]
    levels = sorted(
        {
            int(k[len("small_c") :])
            for r in results
            for k in (r.get("metrics") or {})
            if k.startswith("small_c")
        }
    )
    for c in levels:
        rows = rows_for(f"small_c{c}", "rps", latency)
        heads = ["CPU ms / 1k req", "p50 ms", "p99 ms", "errors"]
        out.append(_table(f"GET /small, concurrency {c}", "req/s", rows, True, heads))
    transfers = sorted(
        {
            (int(m.group(2)), int(m.group(3) or 1))
            for r in results
            for k in (r.get("metrics") or {})
            if (m := _TRANSFER.match(k))
        }
    )
    leak_rows = []
    for r in results:
        leak = (r.get("metrics") or {}).get("leak")
        if leak:
            leak_rows.append(
                f"| {'**' + r['adapter'] + '**' if r['adapter'] == 'sgibridge' else r['adapter']} "
                f"| {leak['requests']:.0f} | {leak['errors']:.0f} | {_mib(leak['rss_growth'])} "
                f"| {leak['threads_before']:.0f} | {leak['threads_after']:.0f} |"
            )
    for size, concurrency in transfers:
        for kind in ("download", "upload"):
            key = f"{kind}_{size}m" + (f"_c{concurrency}" if concurrency > 1 else "")
            rows = rows_for(
                key,
                "mb_per_s",
                [("cpu_s_per_gib", "num"), ("rss_growth", "mib"), ("rss_peak", "mib")],
            )
            title = f"{kind} {size} MiB, concurrency {concurrency}"
            if concurrency > 1:
                title += f" ({concurrency} transfers at once)"
            heads = ["CPU s / GiB", "server RSS growth", "server RSS peak"]
            out.append(_table(title, "MB/s", rows, True, heads))
    if leak_rows:
        out.append(
            "#### Leak check: GET /small at concurrency 16, then the idle server\n\n"
            "| adapter | requests | errors | server RSS growth | threads before | "
            "threads after |\n|---|---:|---:|---:|---:|---:|\n"
            + "\n".join(leak_rows)
            + "\n"
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    """Render the whole results dict as Markdown."""
    meta = results["meta"]
    lines = [
        f"## sgibridge benchmarks ({results['mode']})",
        "",
        (
            f"{meta['cpu']} · {meta['cores']} cores · Python {meta['python']} · "
            f"{meta['platform']} · {meta['started']}"
        ),
        "",
        (
            "Ratios are speed ratios: `× best peer` > 1 means faster than the best peer adapter; "
            "`× ceiling` compares with the same work done natively, with no adapter."
        ),
        "",
    ]
    versions = ", ".join(f"{k} {v}" for k, v in meta["packages"].items())
    lines += [f"Packages: {versions}", ""]
    inprocess = results.get("inprocess")
    if inprocess:
        for key, label in (
            ("w2a", "WSGI app as ASGI (W2A)"),
            ("a2w", "ASGI app as WSGI (A2W)"),
        ):
            direction = inprocess[key]
            lines.append(f"### In-process: {label}, loop: {direction['loop']}\n")
            lines += _inprocess_tables(direction)
    servers = results.get("servers")
    if servers:
        lines.append(f"Load generator: {servers['stacks']['load']}\n")
        primary = {"w2a": "W2A on Uvicorn", "a2w": "A2W on Gunicorn gthread"}
        for key, section in servers.items():
            # The primary stacks (older results carry no label), then any secondary one.
            if not isinstance(section, dict) or "results" not in section:
                continue
            label = section.get("label") or primary.get(key, key)
            lines.append(f"### Real servers: {label}\n")
            lines += _server_tables(section)
    return "\n".join(lines)


# --- chart --------------------------------------------------------------------------------------


def chart_panels(results: dict[str, Any]) -> list[Panel]:
    """Throughput and memory per adapter, one panel per scenario.

    Real servers: the primary stacks only (Uvicorn and Gunicorn), to keep the chart legible.
    """
    panels: list[Panel] = []
    inprocess = results.get("inprocess") or {}
    for key in ("w2a", "a2w"):
        if key not in inprocess:
            continue
        for scenario in inprocess[key]["scenarios"]:
            info = scenario["scenario"]
            ok = [r for r in scenario["results"] if r.get("us")]
            size = max(info["body_size"], info["response_size"])
            if info["large"]:
                bars = [
                    (r["adapter"], r["role"], size / r["us"]) for r in ok
                ]  # bytes/µs = MB/s
                panels.append(Panel(f"in-process {key} {info['name']}", "MB/s", bars))
                mem = [
                    (r["adapter"], r["role"], r["peak_bytes"] / MIB)
                    for r in ok
                    if r.get("peak_bytes") is not None
                ]
                panels.append(
                    Panel(f"in-process {key} {info['name']} memory", "MiB", mem)
                )
            else:
                bars = [(r["adapter"], r["role"], 1e6 / r["us"]) for r in ok]
                panels.append(Panel(f"in-process {key} {info['name']}", "req/s", bars))
    servers = results.get("servers") or {}
    for key in ("w2a", "a2w"):
        if key not in servers:
            continue
        rows = [r for r in servers[key]["results"] if r.get("metrics")]
        for c in (1, 16):
            bars = [
                (r["adapter"], r["role"], r["metrics"][f"small_c{c}"]["rps"])
                for r in rows
                if r["metrics"].get(f"small_c{c}", {}).get("rps")
            ]
            panels.append(Panel(f"server {key} small c{c}", "req/s", bars))
            cpu = [
                (r["adapter"], r["role"], r["metrics"][f"small_c{c}"]["cpu_ms_per_1k"])
                for r in rows
                if r["metrics"].get(f"small_c{c}", {}).get("cpu_ms_per_1k")
            ]
            panels.append(
                Panel(
                    f"server {key} small c{c} CPU (lower is better)", "ms/1k req", cpu
                )
            )
        metric_keys = sorted(
            (k for k in {k for r in rows for k in r["metrics"]} if _TRANSFER.match(k)),
            key=_transfer_order,
        )
        for metric in metric_keys:
            good = [r for r in rows if (r["metrics"].get(metric) or {}).get("mb_per_s")]
            bars = [
                (r["adapter"], r["role"], r["metrics"][metric]["mb_per_s"])
                for r in good
            ]
            panels.append(Panel(f"server {key} {metric}", "MB/s", bars))
            cpu = [
                (r["adapter"], r["role"], r["metrics"][metric]["cpu_s_per_gib"])
                for r in good
                if r["metrics"][metric].get("cpu_s_per_gib")
            ]
            panels.append(
                Panel(f"server {key} {metric} CPU (lower is better)", "s/GiB", cpu)
            )
            mem = [
                (r["adapter"], r["role"], r["metrics"][metric]["rss_growth"] / MIB)
                for r in good
            ]
            panels.append(Panel(f"server {key} {metric} RSS growth", "MiB", mem))
    return [p for p in panels if p.bars]


_COLOURS = {"subject": "#e8710a", "peer": "#4a7fb5", "ceiling": "#9a9a9a"}


def write_svg(panels: Sequence[Panel], path: Path) -> None:
    """A dependency-free SVG: horizontal bars, two panels per row."""
    bar_h, gap, label_w, bar_w, col_w, title_h = 16, 4, 90, 230, 420, 22
    heights = [title_h + len(p.bars) * (bar_h + gap) + 14 for p in panels]
    rows = [max(heights[i : i + 2]) for i in range(0, len(panels), 2)]
    width, height = 2 * col_w + 20, sum(rows) + 40
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">'
        ),
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="10" y="20" font-size="14" font-weight="bold">sgibridge benchmarks</text>',
    ]
    y0 = 40
    for i, panel in enumerate(panels):
        x = 10 + (i % 2) * col_w
        y = y0 + sum(rows[: i // 2])
        top = panel.limit()
        title = html.escape(f"{panel.title} ({panel.unit})")
        parts.append(f'<text x="{x}" y="{y + 14}" font-weight="bold">{title}</text>')
        for j, (name, role, value) in enumerate(panel.bars):
            by = y + title_h + j * (bar_h + gap)
            clipped = value > top
            length = max(1.0, bar_w * min(value, top) / top)
            colour = _COLOURS.get(role, "#4a7fb5")
            parts.append(f'<text x="{x}" y="{by + 12}">{html.escape(name)}</text>')
            parts.append(
                f'<rect x="{x + label_w}" y="{by}" width="{length:.1f}" height="{bar_h}" '
                f'fill="{colour}"/>'
            )
            label = _fmt(value) + (" (clipped)" if clipped else "")
            parts.append(
                f'<text x="{x + label_w + length + 4:.1f}" y="{by + 12}">{label}</text>'
            )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def write_png(panels: Sequence[Panel], path: Path) -> bool:
    """The same chart with matplotlib; False when matplotlib is not importable."""
    # Imported by name: matplotlib is optional, and mypy must pass with or without it.
    try:
        importlib.import_module("matplotlib").use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return False
    cols = 2
    n_rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(12, 2.2 * n_rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        names = [name for name, _, _ in panel.bars]
        values = [value for _, _, value in panel.bars]
        colours = [_COLOURS.get(role, "#4a7fb5") for _, role, _ in panel.bars]
        top = panel.limit()
        ax.barh(names, [min(v, top) for v in values], color=colours)
        ax.set_xlim(0, top * 1.3)
        for y, value in enumerate(values):
            label = _fmt(value) + (" (clipped)" if value > top else "")
            ax.text(min(value, top), y, " " + label, va="center", fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{panel.title} ({panel.unit})", fontsize=9)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
