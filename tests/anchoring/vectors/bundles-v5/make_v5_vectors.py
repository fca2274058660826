"""Regenerate the version 5 vectors in this folder (deterministic).

    uv run python tests/anchoring/vectors/bundles-v5/make_v5_vectors.py

The layout is ``../bundles-v4``'s (``../complete``'s plus ``want_parties``). docs/proof-bundle.md
§14 is the algorithm: version 5 is version 4 with every head map proof's hashes spelt in
base64url (RFC 4648 §5, no padding, one spelling per value) instead of hex; absence
bundles of version 5 are version 3's with that spelling. The world is ``../bundles-v4``'s.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from anchoring.headmap import item_key
from anchoring.mapcheck import proof_json
from anchoring.mapcheck_v5 import parse_proof_v5
from anchoring.prove import Prover
from tests.anchoring import vectorkit
from tests.anchoring.vectorkit import as_received, mutated, run, write

OUT = Path(__file__).parent
LAB, LAB_DEVICE = "lab", "lab/lab-d1"
ABSENT_PREFIX = "urn:epc:id:sgtin:4012345.99."
Vector = dict[str, Any]

base = vectorkit.base()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def flip_b64(text: str) -> str:
    """The base64url value with the lowest bit of its last byte flipped."""
    raw = bytearray(unb64url(text))
    raw[-1] ^= 0x01
    return b64url(bytes(raw))


def absent_ids(prover: Prover) -> tuple[str, str]:
    """The first ids of the form ``ABSENT_PREFIX<n>`` whose absence proof ends at an empty
    subtree, and beside another key's entry."""
    empty = beside = None
    n = 0
    while empty is None or beside is None:
        item_id = f"{ABSENT_PREFIX}{n}"
        _, proof = prover.chain.map_proof_at(item_key(item_id), prover.head.height)  # type: ignore[union-attr]
        if proof.other_key is None:
            empty = empty or item_id
        else:
            beside = beside or item_id
        n += 1
    return empty, beside


