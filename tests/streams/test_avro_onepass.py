"""The one-pass reader is bound to the careful canonical check it stands in for.

``SchemaRegistry.decode`` answers from the one-pass reader when it reads a body and from
``decode_carefully`` (fastavro read, write back, compare) otherwise. These properties hold
for valid bodies of every version, for the committed vectors, for the respellings fastavro
accepts and for thousands of byte mutations: whenever the one-pass reader answers, the
careful check accepts the same bytes and returns the same record; whenever the careful
check refuses, decode refuses with the same code and message.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import struct
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.custody import CustodyEvent, ErrorReason, Kind
from streams import avro_onepass
from streams.avro import HEADER_LEN, SchemaRegistry, default_registry
from streams.envelope import (
    ENVELOPE_SCHEMA,
    EVENT_SCHEMA,
    Envelope,
    custody_from_avro,
    custody_from_record,
    custody_to_avro,
    open_envelope,
    read_body,
    reads_custody_fields,
    seal,
)
from streams.errors import SerializationError
from tests.anchoring.hostile_bundles import respellings
from tests.streams.hostile import key_for, sample_event
from tests.support import with_nan_bits

ADDRESS = re.compile(r"0x[0-9a-f]+")
VECTORS = sorted((Path(__file__).parent / "vectors" / "custody_event").glob("*.json"))
FUZZ = settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def onepass(name: str, message: bytes) -> dict[str, Any] | None:
    registry = default_registry()
    writer = registry.by_fingerprint[message[2:HEADER_LEN]]
    latest = registry.latest[name]
    body_plan = avro_onepass.plan(writer.raw, None if latest is writer else latest.raw)
    assert body_plan is not None, "every schema Assay writes has a one-pass plan"
    record = avro_onepass.read(body_plan, message, HEADER_LEN)
    compiled = avro_onepass.compile_reader(body_plan)(message, HEADER_LEN)
    assert repr(compiled) == repr(record), "the compiled reader reads as the loop reads"
    return record


def outcome(decode: Any, name: str, message: bytes) -> tuple[str, Any]:
    try:
        return "ok", repr(decode(name, message))  # repr: NaN is not equal to itself
    except SerializationError as e:
        # Some of fastavro's messages name an object by its address, which differs per call.
        return "refused", (e.code, ADDRESS.sub("0x…", e.reason))


def assert_bound(name: str, message: bytes) -> None:
    registry = default_registry()
    careful = outcome(registry.decode_carefully, name, message)
    assert outcome(registry.decode, name, message) == careful
    if len(message) < HEADER_LEN or message[2:HEADER_LEN] not in registry.by_fingerprint:
        return
    if registry.by_fingerprint[message[2:HEADER_LEN]].name != name:
        return
    fast = onepass(name, message)
    if fast is not None:
        assert careful == ("ok", repr(fast)), "the one-pass reader read what the careful refuses"


def event(rng: random.Random) -> CustodyEvent:
    base = sample_event(rng)
    if rng.random() < 0.3:
        return dataclasses.replace(
            base,
            kind=Kind.ERROR_DECLARATION,
            declared_event_id=f"{base.item_id}#1",
            error_reason=rng.choice(list(ErrorReason)),
            corrective_event_ids=tuple(f"e-{i}é" for i in range(rng.randrange(3))),
            latitude=None,
            longitude=None,
        )
    if rng.random() < 0.3:
        return dataclasses.replace(base, counterparty="ginza", tag_uid="04:a2", brand="b")
    return base


def body(rng: random.Random) -> bytes:
    registry = default_registry()
    record = custody_to_avro(event(rng))
    corrects = record.get("declared_event_id") is not None or record["corrective_event_ids"]
    version = 3 if corrects else rng.choice([1, 2, 3])
    known = {f["name"] for f in registry.get(EVENT_SCHEMA, version).schema["fields"]}
    return registry.encode(EVENT_SCHEMA, {k: v for k, v in record.items() if k in known}, version)


def mutate(rng: random.Random, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(rng.randrange(1, 4)):
        action = rng.choice(["flip", "cut", "insert", "byte"])
        at = rng.randrange(HEADER_LEN, max(HEADER_LEN + 1, len(out)))
        if action == "flip" and at < len(out):
            out[at] ^= 1 << rng.randrange(8)
        elif action == "byte" and at < len(out):
            out[at] = rng.choice([0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xFF])
        elif action == "cut":
            del out[at : at + rng.randrange(1, 5)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
    return bytes(out)


@FUZZ
@given(st.randoms(use_true_random=False))
def test_valid_bodies_of_every_version_take_the_one_pass_reader(rng: random.Random) -> None:
    raw = body(rng)
    fast = onepass(EVENT_SCHEMA, raw)
    assert fast is not None
    assert default_registry().decode_carefully(EVENT_SCHEMA, raw) == fast
    assert default_registry().decode(EVENT_SCHEMA, raw) == fast


@FUZZ
@given(st.randoms(use_true_random=False))
def test_a_mutated_body_is_decided_as_the_careful_check_decides(rng: random.Random) -> None:
    assert_bound(EVENT_SCHEMA, mutate(rng, body(rng)))


@FUZZ
@given(st.randoms(use_true_random=False))
def test_a_mutated_envelope_is_decided_as_the_careful_check_decides(rng: random.Random) -> None:
    sealed = seal(event(rng), key_for("brand"))
    assert onepass(ENVELOPE_SCHEMA, sealed) is not None
    assert_bound(ENVELOPE_SCHEMA, mutate(rng, sealed))


@settings(max_examples=300, deadline=None)
@with_nan_bits
@given(st.integers(-(2**63), 2**63 - 1), st.binary(min_size=8, max_size=8))
def test_any_timestamp_and_any_double_bits_are_decided_alike(micros: int, bits: bytes) -> None:
    registry = default_registry()
    located = dataclasses.replace(sample_event(random.Random(1)), latitude=1.0, longitude=2.0)
    record = {**custody_to_avro(located), "occurred_at": micros}
    raw = registry.encode(EVENT_SCHEMA, record, 3)
    assert_bound(EVENT_SCHEMA, raw)
    two = struct.pack("<d", 2.0)
    assert raw.count(two) == 1
    assert_bound(EVENT_SCHEMA, raw.replace(two, bits))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_the_committed_body_vectors_are_decided_alike(path: Path) -> None:
    vector = json.loads(path.read_text())
    raw = bytes.fromhex(vector["body_hex"])
    assert_bound(EVENT_SCHEMA, raw)
    if vector["want_err"] is None:
        assert onepass(EVENT_SCHEMA, raw) is not None, "a valid vector takes the one pass"


@pytest.mark.parametrize("name", sorted(respellings()))
def test_a_respelling_fastavro_accepts_is_left_to_the_careful_check(name: str) -> None:
    _, raw = respellings()[name]
    assert onepass(EVENT_SCHEMA, raw) is None
    with pytest.raises(SerializationError, match="not canonically encoded"):
        default_registry().decode(EVENT_SCHEMA, raw)


SCALARS = ["event_id", "kind", "location", "counterparty", "verdict", "reason", "error_reason",
           "declared_event_id"]  # fmt: skip


@FUZZ
@given(st.randoms(use_true_random=False))
def test_the_event_is_built_as_from_its_primitive_form(rng: random.Random) -> None:
    """``custody_from_avro`` skips the primitive form; the event and its refusals are the
    ones ``CustodyEvent.from_primitive`` gives for the same record."""
    record = default_registry().decode(EVENT_SCHEMA, body(rng))
    for name in rng.sample(SCALARS, rng.randrange(3)):
        record[name] = rng.choice(["", "genuine", "lost", "did_not_occur", "x", None])
    if rng.random() < 0.2:
        record["latitude"] = rng.choice([None, 95.0, -1.5])
    primitive = {**record, "occurred_at": record["occurred_at"].isoformat()}
    try:
        expected: CustodyEvent | None = CustodyEvent.from_primitive(primitive)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(SerializationError) as e:
            custody_from_avro(record)
        assert e.value.code == "invalid_event"
    else:
        got = custody_from_avro(record)
        assert got == expected
        assert got.occurred_at.tzinfo == expected.occurred_at.tzinfo


def body_outcome(read: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", repr(read(raw))
    except SerializationError as e:
        return "refused", (e.code, ADDRESS.sub("0x…", e.reason))


@FUZZ
@given(st.randoms(use_true_random=False))
def test_read_body_decides_as_the_careful_reading_of_the_body(rng: random.Random) -> None:
    """``read_body`` builds the event from the one-pass record itself; the event, or the
    refusal, is the careful path's: ``custody_from_avro`` of ``decode_carefully``."""
    raw = body(rng)
    if rng.random() < 0.5:
        raw = mutate(rng, raw)
    if rng.random() < 0.3:  # an enumeration the event refuses, or another kind
        raw = raw.replace(b"observing", rng.choice([b"observinG", b"receiving"]))
        raw = raw.replace(b"did_not_occur", rng.choice([b"did_not_occuR", b"did\x00not_occur"]))
    registry = default_registry()

    def careful(message: bytes) -> CustodyEvent:
        return custody_from_avro(registry.decode_carefully(EVENT_SCHEMA, message))

    fast = body_outcome(lambda m: read_body(Envelope("p", "d", m, b"")), raw)
    assert fast == body_outcome(careful, raw)


