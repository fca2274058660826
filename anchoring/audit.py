"""``audit``: recompute every leaf, root, header link and checkpoint from the stores.

The audit trusts nothing derived: leaves are recomputed from the ledger's stored events
(exact envelope bytes, per-item hash chain), roots from the leaves, block hashes from the
headers, accumulator roots from the block hashes, the two chain indexes from the blocks,
and checkpoint signatures with the platform key. Blocks must cover the ledger's
notification log contiguously from notification 1. It stops at the first divergence and
says where it is: block height, leaf index, item and version, ledger notification id or
chain record id. Damage that makes a record unreadable (bad UTF-8, bad JSON, an unknown
topic) is such a divergence, never an exception.

Beyond the hashes, every stored record of both stores must be exactly what its
application writes for the event it decodes to (so a byte that decodes to the same event
still counts), notification ids must run 1, 2, 3, … with no gap where the backend
guarantees it (SQLite), every aggregate's versions must run 1, 2, 3, …, and the parts
of a stored event that repeat signed data must agree with it: the decoded custody copy
with its envelope, the envelope with its device's enrolled key (signature), a tag claim
with its item's commissioning.

Every block also stores a digest of the exact ledger records of its notification range
(``records_digest``, see anchoring/chain.py), leafless records included; the audit
recomputes it, so any byte of a sealed ledger record — the ``timestamp`` eventsourcing
stores with every event, a party's name and role, an enrolment time — is vouched for.
A mismatch is reported after every other check has passed (a more precise divergence
wins), naming the block and its notification range, not the record: the digest is one
hash over the range. The digest sits in the chain store beside the block, outside the
signed header: it finds a changed ledger (or a changed digest), not someone rewriting
both stores together.

What no hash covers, and the audit therefore cannot vouch for (tests/anchoring/
test_tamper.py measures it): events after the head block, which are only checked for
readability, encoding, signatures and version order until they are sealed (their
timestamps, a party's name, a platform flag's text can change unnoticed until then);
the ``timestamp`` of the block events themselves (seal time, in the chain store, which
nothing hashes); and, in blocks sealed before ``records_digest`` existed (the audit
notes them), the ledger records' timestamps and the party and device fields no
signature depends on.

This module is the walk over the two stores, block by block with the ledger in step;
the checks every single stored record gets (exact re-encoding, fields, version order,
custody copies, signatures, tag claims) are in anchoring/audit_records.py.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteAggregateRecorder

from anchoring.accumulator import Accumulator
from anchoring.audit_checkpoint import audit_checkpoint, audit_since, log_tree
from anchoring.audit_map import MapAudit
from anchoring.audit_records import Divergence, LedgerChecks, decode_record, error_text
from anchoring.chain import Block, Chain, RecordsDigest, block_id, block_row, sealed_at_time
from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.header import BlockHeader
from anchoring.leaves import ZERO_HASH, leaf_of
from anchoring.merkle import pack_tree
from anchoring.recorders import BlockIndex, LeafRow
from ledger.application import CustodyLedger
from ledger.records import is_item_topic, leaf_source

PAGE = 1000
UNEXPECTED = "audit stopped by an unexpected error"


@dataclass
class AuditReport:
    blocks: int = 0
    leaves: int = 0
    notifications: int = 0
    divergence: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None


def audit(
    ledger: CustodyLedger,
    chain: Chain,
    verifier: Verifier | None = None,
    checkpoint_text: str | None = None,
    since_text: str | None = None,
) -> AuditReport:
    report = AuditReport()
    walk = _Walk(ledger, chain, report)
    try:
        headers = walk.run()
        if verifier is not None and (checkpoint_text is not None or since_text is not None):
            tree = log_tree(headers)
            current = None
            if checkpoint_text is not None:
                current = audit_checkpoint(tree, verifier, checkpoint_text, "current checkpoint")
            if since_text is not None:
                report.notes.append(audit_since(headers, tree, verifier, since_text, current))
    except Divergence as d:
        report.divergence = str(d)
    except VerificationError as e:
        report.divergence = f"{e.step}: {e}"
    except Exception as e:  # a bug here must still end in a report, with the place
        report.divergence = f"{UNEXPECTED} at {walk.where}: {error_text(e)}"
    return report


# ----- reading the logs ------------------------------------------------------------------


def _log(recorder: Any, what: str) -> Iterator[Notification]:
    """A recorder's notifications in id order, each readable, ids from 1 with no gap
    where the backend allocates them without gaps (SQLite's rowid: a rolled-back insert
    gives its id back; a PostgreSQL sequence does not)."""
    contiguous = isinstance(recorder, SQLiteAggregateRecorder)
    try:  # ids below 1 are outside every page read below
        first = list(recorder.select_notifications(start=None, limit=1))
        unreadable_first = None
    except Exception as e:
        first, unreadable_first = [], e
    if first and first[0].id < 1:
        raise Divergence(
            f"{what} {first[0].id} ({_name(first[0])}) has an id below 1 (a notification "
            "id was altered)"
        )
    expected = 1
    while True:
        page = _select(recorder, expected, PAGE, what)
        if not page:
            break
        for n in page:
            if contiguous and n.id != expected:
                raise Divergence(
                    f"{what} {expected} is missing: the log goes from {expected - 1} to "
                    f"{n.id} ({_name(n)}); a notification id was altered or a record deleted"
                )
            yield n
            expected = n.id + 1
    if unreadable_first is not None:
        raise Divergence(
            f"a {what} with an id below 1 cannot be read: {error_text(unreadable_first)}"
        )


def _name(n: Notification) -> str:
    """``item v3`` for a ledger record, ``block 3`` for a chain record."""
    oid = str(n.originator_id)
    if oid.startswith("block-") and oid[6:].isdigit():
        return f"block {int(oid[6:])}"
    return f"{oid} v{n.originator_version}"


def _select(recorder: Any, start: int, limit: int, what: str) -> list[Notification]:
    try:
        return list(recorder.select_notifications(start=start, limit=limit))
    except Exception as e:
        if limit > 1:  # find the unreadable one
            out: list[Notification] = []
            at = start
            while len(out) < limit:
                one = _select(recorder, at, 1, what)
                if not one:
                    break
                out += one
                at = one[0].id + 1
            return out
        contiguous = isinstance(recorder, SQLiteAggregateRecorder)
        place = f"{start}" if contiguous else f"after {start - 1}"
        raise Divergence(f"{what} {place} cannot be read: {error_text(e)}") from None


class _Walk:
    """One pass over the chain's blocks and, in step, the ledger's notifications."""

    def __init__(self, ledger: CustodyLedger, chain: Chain, report: AuditReport) -> None:
        self.ledger = ledger
        self.chain = chain
        self.report = report
        self.ledger_log = _log(ledger.recorder, "ledger notification")
        self.last_leaf: dict[str, tuple[int, bytes]] = {}
        self.ledger_checks = LedgerChecks(ledger.mapper)
        self.accumulator = Accumulator()
        self.headers: list[BlockHeader] = []
        self.covered = 0
        self.last_id = 0
        self.index = chain.recorder if isinstance(chain.recorder, BlockIndex) else None
        self.map_audit = MapAudit(chain.recorder)
        self.notification_ids: list[int] = []  # of the current block's leaves
        self.records = RecordsDigest()  # of the current block's ledger records
        self.undigested: list[int] = []  # heights of blocks sealed without records_digest
        self.digest_mismatch: str | None = None  # the first; reported after all else
        self.where = "the start"

    def run(self) -> list[BlockHeader]:
        for record in _log(self.chain.recorder, "chain record"):
            height = len(self.headers)
            self.where = f"chain record {record.id} (block {height})"
            sealed = self._block_event(record, height)
            header = self._header(sealed, record.id, height)
            self._check_link(header)
            leaves, items = self._expected_leaves(header)
            tree = self._check_leaves(sealed, header, leaves, items)
            self._check_signed()
            self._check_index(header, leaves, items, tree)
            self.map_audit.block(header, items, leaves)
            self._check_seal_time(sealed, header)
            self._check_records(sealed, header)
            self.covered = header.last_notification
            self.headers.append(header)
            self.accumulator.append(header.block_hash())
            self.report.blocks += 1
            self.report.leaves += len(leaves)
        self._check_tail()
        self._check_position()
        self.ledger_checks.check_claims()
        if self.digest_mismatch is not None:
            raise Divergence(self.digest_mismatch)
        if self.undigested:
            self.report.notes.append(
                f"{len(self.undigested)} block(s) (heights {_heights(self.undigested)}) have "
                "no records digest (sealed before blocks stored one): their ledger records' "
                "timestamps and the party fields no signature covers are not vouched for"
            )
        return self.headers

    # ----- one block ---------------------------------------------------------------

    def _block_event(self, record: Notification, height: int) -> Block.Sealed:
        where = f"chain record {record.id} (block {height})"
        event = decode_record(self.chain.mapper, record, where)
        if not isinstance(event, Block.Sealed):
            raise Divergence(f"{where} is not a sealed block")
        if not (
            isinstance(event.leaves, list)
            and isinstance(event.items, list)
            and all(isinstance(leaf, str) for leaf in event.leaves)
        ):
            raise Divergence(f"{where}: its leaves or items are not lists")
        return event

    def _header(self, sealed: Block.Sealed, record_id: int, height: int) -> BlockHeader:
        try:
            header = BlockHeader.from_json(sealed.header)
        except (VerificationError, KeyError, TypeError, ValueError) as e:
            raise Divergence(f"block {height} (chain record {record_id}): header: {e}") from None
        if header.height != height or sealed.originator_id != block_id(height):
            raise Divergence(
                f"chain record {record_id}: block {sealed.originator_id} says height "
                f"{header.height}, expected {height} (block {height})"
            )
        return header

    def _check_link(self, header: BlockHeader) -> None:
        height = header.height
        expected_prev = self.headers[-1].block_hash() if self.headers else ZERO_HASH
        if not hmac.compare_digest(header.prev_hash, expected_prev):
            raise Divergence(
                f"block {height}: prev_hash is not the hash of block {height - 1}: "
                f"{self._which_was_edited(height - 1, header.prev_hash)}"
            )
        if header.acc_size != self.accumulator.size or not hmac.compare_digest(
            header.acc_root, self.accumulator.root()
        ):
            raise Divergence(f"block {height}: acc_root does not commit to blocks 0..{height - 1}")
        if header.first_notification != self.covered + 1:
            raise Divergence(
                f"block {height}: starts at ledger notification {header.first_notification}, "
                f"expected {self.covered + 1} (gap or overlap)"
            )

    def _which_was_edited(self, height: int, prev_hash: bytes) -> str:
        if self.index is None:
            return f"block {height} or {height + 1} was altered"
        try:
            rows = self.index.block_rows([height])
        except Exception:
            rows = {}
        if height in rows and hmac.compare_digest(rows[height].block_hash, prev_hash):
            return f"block {height}'s header was altered after sealing (its index row agrees)"
        return f"block {height}'s header or block {height + 1}'s prev_hash was altered"

    def _expected_leaves(self, header: BlockHeader) -> tuple[list[bytes], list[tuple[str, int]]]:
        leaves: list[bytes] = []
        items: list[tuple[str, int]] = []
        covered = self.covered
        self.notification_ids = []
        self.records = RecordsDigest()
        while covered < header.last_notification:
            n = next(self.ledger_log, None)
            if n is None:
                raise Divergence(
                    f"block {header.height}: ledger ends before notification "
                    f"{header.last_notification}"
                )
            if n.id > header.last_notification:
                raise Divergence(
                    f"block {header.height}: ledger notification {header.last_notification}, "
                    f"its last, is missing (the next is ledger event {n.id}, "
                    f"{n.originator_id} v{n.originator_version})"
                )
            covered = n.id
            self.report.notifications += 1
            where = (
                f"ledger event {n.id} ({n.originator_id} v{n.originator_version}; "
                f"block {header.height} leaf {len(leaves)})"
            )
            event = self._notification(n, where)
            self.records.update(n)
            if is_item_topic(n.topic):
                leaves.append(self._leaf(n, event, where))
                self.notification_ids.append(n.id)
                items.append((str(n.originator_id), n.originator_version))
        return leaves, items

    def _notification(self, n: Notification, where: str) -> Any:
        """Checks every ledger notification gets, sealed or not; returns its event."""
        self.where = where
        self.last_id = n.id
        return self.ledger_checks.check(n, where)

    def _check_signed(self) -> None:
        """The custody copies and signatures of the item events read since the last call."""
        for n, event, where in self.ledger_checks.take_signed():
            self.where = where
            self.ledger_checks.check_signed(n, event, where)

    def _leaf(self, n: Notification, event: Any, where: str) -> bytes:
        item_id, version = str(n.originator_id), n.originator_version
        try:
            source = leaf_source(item_id, version, event)
        except Exception as e:  # any corruption of the stored bytes lands here
            raise Divergence(f"{where} cannot be read: {error_text(e)}") from None
        prev_version, prev = self.last_leaf.get(item_id, (0, ZERO_HASH))
        if prev_version != version - 1:
            raise Divergence(f"{where}: the item jumps from v{prev_version} to v{version}")
        leaf = leaf_of(source, prev)
        self.last_leaf[item_id] = (version, leaf)
        return leaf

    def _check_leaves(
        self,
        sealed: Block.Sealed,
        header: BlockHeader,
        leaves: list[bytes],
        items: list[tuple[str, int]],
    ) -> bytes:
        """The stored leaves and item list against the recomputed ones; returns the
        block's Merkle tree (chain.pack_tree) for the index check."""
        height = header.height
        if header.leaf_count != len(leaves) or len(sealed.leaves) != len(leaves):
            raise Divergence(
                f"block {height}: header says {header.leaf_count} leaves, the block stores "
                f"{len(sealed.leaves)}, the ledger has {len(leaves)} item events in "
                f"notifications {header.first_notification}..{header.last_notification}"
            )
        for index, (want, got) in enumerate(zip(leaves, sealed.leaves, strict=True)):
            if got != want.hex():
                item_id, version = items[index]
                raise Divergence(
                    f"block {height} leaf {index} ({item_id} v{version}, ledger event "
                    f"{self.notification_ids[index]}): the stored leaf differs from the one "
                    "recomputed from the ledger (edited event or block)"
                )
        if sealed.items != [[item_id, version] for item_id, version in items]:
            raise Divergence(f"block {height}: its item list differs from the ledger's events")
        tree = pack_tree(leaves)
        if not hmac.compare_digest(tree[-32:], header.merkle_root):
            raise Divergence(f"block {height}: merkle_root does not match its leaves")
        return tree

    def _check_index(
        self, header: BlockHeader, leaves: list[bytes], items: list[tuple[str, int]], tree: bytes
    ) -> None:
        if self.index is None:
            return
        height = header.height
        self.where = f"block {height}'s index rows"
        try:
            row = self.index.block_rows([height]).get(height)
            rows = self.index.leaves_at(height)
        except Exception as e:
            raise Divergence(
                f"block {height}: its index rows cannot be read: {error_text(e)}"
            ) from None
        if row is None:
            raise Divergence(f"block {height}: the block index has no row for it")
        if not hmac.compare_digest(row.block_hash, header.block_hash()):
            raise Divergence(
                f"block {height}: its header hashes to {header.block_hash().hex()}, the block "
                f"index recorded {row.block_hash.hex()} when it was sealed (header or index "
                "altered)"
            )
        expected_row = block_row(header, tree)
        if row.header_json != expected_row.header_json:
            raise Divergence(f"block {height}: its block index row's header is wrong")
        if row.tree != expected_row.tree:
            raise Divergence(f"block {height}: its block index row's Merkle tree is wrong")
        expected = [
            LeafRow(item_id, version, height, index, leaf)
            for index, ((item_id, version), leaf) in enumerate(zip(items, leaves, strict=True))
        ]
        if rows != expected:
            index = next(
                i for i in range(max(len(rows), len(expected)))
                if i >= len(rows) or i >= len(expected) or rows[i] != expected[i]
            )  # fmt: skip
            stored = _leaf_row(rows[index]) if index < len(rows) else "nothing"
            wanted = _leaf_row(expected[index]) if index < len(expected) else "nothing"
            raise Divergence(
                f"block {height}: leaf index row {index} is wrong: stored {stored}, "
                f"expected {wanted}"
            )

    def _check_seal_time(self, sealed: Block.Sealed, header: BlockHeader) -> None:
        """Blocks that carry a records digest were sealed with timestamp == sealed_at (run
        after the header checks, so an edited header is reported as such)."""
        if sealed.records_digest is not None and sealed.timestamp != sealed_at_time(
            header.sealed_at
        ):
            raise Divergence(
                f"block {header.height}: the stored event timestamp "
                f"{sealed.timestamp.isoformat()} is not its header's sealed_at {header.sealed_at}"
            )

    def _check_records(self, sealed: Block.Sealed, header: BlockHeader) -> None:
        """The block's digest of its ledger records against the records stored now."""
        height = header.height
        stored = sealed.records_digest
        if stored is None:
            if len(self.undigested) < height:  # an earlier block has one
                raise Divergence(
                    f"block {height}: it has no records digest, but earlier blocks do "
                    "(its records_digest was removed)"
                )
            self.undigested.append(height)
            return
        if self.digest_mismatch is None and not hmac.compare_digest(
            stored.encode(), self.records.hexdigest().encode()
        ):
            self.digest_mismatch = (
                f"block {height}: the ledger records of notifications "
                f"{header.first_notification}..{header.last_notification} "
                f"({self.records.count} stored) are not those it sealed: their digest is "
                f"{self.records.hexdigest()[:16]}…, the block recorded {stored[:16]}… (a "
                "stored record in that range — e.g. its timestamp or a party's details — "
                "or the block's records_digest was altered)"
            )

    # ----- after the last block ------------------------------------------------------

    def _check_tail(self) -> None:
        """Events recorded after the head block: readable, canonical, in version order,
        signed by enrolled devices; nothing more can be claimed until they are sealed."""
        tail = 0
        for n in self.ledger_log:
            tail += 1
            self.report.notifications += 1
            where = (
                f"ledger event {n.id} ({n.originator_id} v{n.originator_version}; not sealed yet)"
            )
            self._notification(n, where)
            self._check_signed()
        if tail:
            self.report.notes.append(
                f"{tail} ledger notification(s) after the head block (from "
                f"{self.covered + 1} on) are not sealed yet: checked for readability, "
                "encoding, version order and signatures only"
            )

    def _check_position(self) -> None:
        self.where = "the anchor's position"
        try:
            position = self.chain.position()
        except Exception as e:
            raise Divergence(f"the anchor's position cannot be read: {error_text(e)}") from None
        if position < self.covered:
            raise Divergence(
                f"the anchor's position {position} is before the head block's last "
                f"notification {self.covered}"
            )
        if position > self.last_id:
            raise Divergence(
                f"the anchor's position {position} is past the ledger's last notification "
                f"{self.last_id}"
            )
        if self.index is not None:
            try:
                indexed = self.index.indexed_blocks()
            except Exception as e:
                raise Divergence(f"the block index cannot be read: {error_text(e)}") from None
            if indexed != len(self.headers):
                raise Divergence(
                    f"the block index holds {indexed} blocks, the chain {len(self.headers)}"
                )


