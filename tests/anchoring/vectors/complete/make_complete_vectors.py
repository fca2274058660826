"""Regenerate the version 2 vectors in this folder (deterministic).

    uv run python tests/anchoring/vectors/complete/make_complete_vectors.py

Each ``<scenario>.json`` is the layout of ``../bundles`` (``desc``, ``want_err``, ``bundle``,
``platform_key``, ``device_keys``) plus ``want_absent`` and ``want_completeness`` (what a
valid result reports) and, for freshness, ``max_age`` (seconds) and ``now`` (RFC 3339)
when the verifier is to be given a maximum age. docs/proof-bundle.md §10 is the algorithm;
the expected step of every vector is the one the reference (``anchoring/verify.py``)
produces, and generation fails if it is not the one the scenario intends.

The world is the one of ``../bundles/make_bundle_vectors.py`` (same parties, keys, stories
and seal times) sealed with version 2 headers, so every block commits to the head map.
"""

from __future__ import annotations

import copy
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from anchoring.headmap import item_key
from tests.anchoring import vectorkit
from tests.anchoring.vectorkit import as_received, check, flip_hex, mutated, write

OUT = Path(__file__).parent
ABSENT_ID = "urn:epc:id:sgtin:4012345.99.1"
Vector = dict[str, Any]


base = vectorkit.base()


