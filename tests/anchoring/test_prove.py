"""``Prover``: bundles that verify, paths merkletools accepts, pending events, O(log n) work."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from anchoring.accumulator import inclusion_proof, merkle_tree_hash
from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.hasher import leaf_hash
from anchoring.merkle import pack_tree, packed_leaf, packed_path, packed_root
from anchoring.prove import BlockHashTree, ProveError, Prover, write_bundle
from anchoring.sealer import SealPolicy
from anchoring.verify import verify_bundle
from ledger.application import Report
from ledger.config import store_env
from streams.envelope import seal
from tests.anchoring.reference import MerkleTree
from tests.anchoring.stores import new_anchor
from tests.support import World, custody, make_world, story_events

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # merkletools warns that the optional pysha3 is missing
    import merkletools

ORIGIN = "assay.test/custody-log"
SIGNER = Signer.from_seed(ORIGIN, bytes(range(32)))


def record(world: World, events: list[Any]) -> None:
    for event in events:
        report = Report(event, seal(event, world.keys[event.party_id]))
        (decision,) = world.ledger.process([report], None)
        assert decision.accepted, decision.refusal


def interleaved_stories(items: int) -> list[Any]:
    stories = [story_events(f"urn:item:{n}", f"TAG-{n}") for n in range(items)]
    return [story[step] for step in range(7) for story in stories]


class Setup:
    def __init__(self, root: Path, block_events: int = 7) -> None:
        self.root = root
        self.world = make_world(root)
        self.chain = Chain(store_env("", root / "chain.sqlite"))
        policy = SealPolicy(max_events=block_events, max_seconds=1e9)
        self.anchor = new_anchor(
            self.world.ledger, self.chain, SIGNER, root, origin=ORIGIN, policy=policy
        )

    def seal(self) -> str:
        self.anchor.catch_up()
        return (self.root / "checkpoint").read_text()

    def prover(self) -> Prover:
        return Prover(self.world.ledger, self.chain, self.seal())


@pytest.mark.parametrize("count", range(1, 34))
def test_block_hash_tree_proofs_equal_rfc_9162(count: int) -> None:
    hashes = [leaf_hash(f"block {i}".encode()) for i in range(count)]
    tree = BlockHashTree()
    for block_hash in hashes:
        tree.append(block_hash)
    for size in range(1, count + 1):
        assert tree.subtree(0, size) == merkle_tree_hash(hashes[:size])
        for index in range(size):
            assert tree.inclusion_proof(index, size) == inclusion_proof(hashes, index, size)


@pytest.mark.parametrize("count", range(1, 40))
def test_packed_trees_give_merkletools_paths(count: int) -> None:
    leaves = [leaf_hash(f"record {i}".encode()) for i in range(count)]
    tree = MerkleTree(leaves)
    packed = pack_tree(leaves)
    assert packed_root(packed) == tree.root
    for index in range(count):
        assert packed_leaf(packed, index) == leaves[index]
        assert packed_path(packed, count, index) == tree.path(index)


def test_every_exported_path_validates_with_merkletools(tmp_path: Path) -> None:
    setup = Setup(tmp_path, block_events=9)
    record(setup.world, interleaved_stories(12))
    prover = setup.prover()
    checked = 0
    for n in range(12):
        bundle = json.loads(write_bundle(prover.prove(f"urn:item:{n}")))
        verify_bundle(bundle, SIGNER.verifier())
        roots = {b["header"]["height"]: b["header"]["merkle_root"] for b in bundle["blocks"]}
        for event in bundle["events"]:
            assert merkletools.MerkleTools().validate_proof(
                event["path"], event["leaf"], roots[event["height"]]
            )
            checked += 1
        assert len(bundle["blocks"]) > 1
    assert checked == 12 * 7


def test_events_after_the_checkpoint_are_pending_not_left_out(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    story = story_events()
    record(setup.world, story[:4])
    prover = setup.prover()
    record(setup.world, story[4:])
    bundle = prover.prove("urn:item:1")
    assert [e["version"] for e in bundle["events"]] == [1, 2, 3, 4]
    assert [p["version"] for p in bundle["pending"]] == [5, 6, 7]
    assert bundle["pending"][0]["summary"]["kind"] == "shipping"
    assert verify_bundle(bundle, SIGNER.verifier()).pending == 3
    prover.refresh(setup.seal())
    bundle = prover.prove("urn:item:1")
    assert len(bundle["events"]) == 7 and bundle["pending"] == []
    verify_bundle(bundle, SIGNER.verifier())


def test_refresh_reads_only_new_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = Setup(tmp_path, block_events=3)
    record(setup.world, story_events()[:3])
    prover = setup.prover()
    known = prover.tree.size
    starts: list[int] = []
    original = Chain.block_hashes

    def spy(self: Chain, start: int = 0) -> list[bytes]:
        starts.append(start)
        return original(self, start)

    monkeypatch.setattr(Chain, "block_hashes", spy)
    record(setup.world, story_events()[3:])
    prover.refresh(setup.seal())
    assert starts == [known]
    assert prover.tree.size == len(setup.chain.headers())
    verify_bundle(prover.prove("urn:item:1"), SIGNER.verifier())


def test_a_bundle_reads_only_the_blocks_of_the_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = Setup(tmp_path, block_events=4)
    record(setup.world, interleaved_stories(4))
    prover = setup.prover()
    asked: list[set[int]] = []
    original = Chain.block_rows

    def spy(self: Chain, heights: Any) -> Any:
        asked.append(set(heights))
        return original(self, heights)

    monkeypatch.setattr(Chain, "block_rows", spy)
    bundle = prover.prove("urn:item:2")
    assert asked == [{e["height"] for e in bundle["events"]}]


def test_flags_carry_their_evidence(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    record(setup.world, [custody(1, "observing", "dc", "urn:item:ghost")])
    bundle = setup.prover().prove("urn:item:ghost")
    (event,) = bundle["events"]
    assert event["leaf_kind"] == "P" and event["evidence_b64"]
    assert event["summary"]["flag"] == "unknown_item"
    assert event["summary"]["evidence"]["party_id"] == "dc"
    verify_bundle(bundle, SIGNER.verifier())


def test_refusals(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    record(setup.world, story_events()[:2])
    prover = setup.prover()
    with pytest.raises(ProveError, match="no item"):
        prover.prove("urn:item:nope")
    other = Setup(tmp_path / "other")
    record(other.world, story_events("urn:item:other")[:1])
    with pytest.raises(ProveError, match="not a checkpoint of this chain"):
        Prover(setup.world.ledger, setup.chain, other.seal())


def test_without_a_block_index_the_chain_decodes_blocks_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recorder with only the leaf index (as on another backend) gives the same bundle."""
    import anchoring.chain

    setup = Setup(tmp_path, block_events=4)
    record(setup.world, interleaved_stories(3))
    checkpoint = setup.seal()
    indexed = Prover(setup.world.ledger, setup.chain, checkpoint).prove("urn:item:1")

    class NoBlockIndex:
        pass

    monkeypatch.setattr(anchoring.chain, "BlockIndex", NoBlockIndex)
    decoded = Prover(setup.world.ledger, setup.chain, checkpoint).prove("urn:item:1")
    assert decoded == indexed
    assert setup.chain.headers() == setup.anchor.headers
