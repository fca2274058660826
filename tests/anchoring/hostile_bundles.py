"""Bundle vectors for inputs that lenient parsers and libraries read differently.

``make_bundle_vectors.py`` adds these to the vectors it writes. Each is built so that a
verifier reading leniently (Python's ``json``, ``JSON.parse``, fastavro; Ed25519 libraries
in ``hostile_signatures.py``) accepts it, or fails at another step, while the rules of
docs/proof-bundle.md (§2.1 strict JSON, §4.7 canonical Avro, §4.8 Ed25519) refuse it at the
step named:

* raw input (``bundle_b64``: the exact bytes a verifier is given): NaN, a lone surrogate,
  a duplicate key, ``1.0``/``true`` as the version, a byte-order mark, trailing garbage,
  invalid UTF-8, deep nesting, numbers no double holds; and what stays valid at the limits;
* a flag record holding an escaped lone surrogate;
* envelopes whose Avro body is not canonically encoded, signed by an enrolled device;
* (in ``hostile_signatures.py``) Ed25519 keys and signatures of small order,
  non-canonical, or with a torsion component, in a device listing, a pinned key, the
  platform key and the checkpoint's signature.

Envelopes with odd content are anchored by :func:`tests.server.forge.forge` (one block,
signed by its own platform key): only the content checks can fail.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import random
import struct
from datetime import UTC, datetime
from typing import Any

from fastavro import schemaless_reader

from anchoring.leaves import signed_fields
from domain.custody import CustodyEvent, Kind
from streams.avro import HEADER_LEN, default_registry
from streams.envelope import EVENT_SCHEMA, custody_to_avro
from streams.keys import DeviceKey
from tests.server import forge
from tests.streams.hostile import avro_bytes, zigzag

Vector = dict[str, Any]
ITEM = "urn:epc:id:sgtin:4012345.08.7"


def vector_input(vector: Vector) -> bytes:
    """The exact bytes a verifier is given: ``bundle_b64``, or else ``bundle`` as JSON."""
    if "bundle_b64" in vector:
        return base64.b64decode(vector["bundle_b64"], validate=True)
    return json.dumps(vector["bundle"]).encode()


def make_vector(desc: str, want: str | None, **fields: Any) -> Vector:
    return {"desc": desc, "want_err": want, "device_keys": None, **fields}


def _raw(data: bytes) -> dict[str, str]:
    return {"bundle_b64": base64.b64encode(data).decode("ascii")}


# ----- strict JSON ---------------------------------------------------------------------------

_MARK = "@@raw@@"


def _text_with(bundle: Vector, where: tuple[Any, ...], raw: str) -> str:
    """The bundle as JSON text with the value at ``where`` written as ``raw`` (any text)."""
    out = copy.deepcopy(bundle)
    node = out
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = _MARK
    text = json.dumps(out)
    assert text.count(f'"{_MARK}"') == 1
    return text.replace(f'"{_MARK}"', raw)


def json_vectors(happy: Vector, platform_key: str) -> dict[str, Vector]:
    """Raw-input variants of the valid bundle ``happy`` (item A)."""
    text = json.dumps(happy)
    listing = ("devices", "lab/lab-d1", "party_name")  # informational: no check reads it
    last = len(happy["events"]) - 1
    sold = happy["events"][last]["summary"]
    assert sold["kind"] == "retail_selling"
    out: dict[str, tuple[str, str | None, bytes]] = {
        "nan-latitude": (
            "a summary with latitude and longitude NaN (not JSON; Python's json reads it)",
            "bundle_format",
            _text_with(happy, ("events", 1, "summary", "latitude"), "NaN")
            .replace('"verdict"', '"longitude": -Infinity, "verdict"', 1)
            .encode(),
        ),
        "nan-in-unknown-field": (
            "an extra top-level member whose value is NaN: ignored members are read too",
            "bundle_format",
            _text_with({**happy, "note": None}, ("note",), "NaN").encode(),
        ),
        "lone-surrogate": (
            "the lab's listed party name is an escaped lone surrogate (\\ud800): not Unicode",
            "bundle_format",
            _text_with(happy, listing, '"Lab \\ud800"').encode(),
        ),
        "escaped-surrogate-pair": (
            "valid: the lab's listed party name holds an escaped surrogate pair (U+1F600)",
            None,
            _text_with(happy, listing, '"Lab \\ud83d\\ude00"').encode(),
        ),
        "duplicate-key": (
            "the sale's summary names its kind twice, decommissioning then the signed "
            "retail_selling (a lenient reader keeps the last and verifies)",
            "bundle_format",
            _text_with(
                happy,
                ("events", last, "summary", "kind"),
                '"decommissioning", "kind": "retail_selling"',
            ).encode(),
        ),
        "version-float": (
            'the bundle version written as 1.0, which is not an integer ("version": 1.0)',
            "bundle_format",
            _text_with(happy, ("version",), "1.0").encode(),
        ),
        "version-bool": (
            'the bundle version written as true ("version": true)',
            "bundle_format",
            _text_with(happy, ("version",), "true").encode(),
        ),
        "bom": (
            "the bundle's UTF-8 bytes start with a byte-order mark (EF BB BF)",
            "bundle_format",
            b"\xef\xbb\xbf" + text.encode(),
        ),
        "trailing-garbage": (
            "a second value after the bundle's closing brace",
            "bundle_format",
            text.encode() + b"\n{}",
        ),
        "invalid-utf8": (
            "a byte FF (never UTF-8) inside the lab's listed party name",
            "bundle_format",
            _text_with(happy, listing, '"Lab \xff"').encode("latin-1"),
        ),
        "deep-nesting": (
            "an extra member holding arrays nested 10000 deep (Python's json overflows)",
            "bundle_format",
            _text_with({**happy, "note": None}, ("note",), "[" * 10_000 + "]" * 10_000).encode(),
        ),
        "nesting-at-limit": (
            "valid: an extra member whose arrays bring the nesting to exactly 64 levels",
            None,
            _text_with({**happy, "note": None}, ("note",), "[" * 63 + "]" * 63).encode(),
        ),
        "nesting-over-limit": (
            "an extra member whose arrays bring the nesting to 65 levels",
            "bundle_format",
            _text_with({**happy, "note": None}, ("note",), "[" * 64 + "]" * 64).encode(),
        ),
        "unsafe-integer": (
            "an extra member holding 2**53 + 1, which JavaScript cannot read exactly",
            "bundle_format",
            _text_with({**happy, "note": None}, ("note",), "9007199254740993").encode(),
        ),
        "huge-number": (
            "an extra member holding 1e400, infinite as a double",
            "bundle_format",
            _text_with({**happy, "note": None}, ("note",), "1e400").encode(),
        ),
    }
    return {
        name: make_vector(desc, want, platform_key=platform_key, **_raw(data))
        for name, (desc, want, data) in out.items()
    }


def json_fuzz_texts(seed: int, count: int) -> list[str]:
    """JSON-ish texts: valid documents with a few characters changed, inserted or cut."""
    rng = random.Random(seed)
    alphabet = [*'[]{}",:\\ 0123456789-+.eEtrufalsn\tu\U0001f600é', "\\ud800", "\\u", "NaN"]
    base = [
        '{"a": [1, 2.5, "x\\"y"], "b": {"c": null, "d": true}}',
        '[{"k": "\\u006b", "v": -0}, [], {}, "\\ud83d\\ude00"]',
        '{"n": 9007199254740991, "f": 1e308, "s": "tab\\tend"}',
        "[" * 62 + "1" + "]" * 62,
    ]
    out = []
    for _ in range(count):
        text = list(rng.choice(base))
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(text) + 1)
            action = rng.random()
            if action < 0.4 and text:
                text[min(at, len(text) - 1)] = rng.choice(alphabet)
            elif action < 0.8:
                text.insert(at, rng.choice(alphabet))
            else:
                del text[at : at + rng.randrange(1, 4)]
        out.append("".join(text))
    return out


def forged(bundle: Vector) -> dict[str, Any]:
    """The fields of a vector for a bundle made by :func:`tests.server.forge.forge`."""
    return {"bundle": bundle, "platform_key": forge.SIGNER.verifier_text()}


# ----- canonical Avro ------------------------------------------------------------------------


def item_event(n: int, **details: Any) -> CustodyEvent:
    return CustodyEvent(
        event_id=f"{ITEM}#{n}",
        item_id=ITEM,
        kind=Kind.COMMISSIONING,
        party_id="brand",
        device_id="brand-d1",
        location="urn:epc:id:sgln:4012345.brand.0",
        occurred_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        tag_uid="NFC-H",
        brand="Maison",
        model="Sac 25",
        serial=f"H-{n}",
        **details,
    )


def body_fields(event: CustodyEvent) -> list[bytes]:
    """The canonical v2 body of ``event``, one encoded field per entry (to respell one)."""
    record = custody_to_avro(event)
    fields = [avro_bytes(record[name].encode()) for name in _STRINGS]
    micros = (event.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
    fields.append(zigzag(micros))
    for name in _OPTIONAL_STRINGS:
        value = record[name]
        fields.append(b"\x00" if value is None else b"\x02" + avro_bytes(value.encode()))
    attributes = record["attributes"]
    pairs = b"".join(avro_bytes(k.encode()) + avro_bytes(v.encode()) for k, v in attributes.items())
    fields.append(zigzag(len(attributes)) + pairs + b"\x00" if attributes else b"\x00")
    for name in ("latitude", "longitude"):
        value = record[name]
        fields.append(b"\x00" if value is None else b"\x02" + struct.pack("<d", value))
    return fields


_STRINGS = ("event_id", "item_id", "kind", "party_id", "device_id", "location")
_OPTIONAL_STRINGS = (
    "counterparty",
    "tag_uid",
    "brand",
    "model",
    "serial",
    "verdict",
    "certificate",
    "buyer_ref",
    "reason",
)
_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
_TAG_UID = 1 + len(_STRINGS) + _OPTIONAL_STRINGS.index("tag_uid")
_ATTRIBUTES = 1 + len(_STRINGS) + len(_OPTIONAL_STRINGS)


#: The body version these respellings spell out field by field: the one writers emit for
#: everyday events (v3 only adds the fields of error declarations).
SPELLED_VERSION = 2


def _body(fields: list[bytes]) -> bytes:
    fingerprint = default_registry().get(EVENT_SCHEMA, SPELLED_VERSION).fingerprint
    return b"\xc3\x01" + fingerprint + b"".join(fields)


def lenient_summary(body: bytes) -> dict[str, Any]:
    """What an Avro reader that accepts any spelling (fastavro) makes of ``body``."""
    writer = default_registry().get(EVENT_SCHEMA, SPELLED_VERSION)
    return signed_fields(schemaless_reader(io.BytesIO(body[HEADER_LEN:]), writer.schema, None))


def respellings() -> dict[str, tuple[str, bytes]]:
    """Bodies fastavro reads as a valid event that are not its canonical encoding."""
    event = item_event(1, attributes={"a": "1", "b": "2"})
    canonical = body_fields(event)
    # The fields are what a writer emits.
    assert _body(canonical) == forge.body_bytes(event, SPELLED_VERSION)
    length = len(event.event_id.encode()) << 1  # the zig-zag varint of event_id's length

    def respelled(at: int, spelling: bytes) -> bytes:
        return _body([*canonical[:at], spelling, *canonical[at + 1 :]])

    event_id = event.event_id.encode()
    pairs = [avro_bytes(k.encode()) + avro_bytes(v.encode()) for k, v in (("a", "1"), ("b", "2"))]
    return {
        "negative-union-index": (
            "tag_uid's union branch written as -1 (fastavro counts it from the end: string)",
            respelled(_TAG_UID, b"\x01" + canonical[_TAG_UID][1:]),
        ),
        "overlong-varint": (
            "event_id's length as an 11-byte varint (redundant groups past 10 bytes)",
            respelled(0, bytes([length | 0x80]) + b"\x80" * 9 + b"\x00" + event_id),
        ),
        "non-minimal-varint": (
            "event_id's length as a 3-byte varint with redundant groups",
            respelled(0, bytes([length | 0x80, 0x80, 0x00]) + event_id),
        ),
        "varint-beyond-64-bits": (
            "event_id's length as a 10-byte varint whose last byte is 2 (bit 64: a reader "
            "that wraps at 64 bits reads the right length)",
            respelled(0, bytes([length | 0x80]) + b"\x80" * 8 + b"\x02" + event_id),
        ),
        "map-in-two-blocks": (
            "the attributes map written as two blocks of one pair each",
            respelled(_ATTRIBUTES, b"\x02" + pairs[0] + b"\x02" + pairs[1] + b"\x00"),
        ),
        "map-negative-count": (
            "the attributes map as one block of count -2 with its byte size",
            respelled(
                _ATTRIBUTES,
                zigzag(-2) + zigzag(len(pairs[0] + pairs[1])) + b"".join(pairs) + b"\x00",
            ),
        ),
        "map-repeated-key": (
            "the attributes map names the key a twice",
            respelled(_ATTRIBUTES, b"\x04" + pairs[0] + pairs[0] + b"\x00"),
        ),
    }


def avro_vectors(brand: DeviceKey) -> dict[str, Vector]:
    out = {}
    for name, (desc, body) in respellings().items():
        bundle = forge.forge(
            ITEM,
            [forge.Forged("E", forge.envelope(body, brand), summary=lenient_summary(body))],
            [brand],
        )
        out[name] = make_vector(
            f"{desc}; signed by brand/brand-d1", "envelope_format", **forged(bundle)
        )
    return out


def flag_vectors() -> dict[str, Vector]:
    """A platform record (§4.2) is read as strict JSON too."""
    record = (
        b'{"detail":"seen","evidence_event_id":"\\ud800","evidence_sha256":null,'
        b'"signal":"unknown_item","type":"flag"}'
    )
    summary = {"flag": "unknown_item", "detail": "seen"}
    bundle = forge.forge(ITEM, [forge.Forged("P", record, summary=summary)], [])
    return {
        "lone-surrogate-in-flag": make_vector(
            "a flag record whose evidence_event_id is an escaped lone surrogate, written as "
            "JSON.stringify escapes it (so a page re-serializing it gets the same bytes)",
            "platform_body",
            **forged(bundle),
        )
    }


def hostile_vectors(happy: Vector, platform_key: str, brand: DeviceKey) -> dict[str, Vector]:
    """The strict-JSON variants of ``happy`` (a valid bundle, pinned with ``platform_key``)
    and the non-canonical Avro bodies signed by ``brand`` (hostile_signatures.py has the
    Ed25519 ones)."""
    return {**json_vectors(happy, platform_key), **flag_vectors(), **avro_vectors(brand)}
