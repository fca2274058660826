"""The ledger's documented bulk reader: rows as stored, and their JSON without envelopes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.bench_ingest import sealed_messages
from domain.tags import tag_claim_id
from ledger.application import Report
from ledger.records import ITEM_RECORDS, is_item_topic, leaf_source
from ledger.stored import (
    ENVELOPE_MEMBER,
    STATE_FIELDS,
    present_ids,
    rows_of,
    select_rows,
    state_json,
    stored_envelope,
    stored_leaf_source,
    without_envelope,
)
from streams.envelope import open_envelope, read_body
from tests.owners import sold_and_claimed
from tests.projections.support import make_store
from tests.support import World, custody, make_world, story_events


def test_without_envelope_cuts_exactly_the_envelope() -> None:
    state = b'{"a":1,"envelope":{"_type_":"bytes_b64","_data_":"QUJD+/=="},"b":2}'
    assert without_envelope(state) == b'{"a":1,"b":2}'
    assert without_envelope(b'{"envelope":null}') == b'{"envelope":null}'


def test_every_item_record_type_reads_as_its_state_minus_the_envelope(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    story = story_events()
    # commissioned, custody recorded, flagged (after the sale), sighted (never commissioned)
    store.record([*story, custody(8, "observing", "osaka"), custody(1, "observing", "osaka", "x")])
    sold_and_claimed(World(store.ledger, store.keys))  # an owner statement
    rows = select_rows(store.ledger, 1, 10_000)
    seen = set()
    for _, topic, _, _, state in rows:
        if not is_item_topic(topic):
            continue
        seen.add(topic.rpartition(":")[2])
        whole = json.loads(state)
        whole.pop("envelope", None)
        assert json.loads(state_json(store.ledger.mapper, state)) == whole
        assert set(whole) - {"originator_topic"} <= set(STATE_FIELDS) | {"envelope"}
    assert seen == {r.topic_event for r in ITEM_RECORDS}


def test_the_leaf_read_from_the_state_is_the_decoded_events(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    story = story_events()
    store.record([*story, custody(8, "observing", "osaka"), custody(1, "observing", "osaka", "x")])
    sold_and_claimed(World(store.ledger, store.keys))  # an owner statement
    mapper = store.ledger.mapper
    read: dict[str, int] = {}
    for n in store.ledger.recorder.select_notifications(start=1, limit=10_000):
        fast = stored_leaf_source(mapper, n)
        if not is_item_topic(n.topic):
            assert fast is None
            continue
        decoded = leaf_source(str(n.originator_id), n.originator_version, mapper.to_domain_event(n))
        event = n.topic.rpartition(":")[2]
        if fast is not None:
            assert fast == decoded
            read[event] = read.get(event, 0) + 1
        else:  # platform-made records (flags) have no envelope leaf: they are decoded
            assert decoded.kind == "P"
    assert set(read) == {r.topic_event for r in ITEM_RECORDS if r.leaf == "E"}


def test_the_envelope_is_read_only_where_the_application_writes_it() -> None:
    member = ENVELOPE_MEMBER.decode()
    assert stored_envelope(f'{{"a":1{member}QUJD"}}}}'.encode()) == b"ABC"
    assert stored_envelope(f'{{"a":1{member}QUJD"}},"b":2}}'.encode()) is None  # not last
    assert stored_envelope(f'{{"a":1{member}QU\\u004aD"}}}}'.encode()) is None  # escaped
    assert stored_envelope(f'{{"a":{{"x":1{member}QUJD"}}}}}}'.encode()) is None  # nested
    assert stored_envelope(b'{"envelope":null}') is None
    # Only strict base64: what the lenient decoder would skip or refuse, the record's
    # decoding judges (a raw control character is not JSON; bad padding does not decode).
    for text in ("QU\nJD", "QU\tJD", "QU\x00JD", "QUJ", "QU=D", "QUJD!"):
        assert stored_envelope(f'{{"a":1{member}{text}"}}}}'.encode()) is None, text


def test_the_direct_read_equals_the_recorders(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record([custody(1, "commissioning", "brand", "urn:item:1")])
    direct = select_rows(store.ledger, 3, 1000)
    assert direct == rows_of(store.ledger.recorder.select_notifications(start=3, limit=1000))
    assert direct


def test_present_ids_names_exactly_the_stored_aggregates(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    messages = [value for _, value in sealed_messages(world, 3, "urn:present:")]
    world.ledger.process([Report(read_body(open_envelope(m)), m) for m in messages], None)
    stored = {"urn:present:0", "urn:present:2", "brand", tag_claim_id("urn:present:TAG-1")}
    asked = stored | {"urn:present:9", "urn:never", tag_claim_id("no-such-tag"), "bad\x00id"}
    assert present_ids(world.ledger, asked) == stored


def test_a_batch_of_new_items_asks_the_store_once_for_all_of_them(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    messages = [value for _, value in sealed_messages(world, 60, "urn:once:")]
    reports = [Report(read_body(open_envelope(m)), m) for m in messages]
    repository = world.ledger.repository
    gets: list[str] = []
    get = repository.get

    def counted(aggregate_id: Any, *args: Any, **kwargs: Any) -> Any:
        gets.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    repository.get = counted  # type: ignore[method-assign]
    decisions = world.ledger.process(reports, None)
    assert all(d.accepted for d in decisions)
    # Only parties are loaded one by one: no new item or tag is looked up.
    assert gets and all(not g.startswith(("urn:once:", tag_claim_id(""))) for g in gets), gets
