"""What the HTTP API reads: items, proof bundles, the checkpoint and the public keys.

Everything comes from the event store and the chain (SQLite in WAL mode, or PostgreSQL),
which readers share with a running ingest and anchor without blocking them; nothing here
writes. State is the aggregate rebuilt from its events (so it is never staler than the
store), unlike the analyst snapshot, which lags by design.

Two long-lived helpers keep requests cheap on a large store, each reading only what is
new since the last request: the ``Prover`` (block hashes) and the party directory (the
ledger's notification log, filtered to party events). Proofs are built against the
*signed* checkpoint file, which the anchor rewrites a moment after recording a block, so
events in a block the checkpoint does not cover yet are listed as pending.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from anchoring.checkpoint import Checkpoint, Verifier, open_checkpoint
from anchoring.errors import VerificationError
from anchoring.prove import ProveError, Prover, UnknownItem
from assay import runtime
from domain.corrections import Declaration
from domain.parties import Party
from domain.state import ItemState
from domain.story import sentence
from ledger.application import CustodyLedger, ItemNotFound
from ledger.records import PARTY_TOPICS, ItemRecord, item_record

if TYPE_CHECKING:
    from anchoring.recorders import LeafRow
    from assay.settings import Settings

log = logging.getLogger(__name__)

PAGE = 1000
_STATE_FIELDS = (
    "status",
    "commissioned",
    "brand",
    "model",
    "serial",
    "tag_uid",
    "verdict",
    "certificate",
    "holder",
    "location",
    "shipper",
    "consignee",
    "sold_by",
    "buyer_ref",
    "provenance",
)


class NotAnchored(LookupError):
    """The item exists but nothing of it is covered by a signed checkpoint yet."""


class Absent(LookupError):
    """The ledger has never recorded the id; ``bundle`` is its absence proof
    (docs/proof-bundle.md §10.5)."""

    def __init__(self, item_id: str, bundle: dict[str, Any]) -> None:
        super().__init__(f"no item {item_id!r} in the ledger")
        self.item_id = item_id
        self.bundle = bundle


class StoreUnavailable(RuntimeError):
    """The stores disagree for a moment (or are damaged); the request may be retried."""


@dataclass(frozen=True)
class PlatformKey:
    text: str
    verifier: Verifier


class PartyDirectory:
    """Parties and their enrolled devices, followed from the ledger's notification log."""

    def __init__(self, ledger: CustodyLedger) -> None:
        self._ledger = ledger
        self._parties: dict[str, Party] = {}
        self._position = 0
        self._lock = threading.Lock()

    def refresh(self) -> list[Party]:
        with self._lock:
            recorder = self._ledger.recorder
            # Ids are committed in order, so everything up to ``top`` is there to read; the
            # next refresh starts after it even when no party event was among them.
            top = recorder.max_notification_id() or 0
            changed: set[str] = set()
            start = self._position + 1
            while start <= top and (
                page := recorder.select_notifications(
                    start=start, limit=PAGE, stop=top, topics=PARTY_TOPICS
                )
            ):
                changed.update(str(n.originator_id) for n in page)
                start = page[-1].id + 1
            self._position = max(self._position, top)
            for party_id in changed:
                self._parties[party_id] = self._ledger.get_party(party_id)
            return [self._parties[k] for k in sorted(self._parties)]