def test_an_event_without_its_fields_is_not_built_from_them() -> None:
    record = custody_to_avro(sample_event(random.Random(3)))
    record["occurred_at"] = record["occurred_at"].astimezone(UTC)
    with pytest.raises(TypeError):
        CustodyEvent.from_fields({**record, "extra": 1})
    assert custody_from_record(dict(record)) == custody_from_avro(dict(record))
    del record["claim_salt"]  # not every field: built the careful way, from its defaults
    assert custody_from_record(dict(record)) == custody_from_avro(dict(record))


def test_an_envelope_is_read_in_one_pass() -> None:
    sealed = seal(sample_event(random.Random(7)), key_for("brand"))
    assert onepass(ENVELOPE_SCHEMA, sealed) is not None
    assert open_envelope(sealed).body == onepass(ENVELOPE_SCHEMA, sealed)["body"]  # type: ignore[index]


def test_the_field_names_are_checked_once_per_registry_and_again_by_the_domain() -> None:
    # The one-pass records carry the newest schema's names: the event's, in both readers.
    assert reads_custody_fields(default_registry())
    assert reads_custody_fields(SchemaRegistry(native=False))
    for seed in range(20):
        record = custody_to_avro(sample_event(random.Random(seed)))
        record["occurred_at"] = record["occurred_at"].astimezone(UTC)
        known = custody_from_record(dict(record), fields_known=True)
        assert known == custody_from_record(dict(record)) == custody_from_avro(dict(record))
    del record["claim_salt"]
    with pytest.raises(TypeError):  # the domain's own guard stays
        custody_from_record(dict(record), fields_known=True)
