"""The records digest is SHA-256 over the domain tag and each record as its id, originator
id, version, topic and state exactly as stored (integers 8-byte signed big-endian, every
variable part length-prefixed), spelt out here byte by byte; the native hashing of a record
(native/src/recordsdigest.rs) gives what hashing ``record_bytes`` gives, or hands the record
to it (and its error)."""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from assay_headmap import RecordsHasher
from hypothesis import example, given, settings
from hypothesis import strategies as st

from anchoring.records_digest import (
    RECORDS_DIGEST_DOMAIN,
    RecordsDigest,
    record_bytes,
    records_digest,
)


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


@dataclass(frozen=True)
class _Loose:
    """A record whose parts may be of any type."""

    id: Any
    originator_id: Any
    originator_version: Any
    topic: Any
    state: Any


class _Text(str):
    pass


class _Number(int):
    pass


_INTS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.integers(0, 9).map(_Number),
)
_TEXTS = st.one_of(
    st.text(),  # lone surrogates included
    st.text(max_size=5).map(_Text),
    st.uuids(),
    st.integers(0, 9),
)
_STATES = st.one_of(st.binary(), st.binary().map(bytearray), st.binary().map(memoryview))


def _outcome(records: list[_Loose], native: bool) -> tuple[str, int] | str:
    """The hex digest and count, or the error's type."""
    try:
        if native:
            digest = RecordsDigest()
            for record in records:
                digest.update(record)
            return digest.hexdigest(), digest.count
        out = hashlib.sha256(RECORDS_DIGEST_DOMAIN)
        for record in records:
            out.update(record_bytes(record))
        return out.hexdigest(), len(records)
    except Exception as e:
        return type(e).__name__


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            _Loose, _INTS, _TEXTS, _INTS, st.one_of(st.text(), st.text().map(_Text)), _STATES
        ),
        max_size=4,
    )
)
@example([_Loose(2**63, "a", 1, "t", b"")])  # does not fit: OverflowError both ways
@example([_Loose(1, "\udc80", True, _Text("t"), memoryview(b"x"))])
@example([_Loose(1, uuid.UUID(int=7), 2, "t", b"{}"), _Loose(2, "b", 3, "\u00e9", b"")])
def test_the_native_hashing_is_the_reference_layout(records: list[_Loose]) -> None:
    assert _outcome(records, native=True) == _outcome(records, native=False)


def test_plain_records_are_hashed_natively_and_others_handed_back() -> None:
    hasher = RecordsHasher(b"")
    assert hasher.update(_Record(1, "urn:item:1", 1, "t", b"{}"))
    assert (
        hasher.hexdigest()
        == hashlib.sha256(record_bytes(_Record(1, "urn:item:1", 1, "t", b"{}"))).hexdigest()
    )
    for odd in (
        _Loose(1, uuid.UUID(int=1), 1, "t", b""),
        _Loose(1, "a", True, "t", b""),
        _Loose(1, "a", 1, "\udc80", b""),
        _Loose(1, "a", 1, "t", bytearray(b"")),
        _Loose(2**63, "a", 1, "t", b""),
    ):
        assert not hasher.update(odd)
    assert (
        hasher.hexdigest()
        == hashlib.sha256(record_bytes(_Record(1, "urn:item:1", 1, "t", b"{}"))).hexdigest()
    )
