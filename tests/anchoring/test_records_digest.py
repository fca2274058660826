"""The records digest is SHA-256 over the domain tag and each record as its id, originator
id, version, topic and state exactly as stored (integers 8-byte signed big-endian, every
variable part length-prefixed), spelt out here byte by byte."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from anchoring.records_digest import RECORDS_DIGEST_DOMAIN, RecordsDigest, records_digest


@dataclass(frozen=True)
class _Record:
    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def _spelt(records: list[_Record]) -> str:
    out = hashlib.sha256(RECORDS_DIGEST_DOMAIN)
    for r in records:
        for part in (
            struct.pack(">q", r.id),
            struct.pack(">Q", len(r.originator_id.encode())) + r.originator_id.encode(),
            struct.pack(">q", r.originator_version),
            struct.pack(">Q", len(r.topic.encode())) + r.topic.encode(),
            struct.pack(">Q", len(r.state)) + r.state,
        ):
            out.update(part)
    return out.hexdigest()


def test_the_digest_is_its_byte_layout() -> None:
    records = [
        _Record(1, "urn:item:1", 1, "domain.items:Item.Commissioned", b'{"a":1}'),
        _Record(2, "party-\u00e9", 7, "t", b""),
        _Record(2**40, "", 2**62, "domain.parties:Party.Enrolled", bytes(range(256)) * 3),
    ]
    assert records_digest(records) == _spelt(records)
    digest = RecordsDigest()
    for record in records[:2]:
        digest.update(record)
    assert digest.hexdigest() == _spelt(records[:2]) and digest.count == 2
    assert records_digest([]) == hashlib.sha256(RECORDS_DIGEST_DOMAIN).hexdigest()
    # moving a byte between two variable parts changes the digest
    moved = [_Record(1, "urn:item:1x", 1, "domain.items:Item.Commissioned"[1:], b'{"a":1}')]
    assert records_digest(moved) != records_digest(records[:1])
