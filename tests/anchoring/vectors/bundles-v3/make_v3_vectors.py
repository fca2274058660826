"""Regenerate the version 3 vectors in this folder (deterministic).

    uv run python tests/anchoring/vectors/bundles-v3/make_v3_vectors.py

The layout is ``../complete``'s (``desc``, ``want_err``, ``bundle``, ``platform_key``,
``device_keys``, ``want_absent``, ``want_completeness``, optional ``max_age`` and ``now``).
docs/proof-bundle.md §11 is the algorithm: a version 2 checkpoint signs the block log's
tree head, and a version 3 document proves its head into it (``head_proof``). The world is
``../bundles/make_bundle_vectors.py``'s sealed with version 2 headers; the main bundle's
checkpoint carries a witness cosignature line, as the anchor publishes it.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from anchoring.accumulator import acc_leaf, root_from_inclusion_proof
from anchoring.checkpoint import Checkpoint, sign_checkpoint
from anchoring.header import BlockHeader
from anchoring.prove import Prover
from tests.anchoring import vectorkit
from tests.anchoring.vectorkit import as_received, check, flip_hex, mutated, write
from witness.cosignature import WitnessSigner

OUT = Path(__file__).parent
ABSENT_ID = "urn:epc:id:sgtin:4012345.99.1"
Vector = dict[str, Any]

base = vectorkit.base()
WITNESS = WitnessSigner.from_seed("witness.example/w1", base._seed("witness w1"))
WITNESS_TIME = 1_772_409_600  # 2026-03-02T00:00:00Z, after the world's seal times


def cosigned(note: str) -> str:
    """The note with a witness's cosignature line after the log's own signature."""
    body = note[: note.index("\n\n") + 1]
    return note + WITNESS.cosign(body, WITNESS_TIME)


def resigned(tree_root: bytes, doc: Vector) -> str:
    """A checkpoint of ``doc``'s size over ``tree_root``, signed by the platform key."""
    size = doc["head"]["height"] + 1
    return sign_checkpoint(Checkpoint(base.ORIGIN, size, tree_root), base.PLATFORM)