class ReadModel:
    """Read-only queries behind the API; safe to call from several threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger = runtime.open_ledger(settings)
        self.chain = runtime.open_chain(settings)
        self._parties = PartyDirectory(self.ledger)
        self._prover: Prover | None = None
        self._prover_lock = threading.Lock()

    # ----- items -----------------------------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any]:
        """Current state and full history (anchored or not) of one item."""
        item = self.ledger.get_item(item_id)  # ItemNotFound for unknown ids and non-items
        events = self.ledger.item_events(item_id)
        leaves = {row.version: row for row in self.chain.leaves_for(item_id)}
        state = item.state
        return {
            "item_id": item_id,
            "version": item.version,
            "state": {
                **_view(state),
                "flags": [
                    {
                        "signal": flag.signal.value,
                        "detail": flag.detail,
                        "evidence_event_id": flag.evidence_event_id,
                        "raised_at": flag.raised_at.isoformat(),
                    }
                    for flag in state.flags
                ],
            },
            # The state above is the corrected view; as recorded, when anything was declared
            # in error (docs/custody-rules.md, "Corrections").
            "as_recorded": _view(state.as_recorded()) if state.declared else None,
            "history": [
                _history_entry(event, leaves.get(event.originator_version), state.declared)
                for event in events
            ],
        }

    def proof(self, item_id: str) -> dict[str, Any]:
        """The proof bundle of ``anchoring.prove``, into the signed checkpoint on disk;
        :class:`Absent` with the absence proof for an id the ledger never recorded."""
        try:
            self.ledger.get_item(item_id)
        except ItemNotFound:
            unknown = True
        else:
            unknown = False
        try:
            text, _ = self._signed_checkpoint()
        except NotAnchored:
            if unknown:  # nothing to prove absence against yet
                raise ItemNotFound(item_id) from None
            raise
        with self._prover_lock:  # one long-lived prover: it reads only new blocks
            prover = self._refreshed_prover(text)
            try:
                if unknown:
                    raise UnknownItem(item_id)
                return prover.prove(item_id)
            except UnknownItem:
                try:
                    absence = prover.prove_absence(item_id)
                except ProveError:  # no head map yet (a version 1 head): a plain 404
                    raise ItemNotFound(item_id) from None
                raise Absent(item_id, absence) from None
            except ProveError as e:
                raise NotAnchored(str(e)) from None

    def newer(self, item_id: str, height: int, version: int | None = None) -> dict[str, Any]:
        """The ``newer`` object (docs/proof-bundle.md §10.4) that brings a bundle whose head
        is block ``height`` up to the signed checkpoint on disk: a verifier checks the old
        bundle with it and learns whether the item's history is still complete there."""
        self.ledger.get_item(item_id)  # ItemNotFound: 404
        text, _ = self._signed_checkpoint()
        with self._prover_lock:
            prover = self._refreshed_prover(text)
            head = prover.head
            if head is None or height > head.height:
                raise NotAnchored(f"block {height} is not at or below the checkpoint's head")
            try:
                return prover.newer(item_id, height, version)
            except ProveError as e:
                raise NotAnchored(str(e)) from None

    def _refreshed_prover(self, checkpoint_text: str) -> Prover:
        """The long-lived prover, moved on to ``checkpoint_text`` (call under the lock)."""
        try:
            if self._prover is None:
                self._prover = Prover(self.ledger, self.chain, checkpoint_text)
            else:
                self._prover.refresh(checkpoint_text)
        except ProveError as e:
            raise StoreUnavailable(str(e)) from None
        return self._prover

    # ----- checkpoint and keys ---------------------------------------------------------

    def checkpoint_text(self) -> str:
        text, _ = self._signed_checkpoint()
        return text

    def platform_key(self) -> PlatformKey | None:
        path = runtime.platform_verifier_path(self.settings)
        if not path.exists():
            return None
        text = path.read_text(encoding="utf-8").strip()
        return PlatformKey(text, Verifier.from_text(text))

    def keys(self) -> dict[str, Any]:
        platform = self.platform_key()
        return {
            "platform": None
            if platform is None
            else {
                "name": platform.verifier.name,
                "key_id": platform.verifier.key_id.hex(),
                "public_key": platform.verifier.public_key.hex(),
                "text": platform.text,
            },
            "devices": [
                _device_entry(party, device_id)
                for party in self._parties.refresh()
                for device_id in sorted(party.devices)
            ],
        }

    def warm_up(self) -> None:
        """Read the party directory and the block hashes once, and rebuild the head map
        from its stored entries (unless the stored map state stands at the checkpoint's
        head, which answers its proofs), before the first request."""
        try:
            self._parties.refresh()
            with contextlib.suppress(NotAnchored):
                text, _ = self._signed_checkpoint()
                with self._prover_lock:
                    if self._prover is None:
                        self._prover = Prover(self.ledger, self.chain, text)
                    head = self._prover.head
                stored = head is None or self.chain.map_state_at(head.height)
                if head is not None and head.map_root is not None and not stored:
                    self.chain.load_map(head.height)  # else proofs read the stored state
        except Exception:  # the requests will meet (and report) the same problem
            log.exception("warming up the read model failed")

    def status(self) -> dict[str, Any]:
        checkpoint_size, status = None, "ok"
        try:
            checkpoint_size = self._signed_checkpoint()[1].size
        except NotAnchored:
            pass  # a fresh store: nothing to prove yet, and nothing wrong
        except StoreUnavailable:
            status = "degraded"
        return {
            "status": status,
            "ledger_position": self.ledger.recorder.max_notification_id() or 0,
            "checkpoint_size": checkpoint_size,
        }

    def _signed_checkpoint(self) -> tuple[str, Checkpoint]:
        path = self.settings.checkpoint_path
        platform = self.platform_key()
        if platform is None or not path.exists():
            raise NotAnchored("nothing has been anchored yet")
        text = path.read_text(encoding="utf-8")
        try:
            return text, open_checkpoint(text, platform.verifier)
        except VerificationError as e:
            raise StoreUnavailable(f"the stored checkpoint does not verify: {e.step}") from None


