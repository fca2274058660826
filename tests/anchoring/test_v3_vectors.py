"""The version 3 vectors (docs/proof-bundle.md §11.6): checkpoint version 2, the head
proven into the log's tree head, and each checkpoint version presented as the other.
Each ends at the step it names (or verifies as it says), and the files are exactly what
the generator writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anchoring.checkpoint import Checkpoint
from tests.anchoring.vectorkit import (
    assert_each_ends_as_it_says,
    assert_generated,
    load_script,
    read,
)
from witness.cosignature import WitnessVerifier

FOLDER = Path(__file__).parent / "vectors" / "bundles-v3"
GENERATOR = load_script(FOLDER / "make_v3_vectors.py")
REQUIRED = {
    "complete-history": None,
    "absent-item": None,
    "drop-last-event": "history_incomplete",
    "head-proof-flipped": "checkpoint_inclusion",
    "head-proof-truncated": "checkpoint_inclusion",
    "head-proof-missing": "bundle_format",
    "tree-head-of-another-history": "checkpoint_inclusion",
    "v1-checkpoint-in-v3-bundle": "checkpoint_version",
    "v2-checkpoint-in-v2-bundle": "checkpoint_head",
    "v2-checkpoint-in-v1-bundle": "checkpoint_head",
    "v2-bundle-before-the-switch": None,
    "absence-with-v1-checkpoint": "checkpoint_version",
    "newer-checkpoint-unchanged": None,
    "newer-checkpoint-newer-events": "newer_events",
    "v2-bundle-with-newer-v2-checkpoint": None,
    "newer-head-proof-flipped": "checkpoint_inclusion",
    "checkpoint-stale": "checkpoint_stale",
}


def vectors() -> dict[str, dict[str, Any]]:
    return read(FOLDER)


def test_every_vector_ends_as_it_says() -> None:
    assert_each_ends_as_it_says(FOLDER, REQUIRED)


def test_the_checkpoint_is_the_tree_head_and_carries_a_witness_cosignature() -> None:
    bundle = vectors()["complete-history"]["bundle"]
    note: str = bundle["checkpoint"]
    body = note[: note.index("\n\n") + 1]
    checkpoint = Checkpoint.parse_body(body)
    assert checkpoint.size == bundle["head"]["height"] + 1 and bundle["head_proof"]
    witness = GENERATOR.WITNESS.verifier()
    line = note.rstrip("\n").rsplit("\n", 1)[1]
    assert WitnessVerifier.from_text(witness.to_text()).verify(body, line) == GENERATOR.WITNESS_TIME


def test_vectors_are_what_the_generator_writes() -> None:
    assert_generated(FOLDER, GENERATOR)
