"""Results of one ``python -m bench`` run: rows with goals, machine facts, Markdown and a chart."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


@dataclass
class Goal:
    op: str  # ">=" or "<=" (or "flat")
    value: float
    text: str

    def met(self, value: float) -> bool:
        return value >= self.value if self.op == ">=" else value <= self.value


@dataclass
class Row:
    """One measurement: a number, its unit, and where it has them a baseline and a goal."""

    key: str
    group: str  # "end to end", "latency", "components", "memory"
    name: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline: float | None = None
    goal: Goal | None = None
    met: bool | None = None
    note: str = ""
    chart: str | None = None  # "throughput" | "latency" | None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline

    def judge(self) -> Row:
        if self.goal is not None and self.met is None:
            self.met = self.goal.met(self.value)
        return self

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


def machine_facts(kafka: str) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "ram_gb": round(ram_gb(), 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "kafka": kafka,
        "kafka_python": package_version("kafka-python"),
        "duckdb": package_version("duckdb"),
        "eventsourcing": package_version("eventsourcing"),
        "fastavro": package_version("fastavro"),
        "pynacl": package_version("pynacl"),
        "merkletools": package_version("merkletools"),
    }


# ----- rendering ------------------------------------------------------------------------------


def fmt(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if unit in {"events/s", "rows/s", "leaves/s", "verifies/s"}:
        return f"{value:,.0f} {unit}"
    if unit == "×":
        return f"{value:.3f}×" if value < 10 else f"{value:,.1f}×"
    if unit in {"ms", "s", "MB", "µs"}:
        return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{value:,.3g} {unit}"


def markdown(rows: list[Row], facts: dict[str, Any], size: str) -> str:
    lines = [
        f"Assay benchmark, {size} size — {facts['date']} — {facts['cpu_count']} × "
        f"{facts['cpu_model']}, {facts['ram_gb']} GB RAM, Python {facts['python']}, "
        f"Kafka {facts['kafka']}, kafka-python {facts['kafka_python']}, duckdb "
        f"{facts['duckdb']}, eventsourcing {facts['eventsourcing']}",
        "",
        "| group | measurement | value | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        baseline = (
            f"{row.baseline_name} {fmt(row.baseline, row.unit)}"
            if row.baseline is not None and row.baseline_name
            else ""
        )
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else ""
        goal = row.goal.text if row.goal else ""
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        name = f"{row.name} ({row.note})" if row.note else row.name
        value = fmt(row.value, row.unit)
        lines.append(f"| {row.group} | {name} | {value} | {baseline} | {ratio} | {goal} | {met} |")
    return "\n".join(lines) + "\n"


def chart(rows: list[Row], facts: dict[str, Any], size: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tput = [r for r in rows if r.chart == "throughput"]
    lat = [r for r in rows if r.chart == "latency"]
    mem = [r for r in rows if r.group == "memory" and r.key.endswith("_end")]
    fig, axes = plt.subplots(
        1,
        3,
        figsize=(18, max(5.0, 0.38 * max(len(tput), len(lat), 6) + 1.5)),
        gridspec_kw={"width_ratios": [3, 3, 2]},
    )

    def bars(ax: Any, items: list[Row], xlabel: str, log: bool) -> None:
        names = [r.name for r in items][::-1]
        values = [r.value for r in items][::-1]
        colors = []
        for r in items[::-1]:
            colors.append("#999999" if r.met is None else ("#2e7d32" if r.met else "#c62828"))
        ax.barh(names, values, color=colors)
        for i, r in enumerate(items[::-1]):
            if r.goal is not None and r.goal.op in {">=", "<="}:
                ax.plot([r.goal.value] * 2, [i - 0.4, i + 0.4], color="black", lw=2)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)

    bars(axes[0], tput, "per second (log); black tick = goal", log=True)
    axes[0].set_title("Throughput")
    bars(axes[1], lat, "milliseconds (log); black tick = goal", log=True)
    axes[1].set_title("Latency (p50 / p99)")
    names = [r.name.replace(" RSS at end", "") for r in mem]
    start = [float(r.baseline or 0.0) for r in mem]
    end = [r.value for r in mem]
    y = list(range(len(mem)))
    axes[2].barh([v + 0.2 for v in y], start, height=0.4, label="start", color="#90a4ae")
    axes[2].barh([v - 0.2 for v in y], end, height=0.4, label="end", color="#37474f")
    axes[2].set_yticks(y, names, fontsize=8)
    axes[2].set_xlabel("RSS, MB")
    axes[2].set_title("Memory per process")
    axes[2].legend(fontsize=8)
    fig.suptitle(
        f"Assay bench ({size}) — {facts['date'][:10]}, {facts['cpu_count']} CPUs "
        f"{facts['cpu_model']}, Python {facts['python']}, Kafka {facts['kafka']}  "
        "(green: goal met, red: missed, grey: no goal)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(
    rows: list[Row], facts: dict[str, Any], raw: dict[str, Any], size: str, out: Path
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench-{size}"
    paths = {
        "json": stem.with_suffix(".json"),
        "md": stem.with_suffix(".md"),
        "png": stem.with_suffix(".png"),
    }
    document = {
        "size": size,
        "machine": facts,
        "results": [r.to_json() for r in rows],
        "raw": raw,
    }
    paths["json"].write_text(json.dumps(document, indent=1, default=str) + "\n")
    paths["md"].write_text(markdown(rows, facts, size))
    chart(rows, facts, size, paths["png"])
    return paths
