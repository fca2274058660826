"""Writes the custody_event body vectors next to this file (docs/proof-bundle.md §4.7, §7).

    uv run python tests/streams/vectors/custody_event/make_body_vectors.py

Each ``<scenario>.json`` is ``{"desc", "version", "body_hex", "want_err", "want_summary"}``:
a single-object-encoded ``CustodyEvent`` body as it would be signed, and either the summary
(signed fields) every reader must show for it or the step code its bundle fails with. The
bodies are deterministic (fixed events, fastavro's encoder, hand-made spellings), so
``tests/streams/test_body_vectors.py`` checks the files equal this script's output.
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

from anchoring.leaves import signed_fields  # noqa: E402
from domain.custody import CustodyEvent, ErrorReason, Kind  # noqa: E402
from domain.privacy import digest_of  # noqa: E402
from streams.avro import default_registry  # noqa: E402
from streams.envelope import EVENT_SCHEMA, custody_to_avro  # noqa: E402

FOLDER = Path(__file__).parent
ITEM = "urn:epc:id:sgtin:0614141.107346.2018"
AT = datetime(2026, 3, 1, 9, 30, 0, 250_000, tzinfo=UTC)
TAIL = b"\x04\x02a\x02b\x00"  # corrective_event_ids ["a", "b"]: count 2, "a", "b", end

SHIPPING = CustodyEvent(
    event_id=f"{ITEM}#2", item_id=ITEM, kind=Kind.SHIPPING, party_id="dc", device_id="dc-g1",
    location="urn:epc:id:sgln:4012345.00001.0", occurred_at=AT, counterparty="ginza",
    attributes={"epcis:bizStep": "shipping"}, latitude=22.3, longitude=114.2,
)  # fmt: skip
DECLARATION = CustodyEvent(
    event_id=f"{ITEM}#3", item_id=ITEM, kind=Kind.ERROR_DECLARATION, party_id="dc",
    device_id="dc-g1", location="urn:epc:id:sgln:4012345.00001.0", occurred_at=AT,
    declared_event_id=f"{ITEM}#2", error_reason=ErrorReason.INCORRECT_DATA,
    corrective_event_ids=("a", "b"),
)  # fmt: skip

#: A sale whose buyer reference is a salted commitment (docs/privacy.md vector
#: ``buyer-ref-ascii``: salt 00..0f, value "buyer-7f3a"), with a claim-code commitment
#: (salt 10..1f, code "CLAIM-CODE-1"); signed by the same device as the other vectors.
SALE = CustodyEvent(
    event_id=f"{ITEM}#9", item_id=ITEM, kind=Kind.RETAIL_SELLING, party_id="dc",
    device_id="dc-g1", location="urn:epc:id:sgln:4012345.00009.0", occurred_at=AT,
    commitments={"buyer_ref": digest_of(bytes(range(16)), "buyer-7f3a")},
    claim_salt=bytes(range(16, 32)).hex(),
    claim_digest=digest_of(bytes(range(16, 32)), "CLAIM-CODE-1"),
)  # fmt: skip


#: The sale without its claim commitment: its body ends with the commitments map, then
#: two nulls (claim_salt, claim_digest), so the map can be spelled by hand.
PRIVATE_SALE = CustodyEvent(**{**SALE.__dict__, "claim_salt": None, "claim_digest": None})


def _avro_string(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 8192  # a zig-zag length of at most two bytes
    zigzag = len(raw) * 2
    length = bytes([zigzag]) if zigzag < 128 else bytes([zigzag & 0x7F | 0x80, zigzag >> 7])
    return length + raw


def _pair(key: str, value: str) -> bytes:
    return _avro_string(key) + _avro_string(value)


def body(event: CustodyEvent, version: int) -> bytes:
    registry = default_registry()
    known = {f["name"] for f in registry.get(EVENT_SCHEMA, version).schema["fields"]}
    record = {k: v for k, v in custody_to_avro(event).items() if k in known}
    return registry.encode(EVENT_SCHEMA, record, version)


def summary(raw: bytes) -> dict[str, Any]:
    return signed_fields(default_registry().decode(EVENT_SCHEMA, raw))


def vectors() -> dict[str, dict[str, Any]]:
    declared = body(DECLARATION, 3)
    assert declared.endswith(TAIL)
    head = declared[: -len(TAIL)]
    private = body(PRIVATE_SALE, 4)
    buyer = _pair("buyer_ref", PRIVATE_SALE.commitments["buyer_ref"])
    contact = _pair("contact", digest_of(bytes(range(32, 48)), "+81 3 0000 0000"))
    assert private.endswith(b"\x02" + buyer + b"\x00" + b"\x00\x00")
    sale_head = private[: -len(buyer) - 4]
    everyday = SHIPPING.__class__(**{**SHIPPING.__dict__, "latitude": None, "longitude": None})
    cases: dict[str, tuple[str, int, bytes, str | None]] = {
        "v1-shipping": ("A v1 body (17 fields): read with v3's defaults, none shown.", 1,
                        body(everyday, 1), None),
        "v2-shipping-with-position": ("A v2 body: latitude and longitude shown.", 2,
                                      body(SHIPPING, 2), None),
        "v3-shipping": ("A v3 body of an everyday event: the correction fields are null and "
                        "empty, and not shown.", 3, body(SHIPPING, 3), None),
        "v3-error-declaration": ("An error declaration: declared_event_id, error_reason and "
                                 "corrective_event_ids (in order) shown.", 3, declared, None),
        "v3-array-in-two-blocks": ("The corrective ids in two blocks of one item: Avro "
                                   "readers accept it, but it is not the canonical encoding.",
                                   3, head + b"\x02\x02a\x02\x02b\x00", "envelope_format"),
        "v3-array-blocks-with-byte-sizes": ("Blocks with negative counts followed by their "
                                            "byte sizes: not the canonical encoding.", 3,
                                            head + b"\x01\x04\x02a\x01\x04\x02b\x00",
                                            "envelope_format"),
        "v3-empty-array": ("A declaration without corrective ids: the array is empty and not "
                           "shown.", 3, head + b"\x00", None),
        "v3-array-cut-short": ("The array's end marker is missing: unreadable.", 3,
                               declared[:-1], "envelope_format"),
        "v3-array-count-beyond-the-body": ("An array claims more items than the body holds.",
                                           3, head + b"\x06\x02a\x02b\x00", "envelope_format"),
        "v3-array-item-not-utf8": ("A corrective id that is not UTF-8: unreadable.", 3,
                                   head + b"\x04\x02a\x02\xff\x00", "envelope_format"),
        "v3-trailing-byte": ("A byte after the array's end: unreadable.", 3, declared + b"\x00",
                             "envelope_format"),
        "v4-shipping": ("A v4 body of an everyday event: no commitments, the empty map is not "
                        "shown.", 4, body(SHIPPING, 4), None),
        "v4-sale-with-commitment": ("A sale whose buyer reference is a salted commitment "
                                    "(docs/privacy.md): commitments shown, buyer_ref null.", 4,
                                    body(SALE, 4), None),
        "v4-commitments-unsorted": ("Two commitments written contact first: one block of "
                                    "distinct keys is canonical; shown with keys sorted.", 4,
                                    sale_head + b"\x04" + contact + buyer + b"\x00\x00\x00",
                                    None),
        "v4-commitments-repeated-key": ("The commitments map names buyer_ref twice: not "
                                        "canonical.", 4,
                                        sale_head + b"\x04" + buyer + buyer + b"\x00\x00\x00",
                                        "envelope_format"),
        "v4-commitments-in-two-blocks": ("The commitments map in two blocks of one entry: "
                                         "not canonical.", 4,
                                         sale_head + b"\x02" + contact + b"\x02" + buyer
                                         + b"\x00\x00\x00", "envelope_format"),
    }  # fmt: skip
    out = {}
    for name, (desc, version, raw, want_err) in cases.items():
        out[name] = {
            "desc": desc,
            "version": version,
            "body_hex": raw.hex(),
            "want_err": want_err,
            "want_summary": None if want_err else summary(raw),
        }
    return out


def write() -> None:
    for name, vector in vectors().items():
        text = json.dumps(vector, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        (FOLDER / f"{name}.json").write_text(text)


if __name__ == "__main__":
    write()
