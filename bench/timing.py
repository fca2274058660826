"""Shared timing for the benchmarks: best of N runs with the garbage collector paused."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def best_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best
