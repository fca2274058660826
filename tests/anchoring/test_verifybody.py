"""The native envelope and summary readers (native/src/verifybody.rs) answer exactly what
``anchoring.fastread.plain_envelope`` and ``plain_summary`` answer, None included, on
valid envelopes and bodies of every schema version, on events with drawn times, texts,
maps and numbers, and on thousands of byte mutations of them."""

from __future__ import annotations

import dataclasses
import itertools
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from assay_headmap import plain_envelope_fields
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring import fastread
from anchoring.fastread import native_envelope, native_summary, plain_envelope, plain_summary
from anchoring.leaves import read_envelope
from streams.envelope import seal
from tests.anchoring.test_fast_paths import BODIES, EVENT, KEY, SEALED, _mutate_bytes


def _native_summary_alone(body: object) -> Any:
    """The native reading without the Python one behind it."""
    native_summary(BODIES[0])  # makes the reader
    return fastread._summary_reader[0].read(body)


def _same(native: Any, python: Any) -> None:
    assert repr(native) == repr(python)  # order, types, NaN alike
    if native is not None:
        assert [type(v) for v in native[0].values()] == [type(v) for v in python[0].values()]


@settings(max_examples=1500, deadline=None)
@given(data=st.data())
def test_the_native_envelope_is_the_plain_one(data: st.DataObject) -> None:
    message = SEALED if data.draw(st.booleans()) else _mutate_bytes(data, SEALED)
    python = plain_envelope(message)
    fields = plain_envelope_fields(message, fastread.plain_envelope_header())
    assert (fields is None) == (python is None)
    if python is not None:
        assert fields == (python.party_id, python.device_id, python.body, python.signature)
    assert native_envelope(message) == python


@settings(max_examples=1500, deadline=None)
@given(data=st.data())
def test_the_native_summary_is_the_plain_one_on_mutated_bodies(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(BODIES))
    body = original if data.draw(st.booleans()) else _mutate_bytes(data, original)
    _same(_native_summary_alone(body), plain_summary(body))
    _same(native_summary(body), plain_summary(body))


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
EVENTS = st.builds(
    lambda at, attributes, latitude, location: dataclasses.replace(
        EVENT,
        occurred_at=at,
        attributes=attributes,
        latitude=latitude,
        longitude=None if latitude is None else -latitude,
        location=location,
    ),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ),
    st.dictionaries(TEXT, TEXT, max_size=6),
    st.none() | st.floats(-90, 90),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
)


@settings(max_examples=600, deadline=None)
@given(event=EVENTS, data=st.data())
def test_the_native_summary_is_the_plain_one_on_drawn_events(
    event: Any, data: st.DataObject
) -> None:
    body = read_envelope(seal(event, KEY)).body
    if data.draw(st.booleans()):
        body = _mutate_bytes(data, body)
    native, python = _native_summary_alone(body), plain_summary(body)
    _same(native, python)


def test_the_unmutated_bodies_take_the_native_path() -> None:
    for body in BODIES:
        assert _native_summary_alone(body) is not None
    assert plain_envelope_fields(SEALED, fastread.plain_envelope_header()) is not None
    whole_second = read_envelope(
        seal(dataclasses.replace(EVENT, occurred_at=datetime(1, 1, 1, tzinfo=UTC)), KEY)
    ).body
    assert _native_summary_alone(whole_second)[0]["occurred_at"] == "0001-01-01T00:00:00+00:00"


def test_a_map_of_eleven_thousand_keys_reads_alike_and_a_repeated_key_declines() -> None:
    # 11,000 three-letter keys with empty values: ~55 KB, inside the 64 KiB ingest bound
    keys = ["".join(k) for k in itertools.product(string.ascii_lowercase, repeat=3)][:11_000]
    attributes = dict.fromkeys(keys, "")
    body = read_envelope(seal(dataclasses.replace(EVENT, attributes=attributes), KEY)).body
    assert len(body) < 64 * 1024
    native = _native_summary_alone(body)
    assert native is not None and len(native[0]["attributes"]) == 11_000
    _same(native, plain_summary(body))
    last = b"\x06" + keys[-1].encode() + b"\x00"  # its length, the key, an empty value
    at = body.rindex(last)
    for repeated in (keys[0], keys[5_000], keys[-2]):
        twice = body[:at] + b"\x06" + repeated.encode() + body[at + 4 :]
        assert len(twice) == len(body)
        assert _native_summary_alone(twice) is None
        assert plain_summary(twice) is None


def _zigzag(value: int) -> bytes:
    """Avro's long: zig-zag, then seven bits a byte, low group first."""
    n, out = (value << 1) ^ (value >> 63), bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes([*out, n])


def test_the_timestamps_end_where_datetime_ends() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for edge, step, shown in ((datetime.min, -1, "0001-01-01T00:00:00+00:00"),
                              (datetime.max, 1, "9999-12-31T23:59:59.999999+00:00")):  # fmt: skip
        at = edge.replace(tzinfo=UTC)
        body = read_envelope(seal(dataclasses.replace(EVENT, occurred_at=at), KEY)).body
        micros = (at - epoch) // timedelta(microseconds=1)
        assert body.count(_zigzag(micros)) == 1
        native = _native_summary_alone(body)
        assert native is not None and native[0]["occurred_at"] == shown
        _same(native, plain_summary(body))
        past = body.replace(_zigzag(micros), _zigzag(micros + step))
        assert _native_summary_alone(past) is None
        assert plain_summary(past) is None


def test_a_bytearray_or_bytes_subclass_is_left_to_the_python_readers() -> None:
    class Bytes(bytes):
        pass

    header = fastread.plain_envelope_header()
    odds: list[Any] = [bytearray(SEALED), Bytes(SEALED)]  # plain_envelope reads them too
    for odd in odds:
        assert plain_envelope_fields(odd, header) is None
        assert native_envelope(odd) == plain_envelope(odd)
    for odd_body in (bytearray(BODIES[0]), Bytes(BODIES[0]), memoryview(BODIES[0])):
        assert _native_summary_alone(odd_body) is None
