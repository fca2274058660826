"""The version 5 vectors (docs/proof-bundle.md §14): version 4 with every head map proof
spelt in base64url. Each ends at the step it names (a valid one with its absence,
completeness, version and proven parties), the spelling has one form per proof, and the
files are exactly what the generator writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anchoring.errors import VerificationError
from anchoring.headmap import MapProof
from anchoring.mapcheck_v5 import parse_proof_v5, proof_json_v5, read_proof
from tests.anchoring.vectorkit import COMPLETE_FIELDS, assert_generated, load_script, read, run

FOLDER = Path(__file__).parent / "vectors" / "bundles-v5"
GENERATOR = load_script(FOLDER / "make_v5_vectors.py")
REQUIRED = {
    "complete-history": None,
    "complete-with-flag": None,
    "drop-last-event": "history_incomplete",
    "map-sibling-flipped": "map_root",
    "sibling-in-hex": "bundle_format",
    "proof-in-hex": "bundle_format",
    "sibling-non-canonical": "bundle_format",
    "sibling-padded": "bundle_format",
    "sibling-standard-alphabet": "bundle_format",
    "sibling-31-bytes": "bundle_format",
    "sibling-33-bytes": "bundle_format",
    "sibling-empty-spelt-out": "map_proof",
    "sibling-dropped": "map_root",
    "v4-label-on-v5-proofs": "bundle_format",
    "party-proof-flipped": "party_proof",
    "device-proof-flipped": "device_proof",
    "party-proof-in-hex": "bundle_format",
    "newer-checkpoint-unchanged": None,
    "newer-checkpoint-newer-events": "newer_events",
    "newer-proof-in-hex": "bundle_format",
    "absent-item": None,
    "absent-beside-another-key": None,
    "absence-claimed-for-present-item": "absence_refuted",
    "absence-sibling-flipped": "absence_refuted",
    "absence-other-value-short": "bundle_format",
    "absence-other-key-in-hex": "bundle_format",
    "absence-v3-relabelled-v5": "bundle_format",
    "absence-v5-without-head-proof": "bundle_format",
}


def vectors() -> dict[str, dict[str, Any]]:
    return read(FOLDER)


def test_every_vector_ends_as_it_says() -> None:
    found = vectors()
    assert {name: found[name]["want_err"] for name in found} == REQUIRED
    for name, vector in found.items():
        assert set(vector) == COMPLETE_FIELDS | {"want_parties"}, name
        step, result = run(vector)
        assert step == vector["want_err"], name
        if step is None:
            got = (result.absent, result.completeness, result.bundle_version, result.parties)
            want = (vector["want_absent"], vector["want_completeness"], 5, vector["want_parties"])
            assert got == want, name
        else:
            assert vector["want_parties"] is None, name
    proven = found["complete-history"]["want_parties"]
    assert proven["lab"] == {"name": "Authentication Lab", "role": "appraiser", "proven": True}
    assert found["absent-beside-another-key"]["bundle"]["map_proof"]["other"] is not None
    assert found["absent-item"]["bundle"]["map_proof"]["other"] is None


def test_every_proof_in_a_valid_vector_is_in_its_one_spelling() -> None:
    """Read and written again, each map proof is byte for byte what the bundle carries."""
    for name, vector in vectors().items():
        if vector["want_err"] is not None:
            continue
        bundle = vector["bundle"]
        proofs = [bundle["map_proof"]]
        if "newer" in bundle:
            proofs.append(bundle["newer"]["map_proof"])
        for group in bundle.get("registry", {}).values():
            proofs += [member["map_proof"] for member in group.values()]
        for proof in proofs:
            assert proof_json_v5(parse_proof_v5(proof, "p")) == proof, name


@pytest.mark.parametrize(
    "sibling",
    [
        "A" * 43,  # EMPTY spelt out: read here, refused by the root check (map_proof)
        "_" * 42 + "8",  # every bit set that a 32-byte value has
    ],
)
def test_each_last_character_with_zero_spare_bits_reads(sibling: str) -> None:
    proof = parse_proof_v5({"siblings": [sibling], "other": None}, "p")
    assert proof_json_v5(proof)["siblings"] == [sibling]


@pytest.mark.parametrize(
    "sibling",
    [
        "_" * 43,  # a spare bit set
        "A" * 42 + "B",
        "A" * 42,
        "A" * 44,
        "A" * 42 + "=",
        "A" * 21 + "=" + "A" * 21,
        "A" * 41 + "+A",
        "A" * 41 + "/A",
        "A" * 41 + " A",
        "\u00e9" * 43,
        ["A"] * 43,
        0,
        True,
    ],
)
def test_any_other_spelling_of_a_hash_is_bundle_format(sibling: Any) -> None:
    with pytest.raises(VerificationError) as caught:
        parse_proof_v5({"siblings": [sibling], "other": None}, "p")
    assert caught.value.step == "bundle_format"


def test_the_version_picks_the_spelling() -> None:
    proof = MapProof((bytes(range(32)), None), bytes(32), bytes(56))
    compact = proof_json_v5(proof)
    assert read_proof(compact, "p", 5) == proof
    for version, spelling in ((4, compact), (5, {**compact, "siblings": [bytes(32).hex()]})):
        with pytest.raises(VerificationError) as caught:
            read_proof(spelling, "p", version)
        assert caught.value.step == "bundle_format"


def test_vectors_are_what_the_generator_writes() -> None:
    assert_generated(FOLDER, GENERATOR)
