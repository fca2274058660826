"""The ledger's documented bulk reader: rows as stored, and their JSON without envelopes."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.records import ITEM_RECORDS, is_item_topic
from ledger.stored import STATE_FIELDS, rows_of, select_rows, state_json, without_envelope
from tests.owners import sold_and_claimed
from tests.projections.support import make_store
from tests.support import World, custody, story_events


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


def test_the_direct_read_equals_the_recorders(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.record([custody(1, "commissioning", "brand", "urn:item:1")])
    direct = select_rows(store.ledger, 3, 1000)
    assert direct == rows_of(store.ledger.recorder.select_notifications(start=3, limit=1000))
    assert direct
