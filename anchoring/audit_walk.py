"""The audit's walk: the chain's blocks one by one and, in step, the ledger's
notifications, recomputing every leaf, root, header link, accumulator root, index row and
records digest (what each check means is in anchoring/audit.py)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Notification

from anchoring.accumulator import Accumulator
from anchoring.audit_leaves import LeafChain
from anchoring.audit_log import read_log
from anchoring.audit_map import MapAudit
from anchoring.audit_records import Divergence, LedgerChecks, decode_record, error_text
from anchoring.chain import Block, Chain, block_id, block_row, sealed_at_time
from anchoring.errors import VerificationError
from anchoring.header import BlockHeader
from anchoring.headmap import MapEntry
from anchoring.leaves import ZERO_HASH
from anchoring.merkle import pack_tree
from anchoring.recorders import BlockIndex, LeafRow
from anchoring.records_digest import RecordsDigest
from anchoring.registry import Touched, entries_for
from ledger.application import CustodyLedger
from ledger.records import is_item_topic


@dataclass
class AuditReport:
    """What an audit found: what it read, the first divergence (None: there is none) and
    notes on what it could not vouch for."""

    blocks: int = 0
    leaves: int = 0
    notifications: int = 0
    divergence: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None


class Walk:
    """One pass over the chain's blocks and, in step, the ledger's notifications."""

    def __init__(self, ledger: CustodyLedger, chain: Chain, report: AuditReport) -> None:
        self.ledger = ledger
        self.chain = chain
        self.report = report
        self.ledger_log = read_log(ledger.recorder, "ledger notification")
        self.leaf_chain = LeafChain()  # each item's last leaf and version
        self.ledger_checks = LedgerChecks(ledger.mapper)
        self.accumulator = Accumulator()
        self.headers: list[BlockHeader] = []
        self.covered = 0
        self.last_id = 0
        self.index = chain.recorder if isinstance(chain.recorder, BlockIndex) else None
        self.map_audit = MapAudit(chain.recorder)
        self.parties_so_far = Touched()  # every party event up to the current block
        self.parties = Touched()  # those of the current block's range
        self.registry_started = False  # a block entered parties and devices
        self.notification_ids: list[int] = []  # of the current block's leaves
        self.records = RecordsDigest()  # of the current block's ledger records
        self.undigested: list[int] = []  # heights of blocks sealed without records_digest
        self.digest_mismatch: str | None = None  # the first; reported after all else
        self.where = "the start"

    def run(self) -> list[BlockHeader]:
        for record in read_log(self.chain.recorder, "chain record"):
            height = len(self.headers)
            self.where = f"chain record {record.id} (block {height})"
            sealed = self._block_event(record, height)
            header = self._header(sealed, record.id, height)
            self._check_link(header)
            leaves, items = self._expected_leaves(header)
            tree = self._check_leaves(sealed, header, leaves, items)
            self._check_signed()
            self._check_index(header, leaves, items, tree)
            self.map_audit.block(header, items, leaves, self._registry(sealed, header))
            self._check_seal_time(sealed, header)
            self._check_records(sealed, header)
            self.covered = header.last_notification
            self.headers.append(header)
            self.accumulator.append(header.block_hash())
            self.report.blocks += 1
            self.report.leaves += len(leaves)
        self.map_audit.finish()
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

    def _registry(self, sealed: Block.Sealed, header: BlockHeader) -> dict[bytes, MapEntry] | None:
        """The party and device entries the block must enter (None: none, before the
        chain's registry switch)."""
        if sealed.registry is not True:
            if self.registry_started:
                raise Divergence(
                    f"block {header.height}: enters no parties or devices, but earlier blocks do"
                )
            return None
        switch = not self.registry_started
        self.registry_started = True
        touched = self.parties_so_far if switch else self.parties
        return entries_for(self.ledger, touched, header.height, every_device=switch)

    def _expected_leaves(self, header: BlockHeader) -> tuple[list[bytes], list[tuple[str, int]]]:
        leaves: list[bytes] = []
        items: list[tuple[str, int]] = []
        covered = self.covered
        self.notification_ids = []
        self.records = RecordsDigest()
        self.parties = Touched()
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
            self.parties.see(n.topic, str(n.originator_id), n.originator_version, event)
            if is_item_topic(n.topic):
                leaves.append(self._leaf(n, event, where))
                self.notification_ids.append(n.id)
                items.append((str(n.originator_id), n.originator_version))
        self.parties_so_far.update(self.parties)
        return leaves, items

    def _notification(self, n: Notification, where: str) -> Any:
        """Checks every ledger notification gets, sealed or not; returns its event."""
        self.where = where
        self.last_id = n.id
        return self.ledger_checks.check(n, where)

    def _check_signed(self) -> None:
        """The custody copies and signatures of the item events read since the last call."""
        for n, event, where, fast, pending, record in self.ledger_checks.take_signed():
            self.where = where
            self.ledger_checks.check_signed(n, event, where, fast, pending, record)

    def _leaf(self, n: Notification, event: Any, where: str) -> bytes:
        item_id, version = str(n.originator_id), n.originator_version
        try:
            source = self.ledger_checks.item_record(event, item_id, version).leaf_source()
        except Exception as e:  # any corruption of the stored bytes lands here
            raise Divergence(f"{where} cannot be read: {error_text(e)}") from None
        return self.leaf_chain.next_leaf(item_id, version, source, where)

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
        have = [(r.item_id, r.version, r.height, r.leaf_index, r.leaf_hash) for r in rows]
        pairs = zip(items, leaves, strict=True)
        expected = [(*item, height, index, leaf) for index, (item, leaf) in enumerate(pairs)]
        if have != expected:
            index = next(
                i for i in range(max(len(have), len(expected)))
                if i >= len(have) or i >= len(expected) or have[i] != expected[i]
            )  # fmt: skip
            stored = _leaf_row(rows[index]) if index < len(rows) else "nothing"
            wanted = _leaf_row(LeafRow(*expected[index])) if index < len(expected) else "nothing"
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
