"""The audit's fast paths for device-signed item records and tag claims
(anchoring/audit_read.py) against the reference (``decode_record`` and the custody-copy
check): each reads every such record of a real store, accepts no changed byte the
reference refuses, and an audit of a tampered store names the same divergence with it and
without it."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Notification

import anchoring.audit_records as audit_records
from anchoring.audit_read import fast_signed_record, fast_tag_claim
from anchoring.audit_records import Divergence, decode_record
from anchoring.leaves import read_envelope
from domain.items import Item
from domain.tags import TagClaim
from ledger.application import CustodyLedger
from ledger.config import store_env
from ledger.records import topic_of
from ledger.stored import ENVELOPE_MEMBER
from streams.envelope import read_body, seal
from streams.keys import DeviceKey
from tests.anchoring.stores import set_state
from tests.anchoring.tamper import build_store, copy_store, run_audit
from tests.support import custody

SIGNED = {topic_of(Item.Commissioned), topic_of(Item.CustodyRecorded)}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("fastread") / "template", items=8)


@pytest.fixture(scope="module")
def ledger(template: Path) -> CustodyLedger:
    return CustodyLedger(store_env("", template / "ledger.sqlite"))


def notifications(ledger: CustodyLedger) -> list[Notification]:
    return list(ledger.recorder.select_notifications(start=1, limit=10_000))


def reference(ledger: CustodyLedger, n: Notification) -> Any | None:
    """The event if the reference accepts the record and its custody copy (else None)."""
    try:
        event = decode_record(ledger.mapper, n, "here")
        signed = read_body(read_envelope(event.envelope))
    except (Divergence, Exception):
        return None
    return event if event.custody == signed else None


def assert_agrees(ledger: CustodyLedger, n: Notification) -> bool:
    """Whether the fast path accepted ``n``; if it did, the reference accepts it too and
    decodes the same event and envelope."""
    fast = fast_signed_record(ledger.mapper, n)
    if fast is None:
        return False
    event, copy = fast
    expected = reference(ledger, n)
    assert expected is not None, (n.id, n.state)
    assert type(event) is type(expected) and vars(event) == vars(expected)
    assert copy.envelope == read_envelope(expected.envelope)
    assert copy.custody == expected.custody
    return True


def test_every_signed_record_of_a_real_store_takes_the_fast_path(ledger: CustodyLedger) -> None:
    read = [n for n in notifications(ledger) if assert_agrees(ledger, n)]
    signed = [n for n in notifications(ledger) if n.topic in SIGNED]
    assert len(signed) > 40 and [n.id for n in read] == [n.id for n in signed]


@pytest.mark.parametrize("topic", sorted(SIGNED))
def test_no_changed_byte_is_accepted_unless_the_reference_accepts_it(
    ledger: CustodyLedger, topic: str
) -> None:
    n = next(n for n in notifications(ledger) if n.topic == topic)
    accepted = set()
    for at in range(len(n.state)):
        for new in {n.state[at] ^ 0x01, n.state[at] ^ 0x20, ord(" "), ord("\\"), 0xC3}:
            state = n.state[:at] + bytes([new]) + n.state[at + 1 :]
            if assert_agrees(ledger, replace(n, state=state)):
                accepted.add(at)
    # Only another ingest time or another envelope whose body is the same copy (e.g. its
    # signature) is still a record the application writes; the signature check and the
    # records digest come later, as before.
    start = n.state.index(b'"_data_":"') + len(b'"_data_":"')
    envelope = n.state.index(ENVELOPE_MEMBER) + len(ENVELOPE_MEMBER)
    free = set(range(start, n.state.index(b'"', start))) | set(range(envelope, len(n.state) - 3))
    assert accepted and accepted <= free


def test_other_columns_and_spellings_go_to_the_reference(ledger: CustodyLedger) -> None:
    created = next(n for n in notifications(ledger) if n.topic == topic_of(Item.Commissioned))
    recorded = next(n for n in notifications(ledger) if n.topic == topic_of(Item.CustodyRecorded))
    for changed in (
        replace(created, originator_version=2),  # a created event after version 1
        replace(created, topic=recorded.topic),  # a creation's state under another topic
        replace(recorded, topic=created.topic),
        replace(recorded, state=recorded.state.replace(b'"_data_":"', b'"_data_": "', 1)),
        replace(recorded, state=recorded.state[:-3] + b'=="}}'),  # base64 it tolerates
        replace(recorded, state=recorded.state.replace(b"+00:00", b"Z", 1)),
    ):
        assert not assert_agrees(ledger, changed), changed
    # Another id is the reference's too (the custody copy check names it later).
    assert assert_agrees(ledger, replace(recorded, originator_id="urn:item:other"))


def test_a_value_the_transcoder_would_decode_inside_the_copy_goes_to_the_reference(
    ledger: CustodyLedger,
) -> None:
    """An attribute spelled like a transcoded value (``{"_type_": …, "_data_": …}``) is read
    by the reference as that value, so the record is not exactly what it writes."""
    key = DeviceKey.generate("brand", "d9")
    report = custody(1, "commissioning", "brand", "urn:item:odd", tag_uid="T")
    event = Item.Commissioned(
        originator_id="urn:item:odd",
        originator_version=1,
        timestamp=report.occurred_at,
        originator_topic=topic_of(Item),
        custody=report,
        envelope=seal(report, key),
    )

    def with_attributes(attributes: dict[str, str]) -> Notification:
        copy = replace(report, attributes=attributes)
        return as_read(ledger, replace(event, custody=copy, envelope=seal(copy, key)))

    odd = with_attributes({"_type_": "bytes_b64", "_data_": "AA=="})
    assert reference(ledger, odd) is None and fast_signed_record(ledger.mapper, odd) is None
    # A value spelled "_type_" is the reference's to accept: the fast path leaves it.
    named = with_attributes({"note": "_type_"})
    assert reference(ledger, named) is not None
    assert fast_signed_record(ledger.mapper, named) is None
    # Without such a value the same record takes the fast path.
    assert assert_agrees(ledger, with_attributes({"note": "plain"}))


def as_read(ledger: CustodyLedger, event: Any) -> Notification:
    """``event`` as the ledger stores it, read back as notification 1."""
    stored = ledger.mapper.to_stored_event(event)
    return Notification(
        id=1,
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )


def flips_audit_alike(
    template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rng: random.Random,
    rounds: int,
    span: Callable[[bytes], tuple[int, int]],
    without: tuple[object, str, Callable[..., object]],
    topics: Collection[str] = SIGNED,
) -> set[str | None]:
    """Flip one bit at a random place in ``span(state)`` of a random record of ``topics``
    (signed ones by default) of a copy of ``template``, ``rounds`` times: the audit names
    what it names with ``without`` (module, attribute, stand-in) patched in. Returns the
    divergences found."""
    marks = ", ".join("?" * len(topics))
    with sqlite3.connect(template / "ledger.sqlite") as conn:
        rows = conn.execute(
            f"SELECT rowid, state FROM stored_events WHERE topic IN ({marks})", sorted(topics)
        ).fetchall()
    conn.close()
    found: set[str | None] = set()
    for _ in range(rounds):
        rowid, state = rng.choice(rows)
        at = rng.randrange(*span(state))
        work = tmp_path / "work"
        copy_store(template, work)
        changed = state[:at] + bytes([state[at] ^ (1 << rng.randrange(8))]) + state[at + 1 :]
        set_state(work / "ledger.sqlite", rowid, changed)
        found.add(audits_alike(work, monkeypatch, without))
    return found


def audits_alike(
    work: Path, monkeypatch: pytest.MonkeyPatch, without: tuple[object, str, Callable[..., object]]
) -> str | None:
    """The store in ``work`` audits to the same divergence and notes as it does with
    ``without`` (module, attribute, stand-in) patched in; returns the divergence."""
    audited = run_audit(work)
    with monkeypatch.context() as m:
        m.setattr(*without)
        alone = run_audit(work)
    assert audited.divergence == alone.divergence and audited.notes == alone.notes
    return audited.divergence


def test_tampered_stores_audit_to_the_same_divergence_with_and_without_the_fast_path(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = (audit_records, "fast_signed_record", lambda mapper, n: None)
    found = flips_audit_alike(
        template, tmp_path, monkeypatch, random.Random(19), 24, lambda s: (0, len(s)), without
    )
    # (A change in the unsealed tail's ingest time is found by nothing yet, either way.)
    assert len(found - {None}) > 10


# ----- tag claims -----------------------------------------------------------------------

CLAIMED = topic_of(TagClaim.Claimed)


def claim_agrees(ledger: CustodyLedger, n: Notification) -> bool:
    """Whether the tag claim fast path accepted ``n``; if it did, the reference decodes
    the same event (class, fields, their order)."""
    event = fast_tag_claim(ledger.mapper, n)
    if event is None:
        return False
    expected = decode_record(ledger.mapper, n, "here")  # raises: the fast path was wrong
    assert type(event) is type(expected) and list(vars(event).items()) == list(
        vars(expected).items()
    )
    return True


def test_every_tag_claim_of_a_real_store_takes_its_fast_path(ledger: CustodyLedger) -> None:
    claims = [n for n in notifications(ledger) if n.topic == CLAIMED]
    assert len(claims) >= 8 and all(claim_agrees(ledger, n) for n in claims)
    others = [n for n in notifications(ledger) if n.topic != CLAIMED]
    assert not any(fast_tag_claim(ledger.mapper, n) for n in others)


def test_no_changed_byte_of_a_claim_is_accepted_unless_the_reference_accepts_it(
    ledger: CustodyLedger,
) -> None:
    n = next(n for n in notifications(ledger) if n.topic == CLAIMED)
    accepted = set()
    for at in range(len(n.state)):
        changes = {n.state[at] ^ 0x01, n.state[at] ^ 0x20, ord(" "), ord("\\"), ord('"'), 0xC3}
        for new in changes - {n.state[at]}:
            if claim_agrees(
                ledger, replace(n, state=n.state[:at] + bytes([new]) + n.state[at + 1 :])
            ):
                accepted.add(at)
        for state in (n.state[:at] + n.state[at + 1 :], n.state[:at] + b"a" + n.state[at:]):
            if claim_agrees(ledger, replace(n, state=state)):
                accepted.add(at)
    # Only another ingest time or another item id is still a claim the application writes.
    start = n.state.index(b'"_data_":"') + len(b'"_data_":"')
    item = n.state.index(b'"item_id":"') + len(b'"item_id":"')
    assert accepted and accepted <= set(range(start, n.state.index(b'"', start))) | set(
        range(item, len(n.state) - 1)
    )


def test_other_claim_columns_go_to_the_reference(ledger: CustodyLedger) -> None:
    n = next(n for n in notifications(ledger) if n.topic == CLAIMED)
    recorded = next(n for n in notifications(ledger) if n.topic == topic_of(Item.CustodyRecorded))
    for changed in (
        replace(n, originator_version=2),  # a created event after version 1
        replace(n, originator_version=True),
        replace(n, topic=recorded.topic),
        replace(recorded, topic=CLAIMED),
        replace(n, state=n.state.replace(b'"item_id":"', b'"item_id": "')),
        replace(n, state=n.state.replace(b'"}', b'\\u0041"}')),  # an escape it would decode
    ):
        assert fast_tag_claim(ledger.mapper, changed) is None, changed
    # Another claim id, or a claim for another item, is the reference's to accept too.
    assert claim_agrees(ledger, replace(n, originator_id="tag:other"))


def test_tampered_claims_audit_to_the_same_divergence_with_and_without_their_fast_path(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = (audit_records, "fast_tag_claim", lambda mapper, n: None)
    found = flips_audit_alike(
        template, tmp_path, monkeypatch, random.Random(1923), 16, lambda s: (0, len(s)),
        without, topics={CLAIMED},
    )  # fmt: skip
    assert len(found - {None}) > 6