def build_vectors() -> dict[str, Vector]:
    with base.world(2) as main:
        main.record(base.interleave(base.story_a("ginza"), base.other_reports()))
        main.anchor.catch_up()
        note = cosigned(main.note(2))
        prover = Prover(main.ledger, main.chain, note)
        a, b = as_received(prover.prove(base.ITEM_A)), as_received(prover.prove(base.ITEM_B))
        absent = as_received(prover.prove_absence(ABSENT_ID))
        a_v2 = as_received(main.prover(1).prove(base.ITEM_A))  # before the switch
        v1_note = main.note(1)
        old_height = a["head"]["height"]
        main.record(
            [base.signed(base.event(3, base.ITEM_B, "shipping", "brand", counterparty="dc"))]
        )
        main.anchor.catch_up()
        newer = main.prover(2)
        a_newer = as_received(newer.newer(base.ITEM_A, old_height))
        b_newer = as_received(newer.newer(base.ITEM_B, old_height))
        newer_note = main.note(2)

    vectors: dict[str, Vector] = {}

    def add(
        name: str,
        desc: str,
        bundle: Vector,
        want: str | None,
        *,
        absent: bool = False,
        completeness: str = "complete",
        **extra: Any,
    ) -> None:
        vectors[name] = vectorkit.complete_vector(
            desc, bundle, want, base.PLATFORM.verifier_text(), absent, completeness, **extra
        )

    n = len(a["events"])
    size = a["head"]["height"] + 1
    add("complete-history", f"item A's {n} events under a cosigned version 2 checkpoint of "
        f"{size} blocks: complete", a, None)  # fmt: skip
    add("complete-with-flag", "item B: a flag with evidence, then its commissioning", b, None)
    add("absent-item", f"{ABSENT_ID} was never recorded: proven absent", absent, None,
        absent=True)  # fmt: skip
    add("drop-last-event", f"item A's last event (v{n}) left out", mutated(a, _drop_last),
        "history_incomplete")  # fmt: skip

    # ----- the head in the tree head -------------------------------------------------------
    add("head-proof-flipped", "one bit of the head's inclusion proof flipped",
        mutated(a, _flip_first),
        "checkpoint_inclusion")  # fmt: skip
    add(
        "head-proof-truncated",
        "the head's inclusion proof without its last hash",
        mutated(a, lambda x: _set_proof(x, x["head_proof"][:-1])),
        "checkpoint_inclusion",
    )
    add(
        "head-proof-extended",
        "the head's inclusion proof with one hash too many",
        mutated(a, lambda x: _set_proof(x, [*x["head_proof"], "11" * 32])),
        "checkpoint_inclusion",
    )
    add("head-proof-missing", "a version 3 bundle without head_proof",
        mutated(a, lambda x: x.pop("head_proof")), "bundle_format")  # fmt: skip
    add("head-proof-not-hex32", "a head_proof hash of 31 bytes",
        mutated(a, lambda x: _set_proof(x, [x["head_proof"][0][:62], *x["head_proof"][1:]])),
        "bundle_format")  # fmt: skip
    add("tree-head-of-another-history",
        "a checkpoint signed over a tree whose head is this head but whose earlier leaves are "
        "not the blocks the head's accumulator commits to (a split view): the proof folds to "
        "another root than acc_root", _split_view(a), "checkpoint_inclusion")  # fmt: skip
    add("checkpoint-of-another-size",
        "the newer, larger checkpoint presented with the bundle's head",
        mutated(a, lambda x: x.update(checkpoint=newer_note)), "checkpoint_head")  # fmt: skip

    # ----- one checkpoint version presented as the other ----------------------------------
    add("v1-checkpoint-in-v3-bundle",
        "a version 1 checkpoint (root = the head block's hash) in a version 3 bundle",
        mutated(a, lambda x: x.update(checkpoint=v1_note)), "checkpoint_version")  # fmt: skip
    add("v2-checkpoint-in-v2-bundle",
        "the version 3 bundle relabelled version 2 without head_proof: its checkpoint's root "
        "is not the head's hash", mutated(a, _as_v2), "checkpoint_head")  # fmt: skip
    add("v2-checkpoint-in-v1-bundle",
        "the version 3 bundle relabelled version 1 (no head map, no head_proof)",
        mutated(a, _as_v1), "checkpoint_head")  # fmt: skip
    add(
        "v2-bundle-before-the-switch",
        "item A's version 2 bundle with its version 1 checkpoint still verifies",
        a_v2,
        None,
    )
    add(
        "absence-with-v1-checkpoint",
        "a version 3 absence bundle with a version 1 checkpoint",
        mutated(absent, lambda x: x.update(checkpoint=v1_note)),
        "checkpoint_version",
    )
    add("absence-head-proof-flipped", "one bit of the absence bundle's head_proof flipped",
        mutated(absent, _flip_first),
        "checkpoint_inclusion")  # fmt: skip
    add("absence-relabelled-v2", "the version 3 absence bundle relabelled version 2",
        mutated(absent, _as_v2), "checkpoint_head")  # fmt: skip

    # ----- a newer checkpoint ---------------------------------------------------------------
    add("newer-checkpoint-unchanged",
        "item A's bundle with a newer version 2 checkpoint where its entry is unchanged",
        {**a, "newer": a_newer}, None)  # fmt: skip
    add("newer-checkpoint-newer-events",
        "item B's bundle with a newer version 2 checkpoint where B has a newer event",
        {**b, "newer": b_newer}, "newer_events")  # fmt: skip
    add("v2-bundle-with-newer-v2-checkpoint",
        "item A's version 2 bundle (version 1 checkpoint) brought up to date by a version 2 one",
        {**a_v2, "newer": a_newer}, None)  # fmt: skip

    def newer_flipped(x: Vector) -> None:
        proof = x["newer"]["head_proof"]
        proof[0] = flip_hex(proof[0])

    add("newer-head-proof-flipped", "one bit of the newer head's inclusion proof flipped",
        mutated({**a, "newer": a_newer}, newer_flipped), "checkpoint_inclusion")  # fmt: skip
    add("newer-without-head-proof",
        "a newer version 2 checkpoint without head_proof is read as version 1: its root is not "
        "the head's hash", mutated({**a, "newer": a_newer}, lambda x: x["newer"].pop("head_proof")),
        "checkpoint_head")  # fmt: skip

    # ----- freshness ------------------------------------------------------------------------
    sealed = datetime.fromisoformat(a["head"]["sealed_at"].removesuffix("Z") + "+00:00")
    later = (sealed + timedelta(days=2)).isoformat()
    add("checkpoint-stale", "item A's bundle checked two days later, maximum age a day", a,
        "checkpoint_stale", max_age=86400, now=later)  # fmt: skip
    add("checkpoint-fresh-enough", "the same with a maximum age of a week", a, None,
        max_age=7 * 86400, now=later)  # fmt: skip

    for name, vector in vectors.items():
        check(name, vector)
    return vectors


def _drop_last(x: Vector) -> None:
    x["events"].pop()


def _flip_first(x: Vector) -> None:
    x["head_proof"][0] = flip_hex(x["head_proof"][0])


def _set_proof(x: Vector, proof: list[str]) -> None:
    x["head_proof"] = proof


def _as_v2(x: Vector) -> None:
    x["version"] = 2
    del x["head_proof"]


def _as_v1(x: Vector) -> None:
    x["version"] = 1
    for name in ("head_proof", "map_entry", "map_proof"):
        del x[name]


def _split_view(a: Vector) -> Vector:
    """The head's proof with its largest subtree replaced, and a checkpoint over the root
    that proof then gives: the inclusion holds, the history before the head differs."""
    out = mutated(a, lambda x: None)
    proof = [bytes.fromhex(p) for p in out["head_proof"]]
    assert proof, "the main world's head must have blocks before it"
    proof[-1] = bytes(32)
    head = BlockHeader.from_json(out["head"])
    height = head.height
    root = root_from_inclusion_proof(acc_leaf(head.block_hash()), height, height + 1, proof)
    out["head_proof"] = [p.hex() for p in proof]
    out["checkpoint"] = resigned(root, out)
    return out


def main() -> None:
    write(OUT, build_vectors())


if __name__ == "__main__":
    main()
