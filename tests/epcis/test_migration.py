"""Migrating a year of EPCIS history through a real gateway (docs/custody-rules.md,
"Migrating a history").

Use case: a brand brings the past year of its EPCIS events (bags commissioned every month,
counted every month, six shipped to its warehouse) into Assay. Sent through a gateway whose
key was enrolled the usual way (today), every event is refused ``device_not_enrolled``: the
key did not speak for the brand back then. Enrolled with ``--effective-from`` a year back,
the same events are stored, and the enrolment shows both its times.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.envelope import open_envelope, read_body
from tests.epcis.documents import BRAND_SITE, bag, commissioning, document, event, shipping
from tests.epcis.support import Platform, platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BRAND = "maison-aurel"


@pytest.fixture
def site(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Platform]:
    with platform(tmp_path, kafka_bootstrap) as made:
        yield made


def a_year_of_history(now: datetime) -> tuple[bytes, int]:
    """Two bags commissioned each month for twelve months, every bag counted each month,
    six shipped to the warehouse in the last one; and how many item events that makes."""
    start = now - timedelta(days=360)
    events: list[dict[str, Any]] = []
    bags: list[str] = []
    for month in range(12):
        at = start + timedelta(days=30 * month)
        new = [bag(900 + 2 * month), bag(901 + 2 * month)]
        bags += new
        made, counted = (f"urn:uuid:0000a11e-000{k}-4000-8000-{month:012d}" for k in (0, 1))
        events.append(commissioning(made, _time(at), new))
        counted_at = _time(at + timedelta(days=10))
        events.append(event(counted, "cycle_counting", counted_at, BRAND_SITE, epcs=list(bags)))
    shipped = "urn:uuid:0000a11e-0002-4000-8000-000000000000"
    events.append(shipping(shipped, _time(now - timedelta(days=5)), bags[:6], "urn:assay:party:dc"))
    item_events = len(bags) + sum(2 * (m + 1) for m in range(12)) + 6
    return document(*events), item_events


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _assay(site: Platform, *args: str) -> str:
    done = site.assay(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _enrolled(site: Platform, device: str, *extra: str) -> Path:
    key = site.root / "keys" / f"{device}.key"
    _assay(site, "device", "keygen", "--out", str(key), "--party", BRAND, "--device", device)
    _assay(site, "device", "enrol", "--key", str(key), *extra)
    return key


def test_a_year_of_history_needs_a_key_effective_from_a_year_back(site: Platform) -> None:
    now = datetime.now(UTC)
    history, item_events = a_year_of_history(now)
    _assay(site, "party", "add", BRAND, "--name", "Maison Aurel", "--role", "brand",
           "--brand", "Maison Aurel", "--company-prefix", "0614141")  # fmt: skip
    _assay(site, "party", "add", "dc", "--name", "DC", "--role", "warehouse")

    usual = site.gateway(_enrolled(site, "gateway-usual"))
    assert usual.capture_all(history)["itemEvents"] == item_events
    counts = site.ingest()
    assert (counts["accepted"], counts["rejected"]) == (0, item_events)
    letters = [json.loads(line) for line in
               _assay(site, "rejected", "--json", "--limit", "1000").splitlines()]  # fmt: skip
    assert len(letters) == item_events
    assert {letter["code"] for letter in letters} == {"device_not_enrolled"}
    first = letters[0]
    assert f"device 'gateway-usual' of '{BRAND}' was enrolled at" in first["reason"]
    custody = read_body(open_envelope(base64.b64decode(first["value_b64"])))
    assert custody.device_id == "gateway-usual" and custody.occurred_at < now

    a_year_back = (now - timedelta(days=366)).isoformat()
    migration = site.gateway(_enrolled(site, "gateway-migration", "--effective-from", a_year_back))
    migration.capture_all(history)  # the same document: the same event ids
    counts = site.ingest()
    assert (counts["accepted"], counts["rejected"], counts["flagged"]) == (item_events, 0, 0)
    for n in (900, 905, 923):
        state = site.ledger.get_item(bag(n)).state
        expected = ("in_transit", "dc") if n < 906 else ("in_custody", None)
        assert (state.status.value, state.consignee) == expected
    stored = site.ledger.item_events(bag(900))
    assert {e.custody.device_id for e in stored} == {"gateway-migration"}

    # The backdated key is visible wherever enrolments are shown.
    _assay(site, "project", "--until-idle", "1")
    devices = json.loads(
        _assay(site, "sql", "SELECT device_id, enrolled_at, effective_from, recorded_at "
               "FROM devices ORDER BY device_id", "--json")
    )  # fmt: skip
    assert [d["device_id"] for d in devices] == ["gateway-migration", "gateway-usual"]
    backdated, usual_row = devices
    assert datetime.fromisoformat(backdated["effective_from"]) == datetime.fromisoformat(
        a_year_back
    )
    assert datetime.fromisoformat(backdated["recorded_at"]) >= now - timedelta(minutes=1)
    assert datetime.fromisoformat(backdated["enrolled_at"]) >= now - timedelta(minutes=1)
    assert usual_row["effective_from"] is None and usual_row["recorded_at"]


def test_a_backdated_enrolment_cannot_be_moved_quietly_once_sealed(site: Platform) -> None:
    """The effective-from time is anchored: moving it after the block is sealed (a key made
    to speak for the brand even earlier) is found by the audit, which names the block. The
    device's record is an entry of the block's head map (docs/proof-bundle.md §12), so the
    first thing found wrong is that block's map root."""
    _assay(site, "party", "add", BRAND, "--name", "Maison Aurel", "--role", "brand",
           "--brand", "Maison Aurel", "--company-prefix", "0614141")  # fmt: skip
    now = datetime.now(UTC)
    a_year_back = (now - timedelta(days=366)).isoformat()
    gateway = site.gateway(_enrolled(site, "gateway-migration", "--effective-from", a_year_back))
    made = _time(now - timedelta(days=200))
    gateway.capture_all(document(commissioning(f"urn:uuid:{uuid.uuid4()}", made, [bag(1)])))
    assert site.ingest()["accepted"] == 1
    _assay(site, "anchor", "--once")  # one block over the enrolment and the commissioning
    clean = site.assay("audit")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    db = site.data_dir / "ledger.sqlite"
    with sqlite3.connect(db) as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic LIKE '%DeviceEnrolled'"
        ).fetchone()
    conn.close()
    recorded = json.loads(state)["effective_from"]
    text = recorded["_data_"] if isinstance(recorded, dict) else recorded
    earlier = str(int(text[:4]) - 5) + text[4:]
    assert bytes(state).count(text.encode()) == 1
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (bytes(state).replace(text.encode(), earlier.encode()), rowid),
        )
    conn.close()
    moved = site.assay("audit")
    assert moved.returncode != 0
    said = moved.stdout + moved.stderr
    assert "block 0: map_root" in said and "the first wrong map root" in said, said
