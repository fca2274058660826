"""Forged custody events through the real ingest: each refused with the reason that fits.

After an item's genuine story (brand → lab → DC → Ginza → sold), forgers publish: events
signed by an unknown device, a device of an unknown party, a revoked device and a device
whose role may not record the step; a valid signature moved onto another body; a signed
event whose id was changed to replay it; the same step re-signed under a new event id;
and events claiming another party than the key that signed them. None changes the item,
and each is in the dead-letter topic with its code and exact bytes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from streams.avro import default_registry
from streams.deadletter import DeadLetter
from streams.envelope import ENVELOPE_SCHEMA, open_envelope, seal
from streams.keys import DeviceKey
from streams.producer import Producer
from tests.streams.test_ingest import Topics, dead_letters, ingest_once
from tests.support import T0, World, custody, make_world, story_events

pytestmark = pytest.mark.kafka

ITEM = "urn:item:1"  # sold: its story is complete
HELD = "urn:item:2"  # its story stops with Ginza holding it, unsold


def relabel(message: bytes, party: str, device: str, *, body: bytes | None = None) -> bytes:
    """The envelope with other outer party/device labels (or body), signature unchanged."""
    envelope = open_envelope(message)
    return default_registry().encode(
        ENVELOPE_SCHEMA,
        {
            "party_id": party,
            "device_id": device,
            "body": envelope.body if body is None else body,
            "signature": envelope.signature,
        },
    )


def forgeries(world: World) -> list[tuple[str, str, bytes, bytes]]:
    """(what, expected code, message, Kafka key) for every forgery, in publishing order."""
    story, held = story_events(ITEM), story_events(HELD, "TAG-2")[:6]
    keys = world.keys
    genuine = {n: seal(event, keys[event.party_id]) for n, event in enumerate(story, 1)}
    after = custody(8, "observing", "ginza", ITEM)  # a scan after the sale
    stranger = DeviceKey.generate("ginza", "ginza-d9")  # never enrolled
    outsider = DeviceKey.generate("pirate", "pirate-d1")  # party never registered
    # The lab's real device signing as if it were the brand's (same device name pattern).
    lab_as_brand = DeviceKey("brand", "brand-d1", keys["lab"].signing_key)
    ginza_body = open_envelope(seal(after, keys["ginza"])).body
    other_body = open_envelope(seal(custody(9, "observing", "ginza", ITEM), keys["ginza"])).body
    item, other = ITEM.encode(), HELD.encode()
    cases = [
        (
            "signed by a device never enrolled",
            "device_not_enrolled",
            seal(replace(after, device_id="ginza-d9"), stranger),
        ),
        ("signed by a party never registered", "unknown_party", seal(after, outsider)),
        (
            "signed by the osaka device after its revocation",
            "device_revoked",
            seal(custody(10, "observing", "osaka", ITEM), keys["osaka"]),
        ),
        (
            "a step the lab's role may not record (a sale)",
            "role_not_allowed",
            seal(custody(11, "retail_selling", "lab", ITEM, buyer_ref="b"), keys["lab"]),
        ),
        (
            "a store commissioning an item (brands only)",
            "role_not_allowed",
            seal(
                custody(1, "commissioning", "ginza", "urn:item:fake", tag_uid="T", brand="B"),
                keys["ginza"],
            ),
        ),
        (
            "Ginza's valid signature moved onto another body",
            "bad_signature",
            relabel(seal(after, keys["ginza"]), "ginza", "ginza-d1", body=other_body),
        ),
        (
            "the brand's signature over its first event, on Ginza's body",
            "bad_signature",
            relabel(genuine[1], "ginza", "ginza-d1", body=ginza_body),
        ),
        (
            "a genuine event replayed with a new event id written into the signed body",
            "bad_signature",
            relabel(
                genuine[6],
                "ginza",
                "ginza-d1",
                body=open_envelope(genuine[6]).body.replace(b"#e6", b"#e0"),
            ),
        ),
        (
            "Ginza's receiving of the held item re-signed under a new event id",
            "not_in_transit",
            seal(replace(held[5], event_id=f"{HELD}#replayed"), keys["ginza"]),
        ),
        (
            "the brand's shipment of the held item re-signed under a new event id",
            "not_holder",
            seal(replace(held[2], event_id=f"{HELD}#again"), keys["brand"]),
        ),
        (
            "the lab's key signing as the brand's device",
            "bad_signature",
            seal(custody(12, "observing", "brand", ITEM), lab_as_brand),
        ),
        (
            "an envelope labelled Osaka around Ginza's signed body",
            "bad_signature",
            relabel(seal(after, keys["ginza"]), "osaka", "osaka-d1"),
        ),
        (
            "the DC's device signing a body that claims to be Ginza's",
            "envelope_mismatch",
            seal(replace(after, party_id="ginza", device_id="ginza-d1"), keys["dc"]),
        ),
        (
            "a body claiming Ginza, signed by Ginza's device, labelled with the DC's device",
            "bad_signature",
            relabel(seal(after, keys["ginza"]), "dc", "dc-d1"),
        ),
        (
            "a genuine envelope published under an item's key it is not about",
            "key_mismatch",
            seal(after, keys["ginza"]),
        ),
    ]
    keyed = {"a store commissioning": b"urn:item:fake", "an item's key": other, "held item": other}
    return [
        (what, code, message, next((k for s, k in keyed.items() if s in what), item))
        for what, code, message in cases
    ]


def _offset(letter: DeadLetter) -> int:
    return letter.offset


def test_forged_events_are_refused_with_the_right_reason(
    kafka_bootstrap: str, tmp_path: Path, database_url: str
) -> None:
    world = make_world(tmp_path, database_url)
    world.ledger.revoke_device("osaka", "osaka-d1", at=T0 + timedelta(hours=9))
    topics = Topics(kafka_bootstrap, partitions=1)
    forged = forgeries(world)
    with Producer(kafka_bootstrap) as producer:
        for event in story_events(ITEM) + story_events(HELD, "TAG-2")[:6]:
            key = event.item_id.encode()
            producer.send(topics.events, seal(event, world.keys[event.party_id]), key)
        for _, _, message, key in forged:
            producer.send(topics.events, message, key)
    stats = ingest_once(world, kafka_bootstrap, topics).stats
    assert (stats.accepted, stats.flagged, stats.rejected) == (13, 0, len(forged))
    # By source offset: a batch's gate refusals are published before its ledger refusals.
    letters = sorted(dead_letters(kafka_bootstrap, topics.rejected, len(forged)), key=_offset)
    assert [d.offset for d in letters] == list(range(13, 13 + len(forged)))
    got = [(what, letter.code) for (what, *_), letter in zip(forged, letters, strict=True)]
    assert got == [(what, code) for what, code, *_ in forged]
    assert [(d.value, d.key) for d in letters] == [(m, k) for *_, m, k in forged]
    assert all(letter.reason for letter in letters)
    sold, held = world.ledger.get_item(ITEM), world.ledger.get_item(HELD)
    assert (sold.version, sold.state.status.value, len(sold.state.flags)) == (7, "sold", 0)
    assert (held.version, held.state.holder, len(held.state.flags)) == (6, "ginza", 0)
