"""The native reader (native/src/avrobody.rs) is bound to the Python one-pass reader.

Both read a body from the same plan, made from the schema files. Records are drawn from
the schema files themselves (any text, bytes, long, timestamp, double bits, map, array and
null of each field, every version of every schema), written by fastavro, then mutated and
cut: on each message the native reader answers what the Python reader answers (the same
record, or None: then the careful path decides), and ``decode`` and ``read_body`` answer
the same record, event or refusal (code and message) with either reader.
"""

from __future__ import annotations

import re
import struct
import sys
from typing import Any

import pytest
from assay_headmap import BodyReader, MessageReader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.custody import CUSTODY_FIELDS
from streams import avro_onepass
from streams.avro import HEADER_LEN, MAGIC, SchemaRegistry, SchemaVersion, default_registry
from streams.avro_native import native_reader
from streams.envelope import EVENT_SCHEMA, Envelope, read_body
from streams.errors import SerializationError
from tests.support import with_nan_bits

ADDRESS = re.compile(r"0x[0-9a-f]+")
NATIVE = default_registry()
PYTHON = SchemaRegistry(native=False)
WRITERS = sorted(NATIVE.versions)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Any long, often one beside a power of two (where a varint gains a byte: ten bytes from
#: ±2**62 on, which the one-pass readers leave to the careful path).
LONGS = st.integers(-(2**63), 2**63 - 1) | st.builds(
    lambda power, sign, step: max(-(2**63), min(2**63 - 1, sign * 2**power + step)),
    st.integers(0, 63),
    st.sampled_from([1, -1]),
    st.integers(-2, 1),
)
TEXT = st.text(max_size=12)


def body_plan(writer: SchemaVersion) -> avro_onepass.BodyPlan:
    latest = NATIVE.latest[writer.name]
    found = avro_onepass.plan(writer.raw, None if latest is writer else latest.raw)
    assert found is not None, f"{writer.name} v{writer.version} has a one-pass plan"
    return found


def values(schema: Any) -> st.SearchStrategy[Any]:
    """Any value of a field of ``schema`` (as its schema file spells it)."""
    if isinstance(schema, list):  # ["null", T]: every union Assay writes
        return st.none() | values(schema[1])
    if isinstance(schema, dict):
        if schema.get("logicalType") == "timestamp-micros":
            return LONGS
        if schema["type"] == "map":
            return st.dictionaries(TEXT, values(schema["values"]), max_size=3)
        if schema["type"] == "array":
            return st.lists(values(schema["items"]), max_size=3)
        return values(schema["type"])
    simple: dict[str, st.SearchStrategy[Any]] = {
        "string": st.text(),
        "bytes": st.binary(max_size=70),
        "long": LONGS,
        "double": st.binary(min_size=8, max_size=8).map(lambda b: struct.unpack("<d", b)[0]),
    }
    return simple[schema]


@st.composite
def messages(draw: st.DrawFn) -> tuple[SchemaVersion, bytes]:
    """A message of any version of any schema, as fastavro writes it for any record."""
    writer = NATIVE.versions[draw(st.sampled_from(WRITERS))]
    record = {f["name"]: draw(values(f["type"])) for f in writer.raw["fields"]}
    return writer, NATIVE.encode(writer.name, record, writer.version)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[SchemaVersion, bytes]:
    """A message with a few bytes flipped, set, cut out or put in after its header."""
    writer, message = draw(messages())
    out = bytearray(message)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(HEADER_LEN, len(out)))
        action = draw(st.sampled_from(["flip", "byte", "cut", "insert"]))
        if action == "flip" and at < len(out):
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "byte" and at < len(out):
            out[at] = draw(st.sampled_from([0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xED, 0xFF]))
        elif action == "cut":
            del out[at : at + draw(st.integers(1, 4))]
        else:
            out[at:at] = draw(st.binary(min_size=1, max_size=3))
    return writer, bytes(out)


def assert_alike(writer: SchemaVersion, message: bytes) -> None:
    """Both readers answer alike, and so do both registries' decode."""
    if type(message) is bytes:  # the message readers give body readers nothing else
        plan = body_plan(writer)
        python = avro_onepass.read(plan, message, HEADER_LEN)
        native = native_reader(plan)(message, HEADER_LEN)
        assert repr(native) == repr(python)  # repr: NaN is not equal to itself
        if native is not None:
            assert [type(v) for v in native.values()] == [type(v) for v in python.values()]
    for name in NATIVE.latest:  # the message reader of each schema, and its header checks
        assert repr(NATIVE.one_pass(name)(message)) == repr(PYTHON.one_pass(name)(message))
    assert outcome(NATIVE.decode, writer.name, message) == outcome(
        PYTHON.decode, writer.name, message
    )


def outcome(decode: Any, *args: Any) -> tuple[str, str]:
    try:
        return "ok", repr(decode(*args))
    except SerializationError as e:
        # Some of fastavro's messages name an object by its address, which differs per call.
        return "refused", f"{e.code}: {ADDRESS.sub('0x…', e.reason)}"


@FUZZ
@given(messages())
def test_a_valid_message_is_read_alike(drawn: tuple[SchemaVersion, bytes]) -> None:
    writer, message = drawn
    assert_alike(writer, message)
    record = native_reader(body_plan(writer))(message, HEADER_LEN)
    if record is not None:  # else a ten-byte varint: the careful path's
        assert repr(record) == repr(PYTHON.decode_carefully(writer.name, message))


