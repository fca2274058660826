"""Hostile custody-event messages, shared by the decoder fuzz tests and the ingest fuzz run.

Every generator takes a ``random.Random``: hypothesis drives it through ``st.randoms()``
(so failures shrink and replay), the Kafka run through a seeded one (so it is repeatable).
Nothing here is valid: each message must end in the dead-letter topic with a code.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastavro import parse_schema, schemaless_writer
from nacl.signing import SigningKey

from domain.custody import CustodyEvent, Kind
from streams.avro import HEADER_LEN, MAGIC, default_registry
from streams.envelope import ENVELOPE_SCHEMA, EVENT_SCHEMA, seal
from streams.keys import DeviceKey

REGISTRY = default_registry()
ENVELOPE_FP = REGISTRY.get(ENVELOPE_SCHEMA).fingerprint
EVENT_V1_FP = REGISTRY.get(EVENT_SCHEMA, 1).fingerprint
EVENT_V2_FP = REGISTRY.get(EVENT_SCHEMA, 2).fingerprint
FINGERPRINTS = (ENVELOPE_FP, EVENT_V1_FP, EVENT_V2_FP)
T0 = datetime(2026, 1, 1, tzinfo=UTC)

#: Codes the decoder (streams.avro / streams.envelope) may raise.
DECODER_CODES = {
    "not_single_object",
    "unknown_schema",
    "wrong_schema",
    "malformed_body",
    "invalid_event",
}
#: Codes the ingest's gate may raise before the ledger sees a report.
GATE_CODES = DECODER_CODES | {
    "oversized",
    "unknown_party",
    "device_not_enrolled",
    "bad_signature",
    "envelope_mismatch",
    "key_mismatch",
}
#: Declared lengths and counts no honest message has (zig-zag longs, so negative too).
HUGE = (2**20, 2**31 - 1, 2**31, 2**32, 2**40, 2**53, 2**62, 2**63 - 1, -1, -(2**62), -(2**63))


def zigzag(value: int) -> bytes:
    """Avro's long: zig-zag, then base-128 varint (any 64-bit signed value)."""
    z = ((value << 1) ^ (value >> 63)) & (2**64 - 1)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def avro_bytes(data: bytes) -> bytes:
    return zigzag(len(data)) + data


def key_for(party: str, seed: str | None = None) -> DeviceKey:
    raw = (seed or party).encode().ljust(32, b".")[:32]
    return DeviceKey(party, f"{party}-d1", SigningKey(raw))


def sample_event(rng: random.Random, party: str = "brand") -> CustodyEvent:
    n = rng.randrange(10**6)
    located = rng.random() < 0.5
    return CustodyEvent(
        event_id=f"urn:fuzz:{n}#e",
        item_id=f"urn:fuzz:{n}",
        kind=Kind.OBSERVING,
        party_id=party,
        device_id=f"{party}-d1",
        location=f"loc-{n}",
        occurred_at=T0 + timedelta(seconds=n),
        latitude=rng.uniform(-90, 90) if located else None,
        longitude=rng.uniform(-180, 180) if located else None,
        attributes={f"k{i}": "v" * rng.randrange(5) for i in range(rng.randrange(3))},
    )


def valid(rng: random.Random, key: DeviceKey) -> bytes:
    return seal(sample_event(rng, key.party_id), key, schema_version=rng.choice([1, 2]))


# ----- hand-made Avro: envelopes and bodies that declare what they do not hold ------------


def raw_envelope(party: bytes, device: bytes, body: bytes, signature: bytes) -> bytes:
    fields = (party, device, body, signature)
    return MAGIC + ENVELOPE_FP + b"".join(avro_bytes(f) for f in fields)


