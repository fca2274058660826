"""The rebuild's reader process loads only what reading the event store needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reader_process_does_not_load_duckdb() -> None:
    # What a spawned reader imports: its entry point's module and the ledger application
    # it opens (``reader._read_in_child``). DuckDB would cost it ~0.15 s CPU and ~25 MB.
    probe = (
        "import sys; import projections.reader, ledger.application; print('duckdb' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
