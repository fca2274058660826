"""Regenerate the owner-signed bundle vectors in this folder (deterministic).

    uv run python tests/anchoring/vectors/owner/make_owner_bundle_vectors.py

The layout is the completeness folders' (``desc``, ``want_err``, ``bundle``,
``platform_key``, ``device_keys``, ``want_absent``, ``want_completeness``) plus
``want_ownership``: the ownership a valid history ends with (docs/proof-bundle.md §13).
The world is ``../bundles/make_bundle_vectors.py``'s with version 2 headers; item A is sold
with a claim commitment, claimed by Alice, transferred, claimed by Bob and reported stolen.
The refused vectors are histories a lying platform could anchor past the ledger's rules
(a statement by a key the history never made owner, a forged signature, a wrong code, a
stale version) or an edited summary.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from nacl.signing import SigningKey

from anchoring.verify_owner import current_owner
from domain.owner_statement import OwnerStatement
from domain.ownership import OwnerReport
from domain.privacy import digest_of
from streams.envelope import open_envelope
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from tests.anchoring import vectorkit
from tests.anchoring.vectorkit import check, complete_vector, mutated, run, write

OUT = Path(__file__).parent
Vector = dict[str, Any]
base = vectorkit.base()
A = base.ITEM_A


def _owner(name: str) -> OwnerKey:
    return OwnerKey(SigningKey(hashlib.sha256(f"assay owner vectors/{name}".encode()).digest()))


ALICE, BOB, MALLORY = _owner("alice"), _owner("bob"), _owner("mallory")
CODES = {"sale": "receipt-code-0001", "transfer": "gift-code-0002"}
SALTS = {"sale": "11" * 16, "transfer": "22" * 16}


def commitment(name: str) -> dict[str, str]:
    salt = SALTS[name]
    return {"claim_salt": salt, "claim_digest": digest_of(bytes.fromhex(salt), CODES[name])}


def statement(key: OwnerKey, n: int, kind: str, version: int, **fields: Any) -> OwnerStatement:
    at = base.T0 + timedelta(days=2, hours=n)
    return new_statement(key, kind, A, version, statement_id=f"{A}#o{n}", occurred_at=at, **fields)


def sold(world: Any) -> None:
    """Item A up to its sale (v7), the sale committing to the receipt's code."""
    story = base.story_a("ginza")
    sale = story[-1].custody
    story[-1] = base.signed(base.event(7, A, "retail_selling", "ginza",
                                       buyer_ref=sale.buyer_ref, **commitment("sale")))  # fmt: skip
    world.record(base.interleave(story, base.other_reports()))


def state(world: Any, s: OwnerStatement, key: OwnerKey) -> None:
    (decision,) = world.ledger.process([OwnerReport(s, seal_statement(s, key))], None)
    assert decision.accepted, decision.refusal


def inject(world: Any, s: OwnerStatement, envelope: bytes) -> None:
    """As a lying platform would record it: past the gate and the rules."""
    item = world.ledger.get_item(A)
    item.trigger_event(item.OwnerStated, statement=s, envelope=envelope)
    world.ledger.save(item)


def build_vectors() -> dict[str, Vector]:
    vectors: dict[str, Vector] = {}
    key = base.PLATFORM.verifier().to_text()

    def add(name: str, desc: str, bundle: Vector, want: str | None) -> None:
        vector = complete_vector(desc, bundle, want, key)
        _, result = run(vector)
        vector["want_ownership"] = current_owner(result.summaries) if result else None
        check(name, vector)
        vectors[name] = vector

    with base.world(2) as w:
        sold(w)
        state(w, statement(ALICE, 1, "claim", 7, claim_code=CODES["sale"]), ALICE)
        state(w, statement(ALICE, 2, "transfer", 8, **commitment("transfer")), ALICE)
        state(w, statement(BOB, 3, "claim", 9, claim_code=CODES["transfer"]), BOB)
        state(w, statement(BOB, 4, "report_missing", 10, reason="stolen"), BOB)
        chain = w.prove(A, 3)
    add("owner-chain", "sold with a claim code, claimed, transferred, claimed by a second "
        "owner, reported stolen: the chain verifies and ends with the second owner", chain,
        None)  # fmt: skip
    add("owner-edited-signer", "the summary of the second claim names the first owner",
        mutated(chain, lambda b: b["events"][9]["summary"].update(signer=ALICE.fingerprint)),
        "summary_mismatch")  # fmt: skip

    with base.world(2) as w:
        sold(w)
        state(w, statement(ALICE, 1, "claim", 7, claim_code=CODES["sale"]), ALICE)
        s = statement(MALLORY, 2, "transfer", 8, **commitment("transfer"))
        inject(w, s, seal_statement(s, MALLORY))
        add("owner-not-the-owner", "a transfer validly signed by a key the history never "
            "made owner", w.prove(A, 3), "owner_chain")  # fmt: skip
    with base.world(2) as w:
        sold(w)
        state(w, statement(ALICE, 1, "claim", 7, claim_code=CODES["sale"]), ALICE)
        s = statement(ALICE, 2, "report_missing", 8, reason="lost")
        body = open_envelope(seal_statement(s, ALICE)).body
        inject(w, s, wrap(ALICE.public_key_hex, body, MALLORY.sign(body)))
        add("owner-forged-signature", "a report naming the owner's key, signed by another "
            "key", w.prove(A, 3), "owner_signature")  # fmt: skip
    with base.world(2) as w:
        sold(w)
        s = statement(MALLORY, 1, "claim", 7, claim_code="guessed-code")
        inject(w, s, seal_statement(s, MALLORY))
        add("owner-wrong-claim-code", "a claim whose code does not open the sale's claim "
            "commitment", w.prove(A, 3), "owner_chain")  # fmt: skip
    with base.world(2) as w:
        sold(w)
        state(w, statement(ALICE, 1, "claim", 7, claim_code=CODES["sale"]), ALICE)
        s = statement(ALICE, 2, "transfer", 5, **commitment("transfer"))
        inject(w, s, seal_statement(s, ALICE))
        add("owner-stale-transfer", "a transfer signed against version 5 recorded as version "
            "9", w.prove(A, 3), "owner_chain")  # fmt: skip
    return vectors


def main() -> None:
    write(OUT, build_vectors())


if __name__ == "__main__":
    main()
