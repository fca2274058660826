"""The version 4 vectors (docs/proof-bundle.md §12.6): the parties and device keys a bundle
uses proven into its checkpoint. Each ends at the step it names, a valid one reports
exactly the proven parties it claims (a relabelled name is never reported), and the files
are exactly what the generator writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from anchoring.errors import VerificationError
from anchoring.verify_registry import check_registry
from anchoring.verify_v1 import read_header
from tests.anchoring.vectorkit import COMPLETE_FIELDS, assert_generated, load_script, read, run

FOLDER = Path(__file__).parent / "vectors" / "bundles-v4"
GENERATOR = load_script(FOLDER / "make_v4_vectors.py")
REQUIRED = {
    "complete-history": None,
    "complete-with-flag": None,
    "listed-party-name-relabelled": None,
    "party-name-relabelled": "party_proof",
    "party-proof-missing": "party_proof",
    "party-proof-flipped": "party_proof",
    "device-key-swapped": "device_proof",
    "device-proof-flipped": "device_proof",
    "device-proof-missing": "device_proof",
    "device-revoked-before-event": "device_revoked",
    "pinned-key-not-proven": "device_key",
    "relabelled-v3": None,
}


def vectors() -> dict[str, dict[str, Any]]:
    return read(FOLDER)


def test_every_vector_ends_as_it_says() -> None:
    found = vectors()
    assert {name: found[name]["want_err"] for name in REQUIRED} == REQUIRED
    for name, vector in found.items():
        assert set(vector) == COMPLETE_FIELDS | {"want_parties"}, name
        step, result = run(vector)
        assert step == vector["want_err"], name
        if step is None:
            assert result.parties == vector["want_parties"], name
            assert result.bundle_version == vector["bundle"]["version"], name
        else:
            assert vector["want_parties"] is None, name


def test_a_relabelled_name_is_never_reported_as_proven() -> None:
    found = vectors()
    proven = found["complete-history"]["want_parties"]
    assert proven["lab"] == {"name": "Authentication Lab", "role": "appraiser", "proven": True}
    listed = found["listed-party-name-relabelled"]
    assert listed["bundle"]["devices"]["lab/lab-d1"]["party_name"] == "Fake Lab"
    assert listed["want_parties"] == proven
    assert found["relabelled-v3"]["want_parties"] is None  # version 3: nothing proven


def test_the_window_check_refuses_an_event_before_the_key_speaks() -> None:
    """Step D17a's other half (no ledger accepts such an event, so no vector shows it)."""
    bundle = vectors()["complete-history"]["bundle"]
    head = read_header(bundle["head"], "head")
    registry = check_registry(bundle, head)
    record = registry.device_records["lab/lab-d1"].record
    enrolled = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=record["enrolled_at"])
    summary = {"party_id": "lab", "device_id": "lab-d1"}
    registry.check_window({**summary, "occurred_at": enrolled.isoformat()})
    with pytest.raises(VerificationError) as caught:
        registry.check_window({**summary, "occurred_at": (enrolled - timedelta(1)).isoformat()})
    assert caught.value.step == "device_not_enrolled"
    record["effective_from"] = record["enrolled_at"] - 2 * 86_400_000_000  # backdated key
    registry.check_window({**summary, "occurred_at": (enrolled - timedelta(1)).isoformat()})
    record["revoked_at"] = record["enrolled_at"] + 1_000_000
    with pytest.raises(VerificationError) as caught:
        registry.check_window(
            {**summary, "occurred_at": (enrolled + timedelta(seconds=1)).isoformat()}
        )
    assert caught.value.step == "device_revoked"
    registry.check_window({**summary, "occurred_at": enrolled.isoformat()})


def test_vectors_are_what_the_generator_writes() -> None:
    assert_generated(FOLDER, GENERATOR)
