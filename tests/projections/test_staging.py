"""Ids and texts that need escaping survive the trip through the staged JSON lines."""

from __future__ import annotations

from pathlib import Path

from projections.projector import Projector
from projections.staging import json_string_body, without_envelope
from tests.projections.support import make_store, rows
from tests.support import custody


def test_awkward_ids_and_texts_are_projected_verbatim(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    item = 'urn:item:"quoted"\\back/slash\tté 東京'
    commissioned = custody(
        1, "commissioning", "brand", item, tag_uid='T"1', brand="Hermès", model="Kelly", serial="\n"
    )
    store.record([commissioned])
    with Projector(store.ledger, store.chain, tmp_path / "p.duckdb") as p:
        p.catch_up()
        assert rows(p.con, "SELECT item_id, brand, tag_uid, serial FROM items") == [
            (item, "Hermès", 'T"1', "\n")
        ]
        assert rows(p.con, "SELECT item_id, leaf_hash IS NOT NULL FROM custody_events") == [
            (item, True)
        ]


def test_json_string_body_escapes_only_when_needed() -> None:
    assert json_string_body("urn:item:1") == "urn:item:1"
    assert json_string_body('a"b\\c\n') == 'a\\"b\\\\c\\n'


def test_without_envelope_cuts_exactly_the_envelope() -> None:
    state = b'{"a":1,"envelope":{"_type_":"bytes_b64","_data_":"QUJD+/=="},"b":2}'
    assert without_envelope(state) == b'{"a":1,"b":2}'
    assert without_envelope(b'{"envelope":null}') == b'{"envelope":null}'