def raw_body(rng: random.Random, v2: bool = True) -> list[bytes]:
    """A CustodyEvent v1/v2 body as a list of encoded fields (so one can be swapped)."""
    strings = [b"e1", b"urn:fuzz:1", b"observing", b"brand", b"brand-d1", b"loc"]
    fields = [avro_bytes(s) for s in strings]
    fields.append(zigzag(int((T0 - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)))
    fields += [b"\x00"] * 8  # eight optional strings, all null (union branch 0)
    fields.append(zigzag(1) + avro_bytes(b"k") + avro_bytes(b"v") + b"\x00")  # attributes
    if v2:
        fields += [b"\x00", b"\x00"]  # latitude, longitude: null
    return fields


def huge_declaration(rng: random.Random, key: DeviceKey) -> bytes:
    """An envelope or body where one length, count, union index or block declares a lie."""
    lie = zigzag(rng.choice(HUGE) if rng.random() < 0.8 else rng.randrange(-(2**63), 2**63))
    tail = rng.randbytes(rng.randrange(0, 64))
    if rng.random() < 0.4:  # in the envelope: one of its four length prefixes
        parts = [avro_bytes(b"brand"), avro_bytes(b"brand-d1"), avro_bytes(b"x"), avro_bytes(b"s")]
        at = rng.randrange(4)
        return MAGIC + ENVELOPE_FP + b"".join(parts[:at]) + lie + tail
    fields = raw_body(rng, v2=rng.random() < 0.5)
    at = rng.randrange(len(fields))
    if at == 15 and rng.random() < 0.5:  # attributes: a huge block count, or count + size
        fields[at] = lie + (zigzag(rng.randrange(1 << 20)) if rng.random() < 0.5 else b"")
    else:
        fields[at] = lie
    body = (EVENT_V2_FP if len(fields) == 18 else EVENT_V1_FP) + b"".join(fields[: at + 1]) + tail
    return raw_envelope(b"brand", b"brand-d1", MAGIC + body, bytes(64))


def overlong_varint(rng: random.Random, key: DeviceKey) -> bytes:
    """Continuation bits that never stop, or stop after more than ten bytes."""
    run = bytes([0x80 | rng.randrange(128) for _ in range(rng.randrange(10, 200))])
    end = b"" if rng.random() < 0.5 else bytes([rng.randrange(128)])
    prefix = avro_bytes(b"brand") if rng.random() < 0.5 else b""
    return MAGIC + ENVELOPE_FP + prefix + run + end


# ----- mutations of valid messages -------------------------------------------------------


def truncated(rng: random.Random, key: DeviceKey) -> bytes:
    message = valid(rng, key)
    return message[: rng.randrange(len(message))]


def bit_flipped(rng: random.Random, key: DeviceKey) -> bytes:
    message = bytearray(valid(rng, key))
    bits = rng.sample(range(len(message) * 8), rng.randrange(1, 9))  # distinct: none undone
    for bit in bits:
        message[bit // 8] ^= 1 << (bit % 8)
    return bytes(message)


def wrong_magic(rng: random.Random, key: DeviceKey) -> bytes:
    message = valid(rng, key)
    magic = rng.randbytes(2)
    while magic == MAGIC:
        magic = rng.randbytes(2)
    return magic + message[2:]


def wrong_fingerprint(rng: random.Random, key: DeviceKey) -> bytes:
    message = valid(rng, key)
    choice = rng.random()
    if choice < 0.4:  # a fingerprint no schema has
        return message[:2] + rng.randbytes(8) + message[HEADER_LEN:]
    if choice < 0.7:  # a custody_event fingerprint on an envelope
        return message[:2] + rng.choice([EVENT_V1_FP, EVENT_V2_FP]) + message[HEADER_LEN:]
    # the body's own fingerprint swapped for the other version's or the envelope's
    envelope = bytearray(message)
    at = message.index(MAGIC, HEADER_LEN)
    current = message[at + 2 : at + HEADER_LEN]
    envelope[at + 2 : at + HEADER_LEN] = rng.choice([f for f in FINGERPRINTS if f != current])
    return bytes(envelope)


def spliced(rng: random.Random, key: DeviceKey) -> bytes:
    a, b = valid(rng, key), valid(rng, key)
    while True:  # a splice at the very start of both is just b again
        cut_a, cut_b = rng.randrange(len(a)), rng.randrange(len(b))
        out = a[:cut_a] + rng.randbytes(rng.randrange(8)) + b[cut_b:]
        if out not in (a, b):
            return out


def trailing(rng: random.Random, key: DeviceKey) -> bytes:
    return valid(rng, key) + rng.randbytes(rng.randrange(1, 16))


def random_bytes(rng: random.Random, key: DeviceKey) -> bytes:
    size = rng.choice([0, 1, 2, 9, 10, 11, rng.randrange(512)])
    prefix = rng.choice([b"", MAGIC, MAGIC + rng.choice(FINGERPRINTS)])
    return prefix + rng.randbytes(size)


#: Mutations of messages ``key`` signed (or made from nothing): none is readable and valid.
MUTATIONS: dict[str, Callable[[random.Random, DeviceKey], bytes]] = {
    "random": random_bytes,
    "truncated": truncated,
    "bit_flipped": bit_flipped,
    "wrong_magic": wrong_magic,
    "wrong_fingerprint": wrong_fingerprint,
    "huge_declaration": huge_declaration,
    "overlong_varint": overlong_varint,
    "spliced": spliced,
    "trailing": trailing,
}


# ----- validly signed by an enrolled device, but the body is hostile ----------------------

_RAW_V2 = parse_schema(
    {
        "type": "record",
        "name": "dev.assay.custody.CustodyEvent",
        "fields": [
            {**f, "type": "long"} if f["name"] == "occurred_at" else f
            for f in REGISTRY.get(EVENT_SCHEMA, 2).schema["fields"]
        ],
    }
)


def signed_body(key: DeviceKey, record: dict[str, Any]) -> bytes:
    """Any CustodyEvent v2 record (occurred_at as raw micros), signed by ``key``."""
    out = io.BytesIO()
    out.write(MAGIC + EVENT_V2_FP)
    base: dict[str, Any] = {
        "event_id": "e",
        "item_id": "urn:fuzz:signed",
        "kind": "observing",
        "party_id": key.party_id,
        "device_id": key.device_id,
        "location": "loc",
        "occurred_at": 1_767_225_600_000_000,
        "attributes": {},
    }
    schemaless_writer(out, _RAW_V2, {**base, **record})
    body = out.getvalue()
    return raw_envelope(key.party_id.encode(), key.device_id.encode(), body, key.sign(body))


def signed_hostile(rng: random.Random, key: DeviceKey) -> tuple[dict[str, Any], bytes]:
    """A body an enrolled device signed whose content no honest scanner writes."""
    text = rng.choice(["", "\x00", "a\x00b", "\u202e\ufeff", "\U0001f45c" * 50, "x" * 4000])
    field = rng.choice(["event_id", "item_id", "kind", "location", "counterparty", "reason"])
    choices: list[dict[str, Any]] = [
        {field: text},
        {"kind": rng.choice(["teleporting", "OBSERVING", "observing ", ""])},
        {"occurred_at": rng.choice([2**62, -(2**62), 2**63 - 1, -(2**63), 0, -1])},
        {"latitude": rng.choice([float("nan"), float("inf"), 91.0, -1e308]), "longitude": 0.0},
        {"latitude": 10.0},  # without a longitude
        {"verdict": rng.choice(["GENUINE", "fake", "\x00"]), "kind": "inspecting"},
        {"reason": "vanished", "kind": "decommissioning"},
        {"party_id": "lab"},  # the body claims another party than the envelope
        {"item_id": "tag:" + text},
        {"attributes": {str(i): "\x00" * (i % 3) for i in range(rng.randrange(1, 500))}},
    ]
    record = rng.choice(choices)
    return record, signed_body(key, record)
