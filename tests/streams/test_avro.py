from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from fastavro import schemaless_reader
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.avro import HEADER_LEN, SchemaRegistry, crc64_avro, default_registry
from streams.envelope import custody_to_avro
from streams.errors import SerializationError
from tests.anchoring.hostile_bundles import SPELLED_VERSION, respellings
from tests.server import forge
from tests.streams.hostile import sample_event


def test_crc64_matches_the_avro_specification_vector() -> None:
    # From the Avro spec's test data: fingerprint64 of the schema "null".
    assert crc64_avro(b'"null"') == 7195948357588979594


def test_registry_knows_every_version_and_resolves_old_writers_to_the_newest() -> None:
    registry = default_registry()
    assert registry.get("custody_event").version == 4
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
    assert decoded["commitments"] == {}  # v4
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


# ----- canonical encoding only (docs/proof-bundle.md §4.7) ----------------------------------


@pytest.mark.parametrize("name", sorted(respellings()))
def test_a_body_fastavro_reads_but_not_in_its_canonical_encoding_is_refused(name: str) -> None:
    _, body = respellings()[name]
    writer = default_registry().get("custody_event", SPELLED_VERSION)
    lenient = schemaless_reader(io.BytesIO(body[HEADER_LEN:]), writer.schema, None)
    assert lenient["event_id"].startswith("urn:epc:id:sgtin:")  # a valid-looking event
    with pytest.raises(SerializationError, match="not canonically encoded") as e:
        default_registry().decode("custody_event", body)
    assert e.value.code == "malformed_body"


def _long_registry(tmp_path: Path) -> SchemaRegistry:
    schema = {"type": "record", "name": "L", "fields": [{"name": "n", "type": "long"}]}
    (tmp_path / "longs.v1.avsc").write_text(json.dumps(schema))
    return SchemaRegistry(tmp_path)


@pytest.mark.parametrize(
    ("varint", "value"),
    [
        (b"\x00", 0),
        (b"\x01", -1),
        (b"\x80\x01", 64),
        (b"\xfe" + b"\xff" * 8 + b"\x01", 2**63 - 1),  # ten bytes, the tenth is 1
        (b"\xff" * 9 + b"\x01", -(2**63)),
        (b"\x80\x00", None),  # a redundant group
        (b"\x80" * 9 + b"\x00", None),
        (b"\xfe" + b"\xff" * 8 + b"\x02", None),  # bit 64
        (b"\xfe" + b"\xff" * 8 + b"\x81\x00", None),  # eleven bytes
        (b"\x80" * 20 + b"\x01", None),
    ],
)
def test_longs_are_minimal_varints_of_at_most_ten_bytes(
    tmp_path: Path, varint: bytes, value: int | None
) -> None:
    registry = _long_registry(tmp_path)
    message = b"\xc3\x01" + registry.get("longs").fingerprint + varint
    if value is None:
        with pytest.raises(SerializationError):
            registry.decode("longs", message)
    else:
        assert registry.decode("longs", message) == {"n": value}
        assert registry.encode("longs", {"n": value}) == message


def test_a_schema_with_another_union_than_null_and_one_type_is_refused(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "U", "fields": [{"name": "u", "type": ["string", "null"]}]}
    (tmp_path / "unions.v1.avsc").write_text(json.dumps(schema))
    with pytest.raises(ValueError, match="union"):
        SchemaRegistry(tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(-(2**62), 2**62))
def test_decoding_is_fastavros_reading_of_the_same_bytes(rng: random.Random, micros: int) -> None:
    """The canonical check reads once and converts logical types itself: same record."""
    registry = default_registry()
    latest = registry.get("custody_event")
    version = rng.choice([1, 2, 3])
    record = custody_to_avro(sample_event(rng))
    writer = registry.get("custody_event", version)
    known = {f["name"] for f in writer.schema["fields"]}
    message = registry.encode(
        "custody_event", {k: v for k, v in record.items() if k in known}, version
    )
    reader = None if writer.schema == latest.schema else latest.schema
    expected = schemaless_reader(io.BytesIO(message[HEADER_LEN:]), writer.schema, reader)
    assert registry.decode("custody_event", message) == expected
    # Any 64-bit timestamp: a date, or the same refusal fastavro's reading raises.
    raw = forge.body_with_micros(sample_event(rng), micros)
    try:
        expected = schemaless_reader(
            io.BytesIO(raw[HEADER_LEN:]), registry.get("custody_event").schema, None
        )
    except OverflowError:
        with pytest.raises(SerializationError):
            registry.decode("custody_event", raw)
    else:
        assert registry.decode("custody_event", raw) == expected
