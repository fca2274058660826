"""Use case: processes die at random moments under load; nothing is lost or doubled.

A CI-sized run of tests/faults/harness.py (the full 100-round run is
``uv run python -m tests.faults.harness --rounds 100``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import ROLES, run

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_random_sigkills_under_load_lose_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    # Seed 7 kills each of the three processes at least once in six rounds.
    report = run(kafka_bootstrap, tmp_path, rounds=6, seed=7)
    assert report.rounds == report.checks == 6
    assert set(report.kills) == set(ROLES), report.kills
    assert report.published > 0 and report.stored == report.published
