"""What a scale-run phase measures of itself (:mod:`bench.scale`): CPU time including ended
children, wall time and load, peak RSS; and the run's percentiles and file sizes."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its children that have ended (the
    rebuild reads the store in a child process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def took(started: float, cpu: float) -> dict[str, float]:
    """Wall and CPU seconds since ``started``/``cpu``, and the load average now: on a shared
    machine the wall figure waits for a core; the CPU figure does not."""
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "load": os.getloadavg()[0],
    }


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