def _heights(heights: list[int]) -> str:
    return f"{heights[0]}..{heights[-1]}" if len(heights) > 1 else str(heights[0])


def _leaf_row(row: LeafRow) -> str:
    return (
        f"{row.item_id} v{row.version} (block {row.height} leaf {row.leaf_index}, "
        f"{row.leaf_hash.hex()[:16]}…)"
    )


def read_checkpoint_text(path: Path) -> str | None:
    """The checkpoint file's text (``None`` if there is none). Bytes that are not UTF-8
    become U+FFFD, so a damaged file fails its signature check instead of the reader."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return raw.decode("utf-8", errors="replace")


def audit_stores(
    open_ledger: Callable[[], CustodyLedger],
    open_chain: Callable[[], Chain],
    verifier: Verifier | None = None,
    checkpoint_text: str | None = None,
    since_text: str | None = None,
) -> AuditReport:
    """:func:`audit` of stores opened here: a store too damaged to open is a divergence."""
    stores = []
    for what, opener in (("ledger", open_ledger), ("chain", open_chain)):
        try:
            stores.append(opener())
        except Exception as e:
            return AuditReport(divergence=f"the {what} store cannot be opened: {error_text(e)}")
    ledger, chain = stores
    assert isinstance(ledger, CustodyLedger) and isinstance(chain, Chain)
    return audit(ledger, chain, verifier, checkpoint_text, since_text)
