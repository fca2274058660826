"""Pre-owned intake through a real broker and the ingest: the appraiser's signed intake
creates the item; an intake under a brand's GS1 prefix is a dead letter with its code."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.items import Signal
from streams.producer import Producer
from streams.scanner import Scanner
from tests.streams.test_ingest import Topics, dead_letters, ingest_once
from tests.support import custody, make_world

pytestmark = pytest.mark.kafka

PREOWNED = "urn:assay:item:po-1"
APPRAISED = {"brand": "Hermès", "model": "Kelly", "verdict": "genuine", "certificate": "C-PO"}


def test_an_intake_through_the_ingest(kafka_bootstrap: str, tmp_path: Path) -> None:
    world = make_world(tmp_path)
    topics = Topics(kafka_bootstrap, partitions=1)
    events = [
        custody(1, "intake", "lab", PREOWNED, tag_uid="NFC-1", **APPRAISED),
        custody(2, "commissioning", "brand", PREOWNED, tag_uid="NFC-9", brand="B", model="M",
                serial="9"),
        # The test brand owns prefix 0614141: an appraiser cannot mint its SGTINs.
        custody(1, "intake", "lab", "urn:epc:id:sgtin:0614141.100001.5", tag_uid="NFC-2",
                **APPRAISED),
    ]  # fmt: skip
    with Producer(kafka_bootstrap) as producer:
        for event in events:
            Scanner(world.keys[event.party_id], producer, topic=topics.events).publish(event)
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.flagged, stats.rejected) == (1, 1, 1)
    state = world.ledger.get_item(PREOWNED).state
    assert state.provenance == "authenticated at intake by lab"
    assert [f.signal for f in state.flags] == [Signal.DUPLICATE_COMMISSIONING]
    (letter,) = dead_letters(kafka_bootstrap, topics.rejected, 1)
    assert letter.code == "brand_not_owned"
    assert "brand's GS1 company prefix 0614141" in letter.reason
