"""The owner-signed bundle vectors (docs/proof-bundle.md §13): each fails at the step it
names, or verifies and ends with the ownership it names; the files are exactly what the
generator writes. The page reads the same files in tests/server/test_parity_owner.py."""

from __future__ import annotations

from pathlib import Path

from anchoring.verify_owner import current_owner
from tests.anchoring.vectorkit import assert_generated, load_script, read, run

FOLDER = Path(__file__).parent / "vectors" / "owner"
REQUIRED = {
    "owner-chain": None,
    "owner-edited-signer": "summary_mismatch",
    "owner-not-the-owner": "owner_chain",
    "owner-forged-signature": "owner_signature",
    "owner-wrong-claim-code": "owner_chain",
    "owner-stale-transfer": "owner_chain",
}


def test_every_vector_ends_as_it_says() -> None:
    found = read(FOLDER)
    assert {name: vector["want_err"] for name, vector in found.items()} == REQUIRED
    for name, vector in found.items():
        step, result = run(vector)
        assert step == vector["want_err"], name
        if step is None:
            assert result.bundle_version == vector["bundle"]["version"] == 3
            assert current_owner(result.summaries) == vector["want_ownership"], name
        else:
            assert vector["want_ownership"] is None, name


def test_the_chain_ends_with_the_second_owner_reporting_it_stolen() -> None:
    ownership = read(FOLDER)["owner-chain"]["want_ownership"]
    assert ownership["missing"] == "stolen" and not ownership["claim_open"]
    assert len(ownership["owner"].replace(" ", "")) == 16


def test_the_files_are_what_the_generator_writes() -> None:
    assert_generated(FOLDER, load_script(FOLDER / "make_owner_bundle_vectors.py"))