def _view(state: ItemState) -> dict[str, Any]:
    return {name: _plain(getattr(state, name)) for name in _STATE_FIELDS}


def _history_entry(
    event: Any, leaf: LeafRow | None, declared: Mapping[str, Declaration]
) -> dict[str, Any]:
    record = item_record(event)
    declaration = None
    if record.type.accepted and record.report is not None:
        declaration = declared.get(record.report.event_id)
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "record": record.type.name,
        "recorded_at": event.timestamp.isoformat(),
        "sentence": sentence(event, declared),
        "declared_in_error": None
        if declaration is None
        else {
            "by": declaration.by,
            "at": declaration.at.isoformat(),
            "reason": _plain(declaration.reason),
            "declaration_event_id": declaration.event_id,
            "corrective_event_ids": list(declaration.corrective_event_ids),
        },
        "details": _details(record),
        "anchored": None
        if leaf is None
        else {"height": leaf.height, "leaf_index": leaf.leaf_index, "leaf": leaf.leaf_hash.hex()},
    }


def _details(record: ItemRecord) -> dict[str, Any]:
    """The record's fields: the reported custody event, and for a flag its signal."""
    report = record.report
    out: dict[str, Any] = {}
    if record.statement is not None:  # an owner's: by key fingerprint (domain/owner_statement.py)
        return {**record.statement.to_primitive(), "owner": record.statement.fingerprint}
    if report is not None:
        out = {k: v for k, v in report.to_primitive().items() if v not in (None, {}, [])}
    if not record.type.raises_flag:
        return out
    if record.type.own_report:
        return {"flag": record.signal, "detail": record.detail, "evidence": out}
    return {"flag": record.signal, "detail": record.detail, "evidence": out or None}


def _device_entry(party: Party, device_id: str) -> dict[str, Any]:
    device = party.devices[device_id]
    return {
        "id": f"{party.id}/{device_id}",
        "party_id": party.id,
        "party_name": party.name,
        "role": party.role.value,
        "device_id": device_id,
        "public_key": device.public_key,
        "enrolled_at": device.enrolled_at.isoformat(),
        # From when the key speaks for the party, if backdated (docs/custody-rules.md), and
        # when the ledger recorded the enrolment: a backdated key is never quiet.
        "effective_from": device.effective_from.isoformat() if device.effective_from else None,
        "recorded_at": device.recorded_at.isoformat() if device.recorded_at else None,
        "revoked_at": device.revoked_at.isoformat() if device.revoked_at else None,
    }


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value
