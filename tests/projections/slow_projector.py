"""A projector that lingers inside each transaction, to be killed there by test_crash.

    python -m tests.projections.slow_projector ROOT DUCKDB ledger|chain

Prints ``mid <follower> <n>`` (flushed) while a page's rows are written but not committed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import projections.writer as writer
from projections.projector import Projector
from tests.projections.support import open_apps


def lingering(follower: str, apply: Any) -> Any:
    count = 0

    def slow(*args: Any, **kwargs: Any) -> None:
        nonlocal count
        apply(*args, **kwargs)
        count += 1
        print(f"mid {follower} {count}", flush=True)
        time.sleep(0.3)

    return slow


def main() -> None:
    root, duckdb_path, follower = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    name = "apply_ledger" if follower == "ledger" else "apply_blocks"
    setattr(writer, name, lingering(follower, getattr(writer, name)))
    ledger, chain = open_apps(root)
    Projector(ledger, chain, duckdb_path, page_size=10).catch_up()
    print("done", flush=True)


if __name__ == "__main__":
    main()
