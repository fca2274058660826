"""Which parties a notification range touches (anchoring.registry): read from the store
(the audit, the anchor's range before its batch) or from notifications in hand (the
anchor's batch), the same :class:`Touched`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from anchoring.registry import Touched, touched_by, touched_in
from ledger.records import is_party_topic
from tests.anchoring.stores import record_items
from tests.support import PARTIES, T0, make_world


def test_notifications_in_hand_touch_what_the_stored_range_touches(
    tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    ledger = world.ledger
    record_items(world, 0, 2)
    ledger.revoke_device("dc", "dc-d1", at=T0 + timedelta(days=400))
    record_items(world, 2, 1)
    ledger.enrol_device("lab", "lab-d2", world.keys["lab"].public_key_hex, at=T0)
    record_items(world, 3, 1)
    stored = ledger.recorder.select_notifications(start=1, limit=10_000)
    last = stored[-1].id

    whole = touched_in(ledger, 1, last)
    assert set(whole.versions) == set(PARTIES)
    assert whole.versions["dc"] == ledger.get_party("dc").version
    assert whole.devices["dc"] >= {"dc-d1"} and "lab-d2" in whole.devices["lab"]
    assert touched_by(ledger, stored) == whole
    # The anchor's way: the range before its batch from the store, the batch in hand.
    for cut in range(0, len(stored), 7):
        before = touched_in(ledger, 1, stored[cut].id - 1)
        before.update(touched_by(ledger, stored[cut:]))
        assert before == whole, cut
    # The last story's range holds no party event: it touches none, either way.
    story = stored[-7:]
    assert not any(is_party_topic(n.topic) for n in story)
    assert touched_by(ledger, story) == touched_in(ledger, story[0].id, last) == Touched()
