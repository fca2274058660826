"""The scale run's table and chart (``python -m bench.scale``): one column per ledger size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: measurement → (label, unit, goal, "max" when the goal is an upper bound)
METRICS: dict[str, tuple[str, str, float | None, str]] = {
    "ledger_bytes_per_event": ("event store on disk", "bytes/event", None, ""),
    "chain_bytes_per_event": ("chain on disk", "bytes/event", None, ""),
    "duckdb_bytes_per_event": ("DuckDB projection on disk", "bytes/event", None, ""),
    "prove_p50_ms": ("prove p50", "ms", None, ""),
    "prove_p99_ms": ("prove p99", "ms", 5.0, "max"),
    "history_p50_ms": ("item history query p50", "ms", None, ""),
    "history_p99_ms": ("item history query p99", "ms", 10.0, "max"),
    "prove_cpu_p99_ms": ("prove p99, CPU time", "ms", 5.0, "max"),
    "history_cpu_p99_ms": ("item history query p99, CPU time", "ms", 10.0, "max"),
    "audit_events_per_s": ("full audit", "events/s", 100_000.0, "min"),
    "audit_events_per_cpu_s": ("full audit, per CPU second", "events/s", 100_000.0, "min"),
    "rebuild_events_per_s": ("projection rebuild", "events/s", 100_000.0, "min"),
    "rebuild_events_per_cpu_s": ("projection rebuild, per CPU second", "events/s", None, ""),
    "grow_events_per_s": ("signed events written through the ledger", "events/s", None, ""),
    "grow_events_per_cpu_s": ("signed events written, per CPU second", "events/s", None, ""),
    "anchor_events_per_cpu_s": ("anchor: events sealed per CPU second", "events/s", None, ""),
    "view_inventory_by_location_s": ("view inventory_by_location", "s", 2.0, "max"),
    "view_dwell_time_s": ("view dwell_time", "s", 2.0, "max"),
    "view_suspected_clones_s": ("view suspected_clones", "s", 2.0, "max"),
    "view_appraiser_activity_s": ("view appraiser_activity", "s", 2.0, "max"),
    "view_chain_of_custody_s": ("view chain_of_custody, full scan", "s", 2.0, "max"),
    "grow_rss_mb": ("ingest (ledger writer) peak RSS", "MB", 500.0, "max"),
    "anchor_rss_mb": ("anchor peak RSS", "MB", 500.0, "max"),
    "project_rss_mb": ("projector peak RSS", "MB", None, ""),
    "audit_rss_mb": ("audit peak RSS", "MB", None, ""),
    "query_rss_mb": ("prover + analyst peak RSS", "MB", None, ""),
    "load_max": ("1-minute load average at the end of a phase, highest", "", None, ""),
}
GOALS = {k: f"{'≤' if how == 'max' else '≥'} {goal:g}" for k, (_, _, goal, how) in METRICS.items()
         if goal is not None}  # fmt: skip


def met(key: str, value: float) -> bool | None:
    _, _, goal, how = METRICS[key]
    if goal is None:
        return None
    return value <= goal if how == "max" else value >= goal


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def table(rows: list[dict[str, Any]]) -> str:
    head = "| measurement | unit | " + " | ".join(f"{r['events']:,} events" for r in rows)
    lines = [head + " | goal |", "|---|---|" + "---|" * len(rows) + "---|"]
    for key, (label, unit, _, _) in METRICS.items():
        cells = []
        for row in rows:
            if key not in row:  # a row measured before this measurement existed
                cells.append("–")
                continue
            ok = met(key, row[key])
            cells.append(_fmt(row[key]) + ("" if ok is None or ok else " **(missed)**"))
        lines.append(f"| {label} | {unit} | " + " | ".join(cells) + f" | {GOALS.get(key, '')} |")
    items = rows[0]["items"] if rows else 0
    return f"Ledger of {items:,} items, growing.\n\n" + "\n".join(lines) + "\n"


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("latency p99 (ms)", [k for k in METRICS if k.endswith("p99_ms")]),
        ("throughput (events/s)", [k for k in METRICS if "events_per" in k]),
        ("analyst views (s)", [k for k in METRICS if k.startswith("view_")]),
        ("disk (bytes/event)", [k for k in METRICS if k.endswith("bytes_per_event")]),
        ("peak RSS (MB)", [k for k in METRICS if k.endswith("rss_mb")]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    for ax, (title, keys) in zip(axes, panels, strict=True):
        for key in keys:
            points = [(r["events"], r[key]) for r in rows if key in r]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=METRICS[key][0])
        ax.set_xscale("log")
        if title.startswith("throughput"):
            ax.set_yscale("log")
        ax.set_xlabel("events in the ledger")
        ax.set_title(title)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(rows: list[dict[str, Any]], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "scale.json", "md": out / "scale.md", "png": out / "scale.png"}
    paths["json"].write_text(json.dumps({"rows": rows, "goals": GOALS}, indent=2) + "\n")
    paths["md"].write_text(table(rows))
    chart(rows, paths["png"])
    return paths
