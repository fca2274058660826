"""The version 2 vectors (docs/proof-bundle.md §10.8): complete histories, a newer
checkpoint, absence and freshness. Each fails at the step it names, or verifies with the
absence and completeness it names, and the files are exactly what the generator writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.anchoring.vectorkit import (
    assert_each_ends_as_it_says,
    assert_generated,
    load_script,
    read,
    run,
)

FOLDER = Path(__file__).parent / "vectors" / "complete"
REQUIRED = {
    "complete-history": None,
    "drop-last-event": "history_incomplete",
    "drop-last-two": "history_incomplete",
    "old-bundle-newer-checkpoint": "newer_events",
    "old-bundle-newer-checkpoint-unchanged": None,
    "newer-checkpoint-from-fork": "checkpoint_consistency",
    "absent-item": None,
    "absence-claimed-for-present-item": "absence_refuted",
    "absence-proof-not-canonical": "absence_proof",
    "map-sibling-flipped": "map_root",
    "membership-proof-naming-another-key": "map_proof",
    "v1-bundle-on-v2-chain": None,
    "checkpoint-stale": "checkpoint_stale",
}


GENERATOR = load_script(FOLDER / "make_complete_vectors.py")


def vectors() -> dict[str, dict[str, Any]]:
    return read(FOLDER)


def test_every_vector_ends_as_it_says() -> None:
    assert_each_ends_as_it_says(FOLDER, REQUIRED)


def test_completeness_holds_at_the_newer_checkpoint() -> None:
    vector = vectors()["old-bundle-newer-checkpoint-unchanged"]
    _, result = run(vector)
    newer_size = int(vector["bundle"]["newer"]["checkpoint"].split("\n")[1])
    assert newer_size > int(vector["bundle"]["checkpoint"].split("\n")[1])
    assert result.checkpoint_size == newer_size
    assert result.checkpoint_time == vector["bundle"]["newer"]["head"]["sealed_at"]


def test_vectors_are_what_the_generator_writes() -> None:
    assert_generated(FOLDER, GENERATOR)
