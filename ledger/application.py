"""The custody ledger application: use cases over items and parties.

Load → command → save, with every batch of reports from one Kafka partition saved in one
transaction together with its tracking position (partition as the name, offset as the
position), so a crash neither loses nor repeats a report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    ProcessRecorder,
    Recording,
    Tracking,
    Transcoder,
)

from domain.authority import AuthorityClaim, declare
from domain.custody import CustodyEvent, Role
from domain.errors import DomainError, InvalidDeviceKey, PartyExists, UnknownParty
from domain.items import Item, Outcome, Policy
from domain.ownership import OwnerReport, decide_owner
from domain.parties import Party
from domain.reports import decide
from domain.tags import tag_claim_id
from ledger.batchstore import batch_store
from ledger.config import schema_lock
from ledger.stored import present_ids
from ledger.transcodings import (
    BytesAsBase64,
    CustodyEventAsDict,
    OwnerStatementAsDict,
    StateTranscoder,
)
from streams.ed25519 import enrolment_key_problem

_HEX32 = re.compile(r"[0-9a-f]{64}")


def check_device_key(public_key_hex: str) -> None:
    """An enrolled key is 64 lowercase hex digits of a usable Ed25519 public key, so that
    every verifier can check its signatures (docs/proof-bundle.md §4.8)."""
    if not isinstance(public_key_hex, str) or not _HEX32.fullmatch(public_key_hex):
        raise InvalidDeviceKey("a device's public key is 64 lowercase hex digits (32 bytes)")
    problem = enrolment_key_problem(bytes.fromhex(public_key_hex))
    if problem is not None:
        raise InvalidDeviceKey(f"not a usable Ed25519 device key: {problem}")


class ItemNotFound(LookupError):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"no item {item_id!r} in the ledger")
        self.item_id = item_id


@dataclass(frozen=True)
class Report:
    """A custody event as it arrived, with the exact signed envelope bytes."""

    custody: CustodyEvent
    envelope: bytes


@dataclass(frozen=True)
class Decision:
    """What the ledger did with one report: an outcome, or a refusal naming the rule."""

    report: Report | OwnerReport
    outcome: Outcome | None = None
    refusal: DomainError | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is not None


_NOTHING: Mapping[str, BaseAggregate[str]] = {}


class CustodyLedger(Application[str]):
    name = "ledger"
    env = {"ORIGINATOR_ID_TYPE": "text"}  # noqa: RUF012 - eventsourcing's own convention

    def __init__(self, env: dict[str, str] | None = None, policy: Policy | None = None) -> None:
        with schema_lock(env or {}):
            super().__init__(env)
        self.policy = policy or Policy()
        self._batch_store = batch_store(self.mapper, self.recorder)

    def construct_transcoder(self) -> Transcoder:
        # The same bytes as eventsourcing's JSONTranscoder (ledger/transcodings.py), unless
        # the environment names another transcoder.
        if self.factory.env.get(self.factory.TRANSCODER_TOPIC):
            return super().construct_transcoder()
        transcoder = StateTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(BytesAsBase64())
        transcoder.register(CustodyEventAsDict())
        transcoder.register(OwnerStatementAsDict())

    def _record(self, processing_event: ProcessingEvent[str]) -> list[Recording[str]]:
        # A batch of process() has no reader of its recordings: on SQLite and PostgreSQL
        # it is written without them (ledger/batchstore.py), the same rows in one
        # transaction.
        if self._batch_store is None or not isinstance(processing_event, _BatchEvent):
            return super()._record(processing_event)
        self._batch_store.put(processing_event.events, processing_event.tracking)
        return []

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    # ----- parties ---------------------------------------------------------------------

    def register_party(
        self,
        party_id: str,
        name: str,
        role: Role,
        brands: Sequence[str] = (),
        company_prefixes: Sequence[str] = (),
    ) -> None:
        """Register a party; a brand may declare its brand names and GS1 company prefixes
        with it (saved together: both or neither)."""
        if self._exists(party_id):
            raise PartyExists(f"party {party_id!r} is already registered")
        party = Party.register(party_id, name, role)
        claims = (
            declare(party, brands, company_prefixes, self._claim_owner)
            if (brands or company_prefixes)
            else []
        )
        self.save(party, *claims)

    def declare_authority(
        self, party_id: str, brands: Sequence[str], company_prefixes: Sequence[str]
    ) -> list[str]:
        """A brand owns more brand names and prefixes (``authority_taken`` if another party
        owns one); returns the ones newly declared."""
        party = self.get_party(party_id)
        claims = declare(party, brands, company_prefixes, self._claim_owner)
        self.save(party, *claims)
        return [claim.value for claim in claims]

    def _claim_owner(self, claim_id: str) -> str | None:
        try:
            claim: BaseAggregate[str] = self.repository.get(claim_id)
        except AggregateNotFoundError:
            return None
        return claim.party_id if isinstance(claim, AuthorityClaim) else None

    def enrol_device(
        self,
        party_id: str,
        device_id: str,
        public_key_hex: str,
        at: datetime | None = None,
        effective_from: datetime | None = None,
    ) -> None:
        """Enrol a device key at ``at`` (now); ``effective_from`` backdates what it may sign
        (bringing in a history: docs/custody-rules.md), recorded with the enrolment."""
        check_device_key(public_key_hex)
        party = self.get_party(party_id)
        party.enrol_device(device_id, public_key_hex, at or datetime.now(UTC), effective_from)
        self.save(party)

    def revoke_device(self, party_id: str, device_id: str, at: datetime | None = None) -> None:
        party = self.get_party(party_id)
        party.revoke_device(device_id, at or datetime.now(UTC))
        self.save(party)

    def get_party(self, party_id: str) -> Party:
        try:
            party: BaseAggregate[str] = self.repository.get(party_id)
        except AggregateNotFoundError:
            raise UnknownParty(f"party {party_id!r} is not registered") from None
        if not isinstance(party, Party):
            raise UnknownParty(f"{party_id!r} is not a party")
        return party

    # ----- items -----------------------------------------------------------------------

    def load(self, aggregate_id: str) -> BaseAggregate[str] | None:
        """The aggregate ``aggregate_id`` as stored now, or None (the rules' ``Loads``)."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def get_item(self, item_id: str) -> Item:
        try:
            item: BaseAggregate[str] = self.repository.get(item_id)
        except AggregateNotFoundError:
            raise ItemNotFound(item_id) from None
        if not isinstance(item, Item):
            raise ItemNotFound(item_id)
        return item

    def item_events(self, item_id: str) -> list[Any]:
        return list(self.events.get(item_id))

    def position(self, tracking_name: str) -> int | None:
        """Last offset recorded for a topic-partition (``None``: nothing yet)."""
        return self.process_recorder.max_tracking_id(tracking_name)

    def process(
        self,
        reports: Sequence[Report | OwnerReport],
        tracking: Tracking | None,
        before_commit: Callable[[list[Decision]], None] | None = None,
        loaded: Mapping[str, BaseAggregate[str]] = _NOTHING,
    ) -> list[Decision]:
        """Apply reports in order and save them, and the position, in one transaction.

        ``before_commit`` sees every decision before anything is saved (the ingest
        publishes dead letters there, so a crash can repeat one but never lose one).
        ``loaded``: aggregates the caller has just read from this ledger for the batch
        (the ingest's gate reads each report's party), taken instead of read again.
        """
        batch = _Batch(self)
        batch.loaded.update(loaded)
        batch.note_absent(reports)
        decisions = [batch.apply(report) for report in reports]
        if before_commit is not None:
            before_commit(decisions)
        self._record(batch.processing_event(tracking))
        batch.cache_saved()
        return decisions

    def _exists(self, aggregate_id: str) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))


