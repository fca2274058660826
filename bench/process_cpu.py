"""CPU seconds of whole processes, read from /proc, to say where a multi-process bench's
cores went: per process, per event, from one mark to the next (bench/bench_pipeline.py)."""

from __future__ import annotations

import os
import time
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads) so far, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_marks(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process, and of this one (the bench: producer and
    snapshot polling) as ``bench``."""
    out = {name: cpu for name, pid in pids.items() if (cpu := cpu_seconds(pid)) is not None}
    out["bench"] = time.process_time()
    return out


def cpu_between(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
    """CPU µs per event each process spent between two marks, and their total."""
    per = {
        name: 1e6 * (after[name] - before[name]) / max(events, 1)
        for name in after
        if name in before
    }
    per["total"] = sum(per.values())
    return per


def cpu_table(result: dict[str, Any]) -> str:
    """Where the CPU went, µs per event by process, from the first publish to each mark."""
    marks = result["cpu_us_per_event"]
    names = list(marks["projected"])
    phases = result["phase_seconds"]
    head = "| process | " + " | ".join(f"to {m} ({phases[m]:.1f} s)" for m in marks) + " |"
    rows = [head, "|---" * (len(marks) + 1) + "|"]
    for name in names:
        cells = " | ".join(f"{marks[m].get(name, float('nan')):.1f}" for m in marks)
        rows.append(f"| {name} | {cells} |")
    return "\n".join(rows)
