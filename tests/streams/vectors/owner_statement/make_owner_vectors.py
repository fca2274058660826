"""Writes the owner-signed envelope vectors next to this file (docs/owner-statements.md).

    uv run python tests/streams/vectors/owner_statement/make_owner_vectors.py

Each ``<scenario>.json`` is ``{"desc", "envelope_hex", "want_err", "want_statement",
"want_fingerprint"}``: an owner-signed envelope as it travels on custody.events and is kept
as its leaf's payload, and either the statement (its primitive form) and the signer's
fingerprint every reader finds, or the stable code it is refused with. Keys come from fixed
seeds and Ed25519 signatures are deterministic, so ``tests/streams/test_owner_vectors.py``
checks the files equal this script's output.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[4]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from nacl.signing import SigningKey  # noqa: E402

from domain.owner_statement import OwnerStatement  # noqa: E402
from streams.avro import default_registry  # noqa: E402
from streams.owner_envelope import encode_statement, seal_statement, wrap  # noqa: E402
from streams.owner_keys import OwnerKey  # noqa: E402

FOLDER = Path(__file__).parent
ITEM = "urn:epc:id:sgtin:0614141.107346.2018"
AT = datetime(2026, 3, 1, 9, 30, 0, 250_000, tzinfo=UTC)
ALICE = OwnerKey(SigningKey(bytes(range(32))))
BOB = OwnerKey(SigningKey(bytes(range(32, 64))))
SALT = "5a" * 16
DIGEST = "9d3f1c0b6a2e4d8f7a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f"


def statement(key: OwnerKey, n: int, kind: str, version: int, **fields: Any) -> OwnerStatement:
    return OwnerStatement(
        statement_id=f"{ITEM}#o{n}", item_id=ITEM, kind=kind,  # type: ignore[arg-type]
        owner_key=key.public_key_hex, after_version=version, occurred_at=AT, **fields,
    )  # fmt: skip


def good(desc: str, s: OwnerStatement, key: OwnerKey) -> dict[str, Any]:
    return {
        "desc": desc,
        "envelope_hex": seal_statement(s, key).hex(),
        "want_err": None,
        "want_statement": s.to_primitive(),
        "want_fingerprint": s.fingerprint,
    }


def bad(desc: str, envelope: bytes, code: str) -> dict[str, Any]:
    return {
        "desc": desc,
        "envelope_hex": envelope.hex(),
        "want_err": code,
        "want_statement": None,
        "want_fingerprint": None,
    }


def vectors() -> dict[str, dict[str, Any]]:
    claim = statement(ALICE, 1, "claim", 7, claim_code="hVq2m1Z0xq3e9n8L0bYq4w")
    body = encode_statement(claim)
    report = statement(ALICE, 3, "report_missing", 8, reason="stolen")
    party = default_registry().encode(
        "signed_envelope",
        {"party_id": "ginza", "device_id": ALICE.public_key_hex, "body": body,
         "signature": ALICE.sign(body)},
    )  # fmt: skip
    return {
        "claim": good("the buyer's claim: the receipt's code, signed by the new key", claim, ALICE),
        "transfer": good(
            "a transfer naming a new claim commitment",
            statement(ALICE, 2, "transfer", 8, claim_salt=SALT, claim_digest=DIGEST),
            ALICE,
        ),
        "report-missing": good("the owner reports the item stolen", report, ALICE),
        "withdraw-report": good(
            "the owner withdraws the report", statement(ALICE, 4, "withdraw_report", 10), ALICE
        ),
        "consign": good(
            "consigned to the platform's appraiser",
            statement(BOB, 5, "consign", 12, consignee="lab"),
            BOB,
        ),
        "forged-signature": bad(
            "Alice's key named, Bob's signature",
            wrap(ALICE.public_key_hex, body, BOB.sign(body)),
            "bad_signature",
        ),
        "other-key-in-envelope": bad(
            "signed by Bob and named so in the envelope, but the body names Alice",
            wrap(BOB.public_key_hex, body, BOB.sign(body)),
            "envelope_mismatch",
        ),
        "names-a-party": bad(
            "an owner statement in an envelope naming a party", party, "envelope_mismatch"
        ),
        "small-order-key": bad(
            "the identity point as the owner key",
            wrap("01" + "00" * 31, body, bytes(64)),
            "invalid_owner_key",
        ),
        "claim-without-code": bad(
            "a claim whose code is null, properly signed",
            _signed_without_code(body),
            "invalid_statement",
        ),
    }


def _signed_without_code(body: bytes) -> bytes:
    record = default_registry().decode("owner_statement", body)
    record["claim_code"] = None
    raw = default_registry().encode("owner_statement", record)
    return wrap(ALICE.public_key_hex, raw, ALICE.sign(raw))


def main() -> None:
    for name, vector in vectors().items():
        text = json.dumps(vector, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        (FOLDER / f"{name}.json").write_text(text)


if __name__ == "__main__":
    main()
