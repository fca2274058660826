from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.avro import SchemaRegistry, crc64_avro, default_registry
from streams.errors import SerializationError


def test_crc64_matches_the_avro_specification_vector() -> None:
    # From the Avro spec's test data: fingerprint64 of the schema "null".
    assert crc64_avro(b'"null"') == 7195948357588979594


def test_registry_knows_every_version_and_resolves_old_writers_to_the_newest() -> None:
    registry = default_registry()
    assert registry.get("custody_event").version == 3
    old = {
        "event_id": "e1",
        "item_id": "i",
        "kind": "observing",
        "party_id": "p",
        "device_id": "d",
        "location": "l",
        "occurred_at": 1_700_000_000_000_000,
        "attributes": {"shelf": "A3"},
    }
    message = registry.encode("custody_event", old, version=1)
    assert message[:2] == b"\xc3\x01"
    assert message[2:10] == registry.get("custody_event", 1).fingerprint
    decoded = registry.decode("custody_event", message)
    assert decoded["latitude"] is None and decoded["longitude"] is None  # v2 defaults
    assert (decoded["declared_event_id"], decoded["error_reason"]) == (None, None)  # v3
    assert decoded["corrective_event_ids"] == []
    assert decoded["attributes"] == {"shelf": "A3"}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"", "not_single_object"),
        (b"garbage bytes that are not avro", "not_single_object"),
        (b"\xc3\x01" + bytes(8) + b"\x02", "unknown_schema"),
    ],
)
def test_unreadable_messages_raise_one_error_with_a_code(message: bytes, code: str) -> None:
    with pytest.raises(SerializationError) as err:
        default_registry().decode("custody_event", message)
    assert err.value.code == code


def test_truncated_body_is_malformed() -> None:
    registry = default_registry()
    full = registry.encode(
        "signed_envelope",
        {"party_id": "p", "device_id": "d", "body": b"x" * 40, "signature": b"s" * 64},
    )
    with pytest.raises(SerializationError) as err:
        registry.decode("signed_envelope", full[:-20])
    assert err.value.code == "malformed_body"


def test_a_message_of_another_schema_is_refused() -> None:
    registry = default_registry()
    envelope = registry.encode(
        "signed_envelope", {"party_id": "p", "device_id": "d", "body": b"", "signature": b""}
    )
    with pytest.raises(SerializationError) as err:
        registry.decode("custody_event", envelope)
    assert err.value.code == "wrong_schema"


def test_schema_files_must_be_named_by_version(tmp_path: Path) -> None:
    (tmp_path / "custody_event.avsc").write_text(json.dumps({"type": "string"}))
    with pytest.raises(ValueError, match="named"):
        SchemaRegistry(tmp_path)