@FUZZ
@given(mutated())
def test_a_mutated_message_is_read_or_left_alike(drawn: tuple[SchemaVersion, bytes]) -> None:
    assert_alike(*drawn)


@settings(max_examples=80, deadline=None)
@given(messages())
def test_every_cut_of_a_message_is_left_alike(drawn: tuple[SchemaVersion, bytes]) -> None:
    writer, message = drawn
    for end in range(HEADER_LEN, len(message)):
        assert_alike(writer, message[:end])


@FUZZ
@given(st.sampled_from(WRITERS), st.binary(max_size=60))
def test_any_bytes_after_a_header_are_read_or_left_alike(
    version: tuple[str, int], rest: bytes
) -> None:
    writer = NATIVE.versions[version]
    assert_alike(writer, MAGIC + writer.fingerprint + rest)


@FUZZ
@given(mutated())
def test_read_body_gives_the_same_event_or_refusal(drawn: tuple[SchemaVersion, bytes]) -> None:
    writer, message = drawn
    if writer.name != EVENT_SCHEMA:
        return
    envelope = Envelope("p", "d", message, b"")
    assert outcome(read_body, envelope, NATIVE) == outcome(read_body, envelope, PYTHON)


@pytest.mark.parametrize("version", WRITERS, ids=lambda v: f"{v[0]}.v{v[1]}")
def test_the_native_reader_reads_the_fields_of_the_schema(version: tuple[str, int]) -> None:
    """Written fields in the writer's order, then the fields the newest version adds: the
    newest schema file's list, which for a custody event is the domain event's fields."""
    writer = NATIVE.versions[version]
    reader = native_reader(body_plan(writer))
    newest = [f["name"] for f in NATIVE.latest[writer.name].raw["fields"]]
    assert reader.fields == newest
    assert reader.fields[: len(writer.raw["fields"])] == [f["name"] for f in writer.raw["fields"]]
    if writer.name == EVENT_SCHEMA:
        assert set(reader.fields) == CUSTODY_FIELDS


def test_the_registry_reads_with_the_native_reader_unless_told_not_to() -> None:
    writer = NATIVE.latest[EVENT_SCHEMA]
    assert isinstance(NATIVE._onepass(writer, EVENT_SCHEMA), BodyReader)
    assert not isinstance(PYTHON._onepass(writer, EVENT_SCHEMA), BodyReader)
    assert isinstance(NATIVE.one_pass(EVENT_SCHEMA), MessageReader)


@pytest.mark.parametrize(
    "message",
    [b"", MAGIC, MAGIC + bytes(8) + b"\x02", b"\xc3\x02" + bytes(20), bytearray(MAGIC + bytes(9))],
)
def test_what_is_no_message_of_a_known_writer_is_left_alike(message: bytes) -> None:
    writer = NATIVE.latest[EVENT_SCHEMA]
    assert NATIVE.one_pass(EVENT_SCHEMA)(message) is None
    assert_alike(writer, message)
    assert_alike(writer, bytearray(writer.fingerprint.join([MAGIC, b"\x00"])))


def test_a_plan_the_native_reader_does_not_know_is_refused() -> None:
    codes = avro_onepass.KIND_CODES
    with pytest.raises(ValueError, match="unknown type code"):
        BodyReader([("x", max(codes.values()) + 1)], [], codes, object, None)
    with pytest.raises(ValueError, match="no literal for the default"):
        BodyReader([], [("x", 3)], codes, object, None)
    with pytest.raises(ValueError, match="no type code for"):
        BodyReader([], [], {"string": 0}, object, None)


@settings(max_examples=300, deadline=None)
@with_nan_bits
@given(LONGS, st.binary(min_size=8, max_size=8))
def test_any_long_timestamp_and_double_bits_are_read_alike(number: int, bits: bytes) -> None:
    statement = NATIVE.latest["owner_statement"]
    record = {f["name"]: None for f in statement.raw["fields"]}
    strings = {"statement_id": "s", "item_id": "i", "kind": "claim", "owner_key": "k"}
    record |= {**strings, "after_version": number, "occurred_at": 0}
    assert_alike(statement, NATIVE.encode(statement.name, record))
    event = NATIVE.get(EVENT_SCHEMA, 2)
    record = {f["name"]: "x" for f in event.raw["fields"]}
    record |= {"occurred_at": number, "attributes": {}, "latitude": 1.0, "longitude": None}
    message = NATIVE.encode(EVENT_SCHEMA, record, 2)
    assert_alike(event, message)
    assert message.count(struct.pack("<d", 1.0)) == 1
    assert_alike(event, message.replace(struct.pack("<d", 1.0), bits))


def test_a_record_s_field_names_are_interned_as_attribute_names_are() -> None:
    """An event's ``__dict__`` is the record: its attribute lookups find the same objects."""
    writer = NATIVE.latest[EVENT_SCHEMA]
    record = {f["name"]: None for f in writer.raw["fields"]}
    strings = ("event_id", "item_id", "kind", "party_id", "device_id", "location")
    record |= {name: "x" for name in strings} | {"occurred_at": 0, "attributes": {}}
    record |= {"corrective_event_ids": [], "commitments": {}}
    read = NATIVE.one_pass(EVENT_SCHEMA)(NATIVE.encode(EVENT_SCHEMA, record))
    assert read is not None
    assert all(sys.intern(name) is name for name in read)
