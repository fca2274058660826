"""``Prover`` and checkpoint versions: version 3 from the anchor's (version 2) checkpoint,
versions 1 and 2 only from a version 1 checkpoint of the same head, and a witness-cosigned
note carried verbatim through prove and verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from anchoring.checkpoint import open_checkpoint
from anchoring.logtree import CHECKPOINT_V1, CHECKPOINT_V2
from anchoring.prove import ProveError, Prover
from anchoring.verify import BundleError, verify_bundle
from tests.anchoring.test_prove import SIGNER, Setup, interleaved_stories, record
from tests.anchoring.vectorkit import v1_note
from witness.cosignature import WitnessSigner

WITNESS = WitnessSigner.from_seed("witness.test/w1", bytes(range(1, 33)))


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    s = Setup(tmp_path, block_events=5)
    record(s.world, interleaved_stories(3))
    s.seal()
    assert s.anchor.head is not None and s.anchor.head.height >= 2
    return s


def test_the_anchors_checkpoint_gives_version_3(setup: Setup) -> None:
    prover = setup.prover()
    assert prover.checkpoint_version == CHECKPOINT_V2
    bundle = prover.prove("urn:item:1")
    assert bundle["version"] == 3 and len(bundle["head_proof"]) >= 1
    result = verify_bundle(bundle, SIGNER.verifier())
    assert (result.bundle_version, result.completeness) == (3, "complete")
    absent = prover.prove_absence("urn:item:nope")
    assert (absent["version"], verify_bundle(absent, SIGNER.verifier()).absent) == (3, True)
    for old in (1, 2):
        with pytest.raises(ProveError, match="make a version 3 bundle"):
            prover.prove("urn:item:1", old)


def test_a_version_1_checkpoint_gives_versions_1_and_2_only(setup: Setup) -> None:
    prover = Prover(setup.world.ledger, setup.chain, v1_note(setup.anchor, SIGNER))
    assert prover.checkpoint_version == CHECKPOINT_V1
    assert prover.prove("urn:item:1")["version"] == 2
    assert verify_bundle(prover.prove("urn:item:1", 1), SIGNER.verifier()).bundle_version == 1
    assert "head_proof" not in prover.newer("urn:item:1", 0)
    with pytest.raises(ProveError, match="version 3 bundle carries a version 2 checkpoint"):
        prover.prove("urn:item:1", 3)


def test_a_cosigned_note_round_trips(setup: Setup) -> None:
    note = setup.seal()
    body = note[: note.index("\n\n") + 1]
    cosigned = note + WITNESS.cosign(body, 1_800_000_000)
    bundle = Prover(setup.world.ledger, setup.chain, cosigned).prove("urn:item:2")
    assert bundle["checkpoint"] == cosigned
    assert bundle["checkpoint_key"] == {"name": SIGNER.name, "key_id": SIGNER.key_id.hex()}
    assert verify_bundle(bundle, SIGNER.verifier()).events == 7
    assert open_checkpoint(cosigned, SIGNER.verifier()).size == bundle["head"]["height"] + 1
    # Whatever the order of the lines, the log's own is the key to pin.
    witness_first = body + "\n" + WITNESS.cosign(body, 1_800_000_000) + note[len(body) + 1 :]
    again = Prover(setup.world.ledger, setup.chain, witness_first).prove("urn:item:2")
    assert again["checkpoint_key"] == bundle["checkpoint_key"]
    assert verify_bundle(again, SIGNER.verifier()).events == 7


def test_an_old_bundle_is_brought_up_to_date_by_a_version_2_checkpoint(setup: Setup) -> None:
    old = Prover(setup.world.ledger, setup.chain, v1_note(setup.anchor, SIGNER)).prove("urn:item:0")
    record(setup.world, [e for e in interleaved_stories(5) if e.item_id == "urn:item:4"])
    newer = setup.prover().newer("urn:item:0", old["head"]["height"])
    assert newer["head_proof"]
    result = verify_bundle({**old, "newer": newer}, SIGNER.verifier())
    assert result.checkpoint_size == newer["head"]["height"] + 1
    newer["head_proof"] = newer["head_proof"][:-1]
    with pytest.raises(BundleError) as refused:
        verify_bundle({**old, "newer": newer}, SIGNER.verifier())
    assert refused.value.step == "checkpoint_inclusion"


def test_a_checkpoint_of_another_chain_is_refused(setup: Setup, tmp_path: Path) -> None:
    other = Setup(tmp_path / "other", block_events=5)
    record(other.world, interleaved_stories(2))
    with pytest.raises(ProveError, match="not a checkpoint of this chain"):
        Prover(setup.world.ledger, setup.chain, other.seal())