class _BatchEvent(ProcessingEvent[str]):
    """The events and position of one ``process`` call (nobody reads its recordings)."""


class _Batch:
    """Aggregates loaded once per batch; events collected in the order reports arrived."""

    def __init__(self, ledger: CustodyLedger) -> None:
        self.ledger = ledger
        self.loaded: dict[str, BaseAggregate[str] | None] = {}
        self.changed: dict[str, BaseAggregate[str]] = {}
        self.events: list[Any] = []

    def processing_event(self, tracking: Tracking | None) -> ProcessingEvent[str]:
        pe = _BatchEvent(tracking)
        pe.events.extend(self.events)
        return pe

    def note_absent(self, reports: Sequence[Report | OwnerReport]) -> None:
        """Ask the store once which of the batch's items and tags exist, rather than once
        per new item and tag in ``load`` (most of a batch's commissionings are new)."""
        custody = [r.custody for r in reports if isinstance(r, Report)]  # owners' load later
        ids = {c.item_id for c in custody}
        ids.update(tag_claim_id(c.tag_uid) for c in custody if c.tag_uid)
        present = present_ids(self.ledger, ids)
        if present is not None:
            for aggregate_id in ids - present:
                if "\x00" not in aggregate_id:
                    self.loaded[aggregate_id] = None

    def load(self, aggregate_id: str) -> BaseAggregate[str] | None:
        if aggregate_id not in self.loaded:
            self.loaded[aggregate_id] = self.ledger.load(aggregate_id)
        return self.loaded[aggregate_id]

    def keep(self, *aggregates: BaseAggregate[str]) -> None:
        for aggregate in aggregates:
            aggregate_id = aggregate._id  # the id property's value, without the call
            self.loaded[aggregate_id] = aggregate
            self.changed[aggregate_id] = aggregate
            self.events.extend(aggregate.collect_events())

    def cache_saved(self) -> None:
        """Once the batch is committed, hand the aggregates it changed to the cache.

        eventsourcing's cache (with fast-forward) keeps the version it last loaded and
        reads the events saved since on the next load; the batch's own copies are those
        events applied already, so the next load finds nothing new to decode. Another
        writer's events are still read by that fast-forward."""
        cache = self.ledger.repository.cache
        if cache is not None:
            for aggregate_id, aggregate in self.changed.items():
                cache.put(aggregate_id, aggregate)

    def apply(self, report: Report | OwnerReport) -> Decision:
        try:
            if isinstance(report, OwnerReport):
                outcome = decide_owner(report.statement, report.envelope, self)
            else:
                outcome = decide(report.custody, report.envelope, self, self.ledger.policy)
        except DomainError as refusal:
            self._check_nothing_pending(refusal)
            return Decision(report, refusal=refusal)
        return Decision(report, outcome)

    def _check_nothing_pending(self, refusal: DomainError) -> None:
        # Guards run before any event is triggered; a refusal after a change is a bug.
        for aggregate in self.loaded.values():
            if aggregate is not None and aggregate.pending_events:
                msg = f"{refusal.rule} raised after {aggregate.id} changed"
                raise RuntimeError(msg) from refusal
