"""CPU of whole processes from /proc, as the end-to-end bench reports it per event."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.process_cpu import CLOCK_TICKS, cpu_between, cpu_marks, cpu_seconds, cpu_table


def test_a_process_cpu_is_what_it_spent_so_far() -> None:
    began = time.process_time()
    while time.process_time() - began < 0.3:  # spend CPU, so /proc has ticks to show
        sum(range(10_000))
    own = cpu_seconds(os.getpid())
    assert own is not None
    assert abs(own - time.process_time()) <= 3 / CLOCK_TICKS + 0.05


def test_a_process_that_is_gone_has_no_cpu() -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert cpu_seconds(int(child.stdout)) is None
    assert set(cpu_marks({"gone": int(child.stdout)})) == {"bench"}


def test_per_event_cpu_between_marks_and_their_table() -> None:
    before = {"ingest": 1.0, "anchor": 2.0, "bench": 0.5}
    after = {"ingest": 1.5, "anchor": 2.25, "bench": 0.75, "late": 9.0}
    per = cpu_between(before, after, 1000)
    assert per == {"ingest": 500.0, "anchor": 250.0, "bench": 250.0, "total": 1000.0}
    table = cpu_table(
        {"cpu_us_per_event": {"stored": per, "projected": per},
         "phase_seconds": {"stored": 1.0, "projected": 2.5}}
    )  # fmt: skip
    lines = table.splitlines()
    assert lines[0] == "| process | to stored (1.0 s) | to projected (2.5 s) |"
    assert "| anchor | 250.0 | 250.0 |" in lines
    assert lines[-1] == "| total | 1000.0 | 1000.0 |"
