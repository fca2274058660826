from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from domain.custody import Kind
from domain.privacy import claim_commitment, digest_of, new_claim_code
from streams.avro import default_registry
from streams.envelope import EVENT_SCHEMA, Envelope, open_envelope, read_body, seal
from streams.keys import DeviceKey, KeyFileError, SignatureInvalid, verify_signature
from streams.scanner import event_from_json
from tests.support import custody


def test_sealed_envelope_round_trips_and_verifies() -> None:
    key = DeviceKey.generate("dc", "dc-d1")
    event = custody(1, "observing", "dc", latitude=22.3, longitude=114.2)
    envelope = open_envelope(seal(event, key))
    assert (envelope.party_id, envelope.device_id) == ("dc", "dc-d1")
    verify_signature(bytes.fromhex(key.public_key_hex), envelope.body, envelope.signature)
    assert read_body(envelope) == event


def test_an_older_writer_schema_is_read_with_the_current_one() -> None:
    key = DeviceKey.generate("dc", "dc-d1")
    event = custody(1, "observing", "dc")
    decoded = read_body(open_envelope(seal(event, key, schema_version=1)))
    assert decoded == event


def test_everyday_events_are_written_as_v2_and_a_declaration_as_v3() -> None:
    """Readers that predate v3 keep reading everyday events; a declaration needs v3."""
    registry = default_registry()
    key = DeviceKey.generate("dc", "dc-d1")
    everyday = open_envelope(seal(custody(1, "observing", "dc"), key))
    assert everyday.body[2:10] == registry.get(EVENT_SCHEMA, 2).fingerprint
    declaration = custody(
        2, "error_declaration", "dc", declared_event_id="urn:item:1#e1",
        error_reason="did_not_occur", corrective_event_ids=["urn:item:1#e3", "urn:item:1#e4"],
    )  # fmt: skip
    sealed = open_envelope(seal(declaration, key))
    assert sealed.body[2:10] == registry.get(EVENT_SCHEMA, 3).fingerprint
    assert read_body(sealed) == declaration
    with pytest.raises(ValueError, match="v2 cannot carry an error declaration"):
        seal(declaration, key, schema_version=2)
    # v3 may carry any event; read back, it is the same event.
    assert read_body(open_envelope(seal(custody(3, "observing", "dc"), key, schema_version=3))) == (
        custody(3, "observing", "dc")
    )


def test_a_sale_with_commitments_is_written_as_v4_and_read_back_whole() -> None:
    """The body's commitments and claim commitment survive the one-pass reader."""
    key = DeviceKey.generate("ginza", "ginza-d1")
    salt, digest = claim_commitment(new_claim_code())
    sale = custody(
        4, "retail_selling", "ginza", commitments={"buyer_ref": digest_of(bytes(16), "buyer-1")},
        claim_salt=salt, claim_digest=digest,
    )  # fmt: skip
    sealed = open_envelope(seal(sale, key))
    assert sealed.body[2:10] == default_registry().get(EVENT_SCHEMA, 4).fingerprint
    decoded = read_body(sealed)
    assert decoded == sale
    assert (decoded.claim_salt, decoded.claim_digest) == (salt, digest)
    assert dict(decoded.commitments) == dict(sale.commitments)


def test_a_declaration_is_a_json_line_too() -> None:
    key = DeviceKey.generate("dc", "dc-d1")
    event = event_from_json(
        {"item_id": "urn:x", "kind": "error_declaration", "location": "dc",
         "declared_event_id": "e1", "error_reason": "incorrect_data",
         "corrective_event_ids": ["e7"]},
        key,
    )  # fmt: skip
    assert (event.declared_event_id, event.corrective_event_ids) == ("e1", ("e7",))


def test_a_changed_body_fails_the_signature() -> None:
    key = DeviceKey.generate("dc", "dc-d1")
    envelope = open_envelope(seal(custody(1, "observing", "dc"), key))
    forged = envelope.body.replace(b"loc-dc", b"loc-xx")
    with pytest.raises(SignatureInvalid):
        verify_signature(bytes.fromhex(key.public_key_hex), forged, envelope.signature)


def test_device_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key = DeviceKey.generate("dc", "dc-d1")
    path = tmp_path / "keys" / "dc.json"
    key.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert DeviceKey.load(path).public_key_hex == key.public_key_hex
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        DeviceKey.generate("dc", "dc-d2").save(path)


def test_json_line_events_take_party_and_device_from_the_key() -> None:
    key = DeviceKey.generate("ginza", "ginza-d1")
    event = event_from_json(
        {
            "item_id": "urn:x",
            "kind": "observing",
            "location": "shelf-3",
            "occurred_at": "2026-11-27T10:00:00+09:00",
        },
        key,
    )
    assert event.kind is Kind.OBSERVING
    assert (event.party_id, event.device_id) == ("ginza", "ginza-d1")
    assert event.event_id  # generated


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"kind": "observing", "location": "x"}, "missing field 'item_id'"),
        ({"item_id": "i", "kind": "teleporting", "location": "x"}, "teleporting"),
        ({"item_id": "i", "kind": "observing", "location": "x", "colour": "red"}, "unknown"),
        (
            {
                "item_id": "i",
                "kind": "observing",
                "location": "x",
                "occurred_at": "2026-11-27T10:00:00",
            },
            "time zone",
        ),
    ],
)
def test_bad_json_lines_say_what_is_wrong(line: dict[str, object], message: str) -> None:
    key = DeviceKey.generate("ginza", "ginza-d1")
    with pytest.raises(ValueError, match=message):
        event_from_json(line, key)


def test_events_are_frozen_values() -> None:
    event = custody(1, "observing", "dc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.location = "elsewhere"  # type: ignore[misc]


def test_an_envelope_is_the_frozen_value_the_generated_init_would_make() -> None:
    made = Envelope("p", "d", b"body", b"s" * 64)
    assert list(vars(made)) == [f.name for f in dataclasses.fields(Envelope)]
    assert made == Envelope(party_id="p", device_id="d", body=b"body", signature=b"s" * 64)
    assert hash(made) == hash(dataclasses.replace(made))
    assert (
        repr(made)
        == "Envelope(party_id='p', device_id='d', body=b'body', signature=" + repr(b"s" * 64) + ")"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.body = b"other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Envelope("p", "d", b"body")  # type: ignore[call-arg]
