"""The records digest: SHA-256 over ledger records exactly as stored (see anchoring/chain.py:
a block event keeps the digest of its notification range; ``audit`` recomputes it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from assay_headmap import RecordsHasher

RECORDS_DIGEST_DOMAIN = b"assay/ledger-records/v1\x00"


class StoredRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> Any: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class RecordsDigest:
    """SHA-256 over ledger records in notification order, each as :func:`record_bytes`
    lays it out. The hashing is native (native/src/recordsdigest.rs reads a record's
    parts itself where it reads them exactly as :func:`record_bytes` does); a record it
    declines is fed as :func:`record_bytes` spells it, which also raises what it raises."""

    def __init__(self) -> None:
        self._hash = RecordsHasher(RECORDS_DIGEST_DOMAIN)
        self.count = 0

    def update(self, record: StoredRecord) -> None:
        if not self._hash.update(record):
            self._hash.update_bytes(record_bytes(record))
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def record_bytes(record: StoredRecord) -> bytes:
    """A record as the digest hashes it: its id, originator id, originator version, topic
    and state bytes exactly as stored (integers 8-byte signed big-endian, strings UTF-8 and
    every variable part length-prefixed)."""
    originator = str(record.originator_id).encode("utf-8", "surrogatepass")
    topic = record.topic.encode("utf-8", "surrogatepass")
    state = bytes(record.state)
    return b"".join(
        (
            record.id.to_bytes(8, "big", signed=True),
            len(originator).to_bytes(8, "big"),
            originator,
            record.originator_version.to_bytes(8, "big", signed=True),
            len(topic).to_bytes(8, "big"),
            topic,
            len(state).to_bytes(8, "big"),
            state,
        )
    )


def records_digest(records: Iterable[StoredRecord]) -> str:
    digest = RecordsDigest()
    for record in records:
        digest.update(record)
    return digest.hexdigest()
