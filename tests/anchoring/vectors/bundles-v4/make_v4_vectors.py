"""Regenerate the version 4 vectors in this folder (deterministic).

    uv run python tests/anchoring/vectors/bundles-v4/make_v4_vectors.py

The layout is ``../complete``'s plus ``want_parties`` (a valid result's proven parties, or
null). docs/proof-bundle.md §12 is the algorithm: the head map holds every party and device
record, and a version 4 bundle proves those it uses. The world is
``../bundles/make_bundle_vectors.py``'s sealed with version 2 headers and the registry on
from its first block.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from anchoring.prove import Prover
from anchoring.registry import party_record, record_hash
from tests.anchoring import vectorkit
from tests.anchoring.vectorkit import as_received, flip_hex, mutated, run, write

OUT = Path(__file__).parent
LAB, LAB_DEVICE = "lab", "lab/lab-d1"
Vector = dict[str, Any]

base = vectorkit.base()


def build_vectors() -> dict[str, Vector]:
    with base.world(2) as main:
        main.anchor.registry = True  # the switch is the chain's first block
        main.record(base.interleave(base.story_a("ginza"), base.other_reports()))
        main.anchor.catch_up()
        prover = Prover(main.ledger, main.chain, main.note(2))
        a, b = as_received(prover.prove(base.ITEM_A, 4)), as_received(prover.prove(base.ITEM_B, 4))
        # The lab's device revoked, as of before its inspection of item A (a key found
        # compromised), entered by the next block.
        main.ledger.revoke_device(LAB, "lab-d1", at=base.T0 + timedelta(hours=1))
        main.record(
            [base.signed(base.event(3, base.ITEM_B, "shipping", "brand", counterparty="dc"))]
        )
        main.anchor.catch_up()
        revoked = as_received(main.prover(2).prove(base.ITEM_A, 4))

    vectors: dict[str, Vector] = {}

    def add(name: str, desc: str, bundle: Vector, want: str | None, **extra: Any) -> None:
        vector = vectorkit.complete_vector(
            desc, bundle, want, base.PLATFORM.verifier_text(), **extra
        )
        step, result = run(vector)
        assert step == want, f"{name}: want {want}, got {step}"
        vector["want_parties"] = None if result is None else result.parties
        if want is None:
            assert result.bundle_version == bundle["version"], name
        vectors[name] = vector

    assert a["version"] == 4, "the world's head must be past the registry switch"
    n = len(a["events"])
    add("complete-history", f"item A's {n} events; every party and device proven", a, None)
    add("complete-with-flag", "item B: a flag whose evidence device is proven too", b, None)
    add("listed-party-name-relabelled",
        "the lab's name changed in the unauthenticated 'devices' listing: the proven name is "
        "reported", mutated(a, lambda x: x["devices"][LAB_DEVICE].update(party_name="Fake Lab")),
        None)  # fmt: skip

    def party(x: Vector) -> Vector:
        record: Vector = x["registry"]["parties"][LAB]
        return record

    def device(x: Vector) -> Vector:
        record: Vector = x["registry"]["devices"][LAB_DEVICE]
        return record

    add("party-name-relabelled", "the lab's record renamed",
        mutated(a, lambda x: party(x)["record"].update(name="Laboratoire Faux")),
        "party_proof")  # fmt: skip
    add("party-role-relabelled", "the lab's record made a brand",
        mutated(a, lambda x: party(x)["record"].update(role="brand")), "party_proof")  # fmt: skip

    def renamed_and_rewritten(x: Vector) -> None:
        record = party(x)["record"]
        record["name"] = "Laboratoire Faux"
        party(x)["map_entry"]["leaf"] = record_hash(party_record(record)).hex()

    add("party-renamed-entry-rewritten",
        "the lab renamed and its map entry rewritten to the new record's hash: the proof leads "
        "to another root", mutated(a, renamed_and_rewritten), "party_proof")  # fmt: skip
    add("party-proof-flipped", "one bit of the lab's map proof flipped",
        mutated(a, lambda x: _flip_sibling(party(x))), "party_proof")  # fmt: skip
    add("party-proof-missing", "the lab, whose device signed, left out of the registry",
        mutated(a, lambda x: x["registry"]["parties"].pop(LAB)), "party_proof")  # fmt: skip
    add("device-key-swapped",
        "the brand's key in the lab device's record (and listing), as if the platform swapped it",
        mutated(a, _swap_key), "device_proof")  # fmt: skip
    add("device-proof-flipped", "one bit of the lab device's map proof flipped",
        mutated(a, lambda x: _flip_sibling(device(x))), "device_proof")  # fmt: skip
    add("device-proof-missing", "the lab's device, which signed event 2, left out of the registry",
        mutated(a, lambda x: x["registry"]["devices"].pop(LAB_DEVICE)),
        "device_proof")  # fmt: skip
    add("device-revoked-before-event",
        "item A proven after the lab's device was revoked as of an hour before its inspection",
        revoked, "device_revoked")  # fmt: skip
    add("pinned-key-not-proven", "the brand's key pinned for the lab's device",
        a, "device_key", device_keys={LAB_DEVICE: base.KEYS["brand"].public_key_hex})  # fmt: skip
    add("registry-missing", "a version 4 bundle without registry",
        mutated(a, lambda x: x.pop("registry")), "bundle_format")  # fmt: skip
    add("registry-record-extra-key", "a party record with a key of its own",
        mutated(a, lambda x: party(x)["record"].update(note="x")), "bundle_format")  # fmt: skip

    def misnamed(x: Vector) -> None:
        devices = x["registry"]["devices"]
        devices["lab/lab-d9"] = devices.pop(LAB_DEVICE)

    add("registry-device-misnamed", "the lab device's member named lab/lab-d9",
        mutated(a, misnamed), "bundle_format")  # fmt: skip

    def as_v3(x: Vector) -> None:
        x["version"] = 3
        del x["registry"]

    add("relabelled-v3", "the registry dropped and the bundle relabelled version 3: valid, no "
        "name proven", mutated(a, as_v3), None)  # fmt: skip
    return vectors


def _flip_sibling(member: Vector) -> None:
    siblings = member["map_proof"]["siblings"]
    at = next(i for i, s in enumerate(siblings) if s is not None)
    siblings[at] = flip_hex(siblings[at])


def _swap_key(x: Vector) -> None:
    other = base.KEYS["brand"].public_key_hex
    x["registry"]["devices"][LAB_DEVICE]["record"]["public_key"] = other
    x["devices"][LAB_DEVICE]["public_key"] = other


def main() -> None:
    write(OUT, build_vectors())


if __name__ == "__main__":
    main()