def build_vectors() -> dict[str, Vector]:
    with base.world(2) as main, base.world(2) as fork:
        main.record(base.interleave(base.story_a("ginza"), base.other_reports()))
        a, b = main.prove(base.ITEM_A), main.prove(base.ITEM_B)
        a_v1 = main.prove(base.ITEM_A, 1)
        prover = main.prover()
        absent = as_received(prover.prove_absence(ABSENT_ID))
        absent_a = as_received(prover.prove_absence("urn:epc:id:sgtin:4012345.98.1"))
        old_height = a["head"]["height"]
        main.record(
            [base.signed(base.event(3, base.ITEM_B, "shipping", "brand", counterparty="dc"))]
        )
        main.anchor.catch_up()
        newer = main.prover()
        a_newer = as_received(newer.newer(base.ITEM_A, old_height))
        b_newer = as_received(newer.newer(base.ITEM_B, old_height))
        fork.record(base.interleave(base.story_a("osaka"), base.other_reports()))
        fork.record(
            [base.signed(base.event(3, base.ITEM_B, "shipping", "brand", counterparty="dc"))]
        )
        fork.anchor.catch_up()
        fork_newer = as_received(
            fork.prover().newer(base.ITEM_A, min(old_height, fork.anchor.head.height))
        )
        with base.world(1) as old:
            old.record(base.interleave(base.story_a("ginza"), base.other_reports()))
            a_old_chain = old.prove(base.ITEM_A)

    vectors: dict[str, Vector] = {}

    def add(
        name: str,
        desc: str,
        bundle: Vector,
        want: str | None,
        *,
        absent: bool = False,
        completeness: str | None = "complete",
        **extra: Any,
    ) -> None:
        vectors[name] = vectorkit.complete_vector(
            desc, bundle, want, base.PLATFORM.verifier_text(), absent, completeness, **extra
        )

    n = len(a["events"])
    add("complete-history", f"item A's {n} events, its head-map entry proven: complete", a, None)
    add("complete-with-flag", "item B: a flag with evidence, then its commissioning", b, None)
    add(
        "v1-bundle-on-v2-chain",
        "item A as a version 1 bundle (no map entry) on the same chain: inclusion only",
        a_v1,
        None,
        completeness="inclusion_only",
    )
    add(
        "drop-last-event",
        f"item A's last event (v{n}, the sale) left out",
        mutated(a, lambda x: x["events"].pop()),
        "history_incomplete",
    )

    def drop_two(x: Vector) -> None:
        del x["events"][-2:]

    add("drop-last-two", "item A's last two events left out", mutated(a, drop_two),
        "history_incomplete")  # fmt: skip

    def drop_and_relabel(x: Vector) -> None:
        x["events"].pop()
        last = x["events"][-1]
        x["map_entry"] = {k: last[k] for k in ("version", "leaf", "height", "leaf_index")}

    add(
        "drop-last-event-entry-rewritten",
        "item A's last event left out and the map entry rewritten to the new last event",
        mutated(a, drop_and_relabel),
        "map_root",
    )

    def flip_sibling(x: Vector) -> None:
        siblings = x["map_proof"]["siblings"]
        at = next(i for i, s in enumerate(siblings) if s is not None)
        siblings[at] = flip_hex(siblings[at])

    add("map-sibling-flipped", "one bit of a sibling of item A's map proof flipped",
        mutated(a, flip_sibling), "map_root")  # fmt: skip

    def other_named(x: Vector) -> None:
        x["map_proof"]["other"] = {
            "key": item_key(base.ITEM_B).hex(),
            "value": "00" * 56,
        }

    add("membership-proof-naming-another-key", "item A's membership proof also names another key",
        mutated(a, other_named), "map_proof")  # fmt: skip

    def empty_as_hex(x: Vector) -> None:
        x["map_proof"]["siblings"].append("00" * 32)

    add("map-empty-sibling-as-hex", "a sibling written as 64 zeros (EMPTY must be null)",
        mutated(a, empty_as_hex), "map_proof")  # fmt: skip

    def no_entry(x: Vector) -> None:
        del x["map_entry"]

    add("map-entry-missing", "a version 2 bundle without map_entry", mutated(a, no_entry),
        "bundle_format")  # fmt: skip

    def bad_sibling(x: Vector) -> None:
        x["map_proof"]["siblings"][0] = x["map_proof"]["siblings"][0] or "00" * 31
        x["map_proof"]["siblings"][0] = x["map_proof"]["siblings"][0][:62]

    add("map-sibling-not-hex32", "a sibling of 31 bytes", mutated(a, bad_sibling),
        "bundle_format")  # fmt: skip

    def v2_on_v1_head(x: Vector) -> None:
        x["version"] = 2
        x["map_entry"] = copy.deepcopy(a["map_entry"])
        x["map_proof"] = copy.deepcopy(a["map_proof"])

    add("v2-bundle-with-v1-head", "version 2 claimed for a bundle whose head is a version 1 block",
        mutated(a_old_chain, v2_on_v1_head), "bundle_format")  # fmt: skip

    def no_map_root(x: Vector) -> None:
        del x["head"]["map_root"]

    add("header-v2-without-map-root", "the head header (version 2) without map_root",
        mutated(a, no_map_root), "header_format")  # fmt: skip

    # ----- a newer checkpoint ------------------------------------------------------------
    add(
        "old-bundle-newer-checkpoint",
        "item B's bundle, then a newer checkpoint where B has a newer event: newer events exist",
        {**b, "newer": b_newer},
        "newer_events",
    )
    add(
        "old-bundle-newer-checkpoint-unchanged",
        "item A's bundle with a newer checkpoint where A's entry is unchanged: still complete",
        {**a, "newer": a_newer},
        None,
    )

    def newer_from_fork(x: Vector) -> None:
        x["newer"] = fork_newer

    add("newer-checkpoint-from-fork",
        "item A's bundle with a 'newer' checkpoint of another chain signed by the same key",
        mutated(a, newer_from_fork), "checkpoint_consistency")  # fmt: skip

    def newer_acc_flipped(x: Vector) -> None:
        x["newer"] = copy.deepcopy(a_newer)
        x["newer"]["acc_proof"][0] = flip_hex(x["newer"]["acc_proof"][0])

    add("newer-acc-proof-flipped", "the accumulator proof into the newer head altered",
        mutated(a, newer_acc_flipped), "checkpoint_consistency")  # fmt: skip

    # ----- absence -----------------------------------------------------------------------
    add("absent-item", f"{ABSENT_ID} was never recorded: proven absent", absent, None,
        absent=True)  # fmt: skip

    def claim_present(x: Vector) -> None:
        x["item_id"] = base.ITEM_A

    add(
        "absence-claimed-for-present-item",
        "another id's absence proof presented for item A, which is in the ledger",
        mutated(absent, claim_present),
        "absence_refuted",
    )

    def own_entry(x: Vector) -> None:
        x["item_id"] = base.ITEM_A
        x["map_proof"] = {
            "siblings": copy.deepcopy(a["map_proof"]["siblings"]),
            "other": {
                "key": item_key(base.ITEM_A).hex(),
                "value": _value_hex(a["map_entry"]),
            },
        }

    add("absence-naming-own-entry", "item A 'absent' with its own entry as the other leaf",
        mutated(absent, own_entry), "absence_refuted")  # fmt: skip

    def absence_flipped(x: Vector) -> None:
        flip_sibling(x)

    add("absence-sibling-flipped", "one bit of a sibling of the absence proof flipped",
        mutated(absent if _has_sibling(absent) else absent_a, absence_flipped),
        "absence_refuted")  # fmt: skip

    def absence_lone_beside_empty(x: Vector) -> None:
        proof = x["map_proof"]
        key = item_key(x["item_id"])
        flipped = bytearray(key)
        flipped[-1] ^= 0x01  # shares every bit of the path but the last
        proof["other"] = {"key": bytes(flipped).hex(), "value": "00" * 56}
        proof["siblings"] = [None, *proof["siblings"]]

    add("absence-proof-not-canonical",
        "a non-membership proof whose other leaf sits beside an empty sibling",
        mutated(absent, absence_lone_beside_empty), "absence_proof")  # fmt: skip

    def absence_v1_head(x: Vector) -> None:
        x["head"] = copy.deepcopy(a_old_chain["head"])
        x["checkpoint"] = a_old_chain["checkpoint"]

    add("absence-with-v1-head", "an absence bundle whose head is a version 1 block",
        mutated(absent, absence_v1_head), "bundle_format")  # fmt: skip

    # ----- freshness -----------------------------------------------------------------------
    sealed = datetime.fromisoformat(a["head"]["sealed_at"].removesuffix("Z") + "+00:00")
    later = (sealed + timedelta(days=2)).isoformat()
    add("checkpoint-stale", "item A's bundle checked two days later with a maximum age of a day",
        a, "checkpoint_stale", max_age=86400, now=later)  # fmt: skip
    add("checkpoint-fresh-enough", "the same with a maximum age of a week", a, None,
        max_age=7 * 86400, now=later)  # fmt: skip
    add("absence-stale", "the absence proof checked two days later, maximum age a day", absent,
        "checkpoint_stale", max_age=86400, now=later)  # fmt: skip

    for name, vector in vectors.items():
        check(name, vector)
    return vectors


def _value_hex(entry: dict[str, Any]) -> str:
    return (
        entry["version"].to_bytes(8, "big")
        + bytes.fromhex(entry["leaf"])
        + entry["height"].to_bytes(8, "big")
        + entry["leaf_index"].to_bytes(8, "big")
    ).hex()


def _has_sibling(doc: Vector) -> bool:
    return any(s is not None for s in doc["map_proof"]["siblings"])


def main() -> None:
    write(OUT, build_vectors())


if __name__ == "__main__":
    main()
