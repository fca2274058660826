"""Fuzzing the decoder and the ingest's gate: hostile bytes end as one typed error, bounded.

Truncated, bit-flipped, wrong-magic, wrong-fingerprint, spliced and random messages, and
hand-made Avro that declares lengths, counts or union branches it does not hold: the
decoder raises only ``SerializationError`` with a known code (never another exception),
allocates no more than the message's own size, and the gate (size limit, envelope,
device, signature, body) refuses each with a code the dead-letter topic carries.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from ledger.application import Report
from streams.avro import MAGIC
from streams.deadletter import MAX_KEPT_KEY, MAX_KEPT_VALUE, MAX_LETTER_BYTES, DeadLetter
from streams.envelope import MAX_MESSAGE_BYTES, open_envelope, read_body, seal
from streams.errors import SerializationError
from streams.ingest import Gate, Rejected
from tests.streams import hostile
from tests.streams.hostile import (
    DECODER_CODES,
    GATE_CODES,
    HUGE,
    MUTATIONS,
    avro_bytes,
    raw_body,
    raw_envelope,
    zigzag,
)
from tests.support import World, make_world

KEY = hostile.key_for("brand")
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def decode(message: bytes) -> str | None:
    """Decode as the ingest does; the code of the refusal, or None if it is readable."""
    try:
        read_body(open_envelope(message))
    except SerializationError as e:
        assert e.code in DECODER_CODES, e.code
        assert e.reason
        return e.code
    return None


# ----- the decoder ---------------------------------------------------------------------------


@FUZZ
@given(st.sampled_from(sorted(MUTATIONS)), st.randoms(use_true_random=False))
def test_hostile_messages_fail_only_as_serialization_errors(kind: str, rng: random.Random) -> None:
    message = MUTATIONS[kind](rng, KEY)
    code = decode(message)
    if kind in {"truncated", "wrong_magic", "trailing", "huge_declaration", "overlong_varint"}:
        assert code is not None, message.hex()


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_fail_only_as_serialization_errors(message: bytes) -> None:
    decode(message)
    decode(MAGIC + hostile.ENVELOPE_FP + message)
    decode(raw_envelope(b"p", b"d", MAGIC + hostile.EVENT_V2_FP + message, bytes(64)))


@FUZZ
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8), st.binary(max_size=40))
def test_any_sequence_of_declared_longs_fails_only_as_serialization_errors(
    longs: list[int], tail: bytes
) -> None:
    declared = b"".join(zigzag(n) for n in longs) + tail
    decode(MAGIC + hostile.ENVELOPE_FP + declared)
    decode(raw_envelope(b"p", b"d", MAGIC + hostile.EVENT_V1_FP + declared, bytes(64)))


def _positions() -> Iterator[tuple[str, bytes, bytes]]:
    """(where, bytes before the lie, bytes after it) for every length/count a message has."""
    envelope = [avro_bytes(b"brand"), avro_bytes(b"brand-d1"), avro_bytes(b"x"), avro_bytes(b"s")]
    for at, name in enumerate(["party_id", "device_id", "body", "signature"]):
        yield f"envelope.{name}", MAGIC + hostile.ENVELOPE_FP + b"".join(envelope[:at]), b"abc"
    fields = raw_body(random.Random(0), v2=True)
    names = ["event_id", "item_id", "kind", "party_id", "device_id", "location"]
    for at, name in enumerate(names):
        yield f"body.{name}", MAGIC + hostile.EVENT_V2_FP + b"".join(fields[:at]), b"abc"
    before = MAGIC + hostile.EVENT_V2_FP + b"".join(fields[:7])
    yield "body.counterparty (union branch)", before, b"\x02abc"
    yield "body.counterparty (string)", before + b"\x02", b"abc"
    attributes = MAGIC + hostile.EVENT_V2_FP + b"".join(fields[:15])
    yield "body.attributes (block count)", attributes, b"\x02k\x02v\x00"
    yield "body.attributes (block size)", attributes + zigzag(-1), b"\x02k\x02v\x00"
    yield "body.attributes (key)", attributes + zigzag(1), b"k\x02v\x00"
    yield "body.attributes (value)", attributes + zigzag(1) + avro_bytes(b"k"), b"v\x00"


POSITIONS = list(_positions())


@pytest.mark.parametrize("declared", HUGE)
@pytest.mark.parametrize(("where", "before", "after"), POSITIONS, ids=[p[0] for p in POSITIONS])
def test_a_declared_huge_length_is_refused_without_allocating_it(
    where: str, before: bytes, after: bytes, declared: int
) -> None:
    message = before + zigzag(declared) + after
    if where.startswith("body."):
        message = raw_envelope(b"brand", b"brand-d1", message, bytes(64))
    # Once untraced first: the first decode of a process imports and compiles the readers
    # (hundreds of KiB, whatever the message), which is not what this test measures.
    decode(message)
    tracemalloc.start()
    try:
        code = decode(message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "malformed_body", (where, declared)
    # A few KiB of decoder bookkeeping; never anything near the declared size.
    assert peak < 64 * 1024, (where, declared, peak)


def test_the_largest_body_allocates_in_proportion_to_the_message() -> None:
    """A message at the size limit costs a bounded multiple of its size, not more."""
    attributes = {f"{n:05}": "" for n in range(MAX_MESSAGE_BYTES // 16)}
    key = hostile.key_for("brand")
    message = hostile.signed_body(key, {"attributes": attributes})
    assert len(message) < MAX_MESSAGE_BYTES
    tracemalloc.start()
    try:
        event = read_body(open_envelope(message))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(event.attributes) == len(attributes)
    assert peak < 64 * len(message), peak  # Python dict/str overhead for 4k tiny entries


def test_an_unsigned_but_readable_message_still_decodes() -> None:
    """The fuzz targets are not vacuous: valid messages and their envelopes do decode."""
    rng = random.Random(1)
    for _ in range(50):
        assert decode(hostile.valid(rng, KEY)) is None


# ----- the gate (size, envelope, device, signature, body) -----------------------------------


@dataclass
class Record:
    value: bytes | None
    key: bytes | None = None
    topic: str = "custody.events"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    world = make_world(tmp_path_factory.mktemp("fuzz-gate"))
    # Deterministic keys, so the generators can sign as the enrolled brand device.
    world.ledger.register_party("fuzz-brand", "Fuzz Brand", world.ledger.get_party("brand").role)
    key = hostile.key_for("fuzz-brand")
    world.ledger.enrol_device("fuzz-brand", key.device_id, key.public_key_hex, at=hostile.T0)
    world.keys["fuzz-brand"] = key
    return world


def gate_refusal(gate: Gate, record: Record) -> str | None:
    try:
        gate.verify(record, {})
    except Rejected as r:
        assert r.code in GATE_CODES, r.code
        assert r.reason
        return r.code
    return None


@FUZZ
@given(
    st.sampled_from(sorted(MUTATIONS)),
    st.randoms(use_true_random=False),
    st.one_of(st.none(), st.binary(max_size=40)),
)
def test_the_gate_refuses_every_hostile_message_with_a_code(
    world: World, kind: str, rng: random.Random, key: bytes | None
) -> None:
    # Mutations of messages the enrolled key signed: they reach the device and body checks.
    message = MUTATIONS[kind](rng, world.keys["fuzz-brand"])
    assert gate_refusal(Gate(world.ledger), Record(message, key)) is not None, message.hex()


@FUZZ
@given(st.randoms(use_true_random=False))
def test_signed_hostile_bodies_are_refused_or_applied_never_crash(
    world: World, rng: random.Random
) -> None:
    """An enrolled device signs nonsense: the gate refuses it, or the ledger decides."""
    gate = Gate(world.ledger)
    record, message = hostile.signed_hostile(rng, world.keys["fuzz-brand"])
    try:
        report = gate.verify(Record(message), {})
    except Rejected as r:
        assert r.code in GATE_CODES, r.code
        return
    assert isinstance(report, Report)
    try:
        (decision,) = world.ledger.process([report], None)
    except DomainError:  # pragma: no cover - the ledger reports refusals as decisions
        pytest.fail(f"{record!r} raised instead of being refused")
    assert decision.outcome is not None or decision.refusal is not None


def test_an_oversized_message_is_refused_before_it_is_decoded(world: World) -> None:
    key = world.keys["fuzz-brand"]
    event = hostile.sample_event(random.Random(2), "fuzz-brand")
    message = seal(event, key)
    assert gate_refusal(Gate(world.ledger), Record(message, event.item_id.encode())) is None
    limit = len(message) + len(event.item_id) - 1
    small = Gate(world.ledger, max_message_bytes=limit)
    assert gate_refusal(small, Record(message, event.item_id.encode())) == "oversized"
    # Unread: bytes that would be refused as malformed are refused for their size first,
    # and a huge declared length costs nothing.
    garbage = MAGIC + hostile.ENVELOPE_FP + zigzag(2**62) + bytes(limit)
    assert gate_refusal(small, Record(garbage)) == "oversized"
    assert gate_refusal(Gate(world.ledger), Record(garbage)) == "malformed_body"
    default = Gate(world.ledger)
    assert gate_refusal(default, Record(bytes(MAX_MESSAGE_BYTES + 1))) == "oversized"
    assert gate_refusal(default, Record(b"", bytes(MAX_MESSAGE_BYTES + 1))) == "oversized"
    assert gate_refusal(default, Record(bytes(MAX_MESSAGE_BYTES))) == "not_single_object"
    with pytest.raises(ValueError):
        Gate(world.ledger, max_message_bytes=0)


def test_the_size_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.settings import SettingsError, load_settings

    monkeypatch.chdir(tmp_path)  # no assay.toml
    assert load_settings({}).max_message_bytes == MAX_MESSAGE_BYTES
    assert load_settings({"ASSAY_MAX_MESSAGE_BYTES": "1000"}).max_message_bytes == 1000
    (tmp_path / "assay.toml").write_text("max_message_bytes = 2048\n")
    assert load_settings({}).max_message_bytes == 2048
    with pytest.raises(SettingsError):
        load_settings({"ASSAY_MAX_MESSAGE_BYTES": "0"})


# ----- dead letters of any size fit in one Kafka request ------------------------------------


def test_a_dead_letter_keeps_the_exact_bytes_of_anything_up_to_four_mebibytes() -> None:
    value, key = random.Random(3).randbytes(MAX_KEPT_VALUE), b"k" * MAX_KEPT_KEY
    letter = DeadLetter("oversized", "r", "t", 0, 1, 2, key, value)
    back = DeadLetter.from_json(letter.to_json())
    assert (back.value, back.key, back.truncated) == (value, key, False)
    assert len(letter.to_json()) < MAX_LETTER_BYTES  # the rejected topic's message limit


def test_a_bigger_message_is_kept_as_its_first_bytes_its_length_and_its_hash() -> None:
    import hashlib

    value = random.Random(4).randbytes(MAX_LETTER_BYTES)
    key = b"K" * (MAX_KEPT_KEY + 1)
    letter = DeadLetter("oversized", "why " * 10_000, "t", 0, 1, 2, key, value)
    raw = letter.to_json()
    assert len(raw) < MAX_LETTER_BYTES  # the rejected topic's max.message.bytes
    back = DeadLetter.from_json(raw)
    assert back.truncated and back.value == value[:MAX_KEPT_VALUE]
    assert (back.value_length, back.value_sha256) == (len(value), hashlib.sha256(value).hexdigest())
    assert (back.key_length, back.key_sha256) == (len(key), hashlib.sha256(key).hexdigest())
    assert back.key == key[:MAX_KEPT_KEY] and len(back.reason) <= 2000
    assert DeadLetter.from_json(back.to_json()) == back  # re-publishing changes nothing


def test_the_mutations_reach_every_check_of_the_gate(world: World) -> None:
    """Not shallow: seeded mutations of signed messages are refused at every step."""
    rng, gate = random.Random(5), Gate(world.ledger)
    seen: dict[str | None, int] = {}
    for n in range(3000):
        kind = sorted(MUTATIONS)[n % len(MUTATIONS)]
        code = gate_refusal(gate, Record(MUTATIONS[kind](rng, world.keys["fuzz-brand"])))
        seen[code] = seen.get(code, 0) + 1
    assert None not in seen
    assert set(seen) >= {
        "not_single_object",
        "unknown_schema",
        "wrong_schema",
        "malformed_body",
        "unknown_party",
        "device_not_enrolled",
        "bad_signature",
    }, seen