def build_vectors() -> dict[str, Vector]:
    with base.world(2) as main:
        main.anchor.registry = True  # the switch is the chain's first block
        main.record(base.interleave(base.story_a("ginza"), base.other_reports()))
        main.anchor.catch_up()
        prover = Prover(main.ledger, main.chain, main.note(2))
        a, b = as_received(prover.prove(base.ITEM_A)), as_received(prover.prove(base.ITEM_B))
        empty_id, beside_id = absent_ids(prover)
        absent = as_received(prover.prove_absence(empty_id))
        beside = as_received(prover.prove_absence(beside_id))
        absent_v3 = as_received(prover.prove_absence(empty_id, 3))
        old_height = a["head"]["height"]
        main.record(
            [base.signed(base.event(3, base.ITEM_B, "shipping", "brand", counterparty="dc"))]
        )
        main.anchor.catch_up()
        newer = main.prover(2)
        a_newer = as_received(newer.newer(base.ITEM_A, old_height, 5))
        a_newer_hex = as_received(newer.newer(base.ITEM_A, old_height, 4))
        b_newer = as_received(newer.newer(base.ITEM_B, old_height, 5))

    vectors: dict[str, Vector] = {}

    def add(name: str, desc: str, bundle: Vector, want: str | None, absent: bool = False) -> None:
        vector = vectorkit.complete_vector(
            desc, bundle, want, base.PLATFORM.verifier_text(), absent
        )
        step, result = run(vector)
        assert step == want, f"{name}: want {want}, got {step}"
        vector["want_parties"] = None if result is None else result.parties
        if want is None:
            assert result.bundle_version == bundle["version"], name
        vectors[name] = vector

    assert a["version"] == 5 and absent["version"] == 5, "the prover's default is version 5"
    n = len(a["events"])
    add("complete-history", f"item A's {n} events, every map proof in base64url", a, None)
    add("complete-with-flag", "item B: a flag whose evidence device is proven too", b, None)
    add("drop-last-event", f"item A's last event (v{n}) left out", mutated(a, _drop_last),
        "history_incomplete")  # fmt: skip

    # ----- the item's map proof -------------------------------------------------------------
    add("map-sibling-flipped", "one bit of a sibling of item A's map proof flipped",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], flip_b64)), "map_root")  # fmt: skip
    add("sibling-in-hex", "one sibling of item A's map proof in hex (version 4's spelling)",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], lambda s: unb64url(s).hex())),
        "bundle_format")  # fmt: skip
    add("proof-in-hex", "item A's whole map proof in version 4's spelling",
        mutated(a, lambda x: x.update(map_proof=_as_hex(x["map_proof"]))),
        "bundle_format")  # fmt: skip
    add("sibling-non-canonical", "a sibling's last character with an unused bit set (decodes "
        "to the same bytes)", mutated(a, lambda x: _edit_sibling(x["map_proof"], _spare_bit)),
        "bundle_format")  # fmt: skip
    add("sibling-padded", "a sibling with base64 padding '='",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], lambda s: s + "=")),
        "bundle_format")  # fmt: skip
    add("sibling-standard-alphabet", "a sibling in the standard base64 alphabet ('+' for '-')",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], _standard, _has_url_char)),
        "bundle_format")  # fmt: skip
    add("sibling-31-bytes", "a sibling of 31 bytes (42 characters)",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], lambda s: b64url(unb64url(s)[:31]))),
        "bundle_format")  # fmt: skip
    add("sibling-33-bytes", "a sibling of 33 bytes (44 characters)",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], lambda s: b64url(unb64url(s) + b"\0"))),
        "bundle_format")  # fmt: skip
    add("sibling-empty-spelt-out", "a sibling of 32 zero bytes written out, not null",
        mutated(a, lambda x: _edit_sibling(x["map_proof"], lambda s: b64url(bytes(32)))),
        "map_proof")  # fmt: skip
    add("sibling-dropped", "item A's map proof without its top sibling (the root's other child)",
        mutated(a, lambda x: x["map_proof"]["siblings"].pop()), "map_root")  # fmt: skip
    add("v4-label-on-v5-proofs", "the bundle labelled version 4: its proofs are not in hex",
        mutated(a, lambda x: x.update(version=4)), "bundle_format")  # fmt: skip

    # ----- the registry's proofs --------------------------------------------------------------
    add("party-proof-flipped", "one bit of the lab's map proof flipped",
        mutated(a, lambda x: _edit_sibling(_party(x)["map_proof"], flip_b64)),
        "party_proof")  # fmt: skip
    add("device-proof-flipped", "one bit of the lab device's map proof flipped",
        mutated(a, lambda x: _edit_sibling(_device(x)["map_proof"], flip_b64)),
        "device_proof")  # fmt: skip
    add("party-proof-in-hex", "the lab's map proof in version 4's spelling",
        mutated(a, lambda x: _party(x).update(map_proof=_as_hex(_party(x)["map_proof"]))),
        "bundle_format")  # fmt: skip

    # ----- a newer checkpoint -----------------------------------------------------------------
    add("newer-checkpoint-unchanged", "item A brought to a newer checkpoint: its entry is the "
        "same, still complete", {**a, "newer": a_newer}, None)  # fmt: skip
    add("newer-checkpoint-newer-events", "item B at a newer checkpoint that has its shipping",
        {**b, "newer": b_newer}, "newer_events")  # fmt: skip
    add("newer-proof-in-hex", "item A's newer object with its map proof in version 4's spelling",
        {**a, "newer": a_newer_hex}, "bundle_format")  # fmt: skip

    # ----- absence ------------------------------------------------------------------------------
    add("absent-item", f"{empty_id} was never recorded: its path ends at an empty subtree",
        absent, None, absent=True)  # fmt: skip
    add("absent-beside-another-key", f"{beside_id} was never recorded: its path ends at "
        "another key's entry", beside, None, absent=True)  # fmt: skip
    add("absence-claimed-for-present-item", "the absence proof presented for item A",
        mutated(absent, lambda x: x.update(item_id=base.ITEM_A)), "absence_refuted")  # fmt: skip
    add("absence-sibling-flipped", "one bit of a sibling of the absence proof flipped",
        mutated(absent, lambda x: _edit_sibling(x["map_proof"], flip_b64)),
        "absence_refuted")  # fmt: skip
    add("absence-other-value-short", "the other entry's value one byte short",
        mutated(beside, lambda x: _edit_other(x, "value", lambda v: b64url(unb64url(v)[:-1]))),
        "bundle_format")  # fmt: skip
    add("absence-other-key-in-hex", "the other entry's key in hex",
        mutated(beside, lambda x: _edit_other(x, "key", lambda v: unb64url(v).hex())),
        "bundle_format")  # fmt: skip
    add("absence-v3-relabelled-v5", "a version 3 absence bundle (hex) labelled version 5",
        mutated(absent_v3, lambda x: x.update(version=5)), "bundle_format")  # fmt: skip
    add("absence-v5-without-head-proof", "a version 5 absence bundle without head_proof",
        mutated(absent, lambda x: x.pop("head_proof")), "bundle_format")  # fmt: skip
    return vectors


def _drop_last(x: Vector) -> None:
    x["events"].pop()


def _party(x: Vector) -> Vector:
    member: Vector = x["registry"]["parties"][LAB]
    return member


def _device(x: Vector) -> Vector:
    member: Vector = x["registry"]["devices"][LAB_DEVICE]
    return member


def _edit_sibling(proof: Vector, change: Any, want: Any = None) -> None:
    """Change the first non-null sibling (that ``want`` accepts, if given)."""
    siblings = proof["siblings"]
    at = next(i for i, s in enumerate(siblings) if s is not None and (want is None or want(s)))
    siblings[at] = change(siblings[at])


def _edit_other(x: Vector, field: str, change: Any) -> None:
    other = x["map_proof"]["other"]
    other[field] = change(other[field])


def _as_hex(proof: Vector) -> Vector:
    return proof_json(parse_proof_v5(proof, "map_proof"))


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _spare_bit(text: str) -> str:
    return text[:-1] + _ALPHABET[_ALPHABET.index(text[-1]) | 1]


def _has_url_char(text: str) -> bool:
    return "-" in text or "_" in text


def _standard(text: str) -> str:
    return text.replace("-", "+").replace("_", "/")


def main() -> None:
    write(OUT, build_vectors())


if __name__ == "__main__":
    main()
