"""Crash safety: ``kill -9`` of ``assay anchor`` while it seals, again and again.

After each kill a new anchor process takes over; in the end the chain audits clean (which
recomputes every block's head map root and stored map entries), the stored map's root is the
head's, the stored map state stands at the newest block after every kill (and the audit
finds it equal to the rebuild), and the multiset of (item, version) over all blocks equals
the ledger's item events: nothing was sealed twice and nothing was skipped.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from anchoring.audit import audit
from anchoring.chain import Chain
from anchoring.keyfiles import read_verifier_key
from ledger.application import Report
from ledger.config import store_env
from streams.envelope import seal
from tests.support import PARTIES, make_world, story_events

ITEMS = 150  # 1,050 item events (+ tag claims) in blocks of 3 notifications: ~500 seals
KILLS = 4


def blocks_sealed(chain_db: Path) -> int:
    if not chain_db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{chain_db}?mode=ro", uri=True, timeout=5) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM anchored_blocks").fetchone()
    except sqlite3.OperationalError:  # table not created yet
        return 0
    return int(count)


def stored_heights(chain_db: Path) -> dict[str, int | None]:
    """What the chain file holds, read behind the chain's back (no open that could rebuild
    the state) in ONE statement, so one snapshot: the newest block, how many blocks, the
    height the stored map state's head row names, the newest block with stored map entries
    (every block changes some), the position."""
    with sqlite3.connect(f"file:{chain_db}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute(
            "SELECT (SELECT MAX(height) FROM anchored_blocks),"
            " (SELECT COUNT(*) FROM anchored_blocks),"
            " (SELECT value FROM anchored_map_bands WHERE id = -1),"
            " (SELECT MAX(height) FROM anchored_map_entries),"
            " (SELECT MAX(notification_id) FROM tracking)"
        ).fetchone()
    head = None if row[2] is None else int.from_bytes(bytes(row[2])[:8], "big", signed=True)
    return {"block": row[0], "blocks": row[1], "state": head, "entries": row[3], "position": row[4]}


def start_anchor(data: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ASSAY_DATA_DIR": str(data),
        "ASSAY_BLOCK_MAX_EVENTS": "3",
        "ASSAY_BLOCK_MAX_SECONDS": "1000",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "assay", "anchor", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_mid_seal_neither_loses_nor_repeats_an_event(tmp_path: Path) -> None:
    data = tmp_path / "data"
    world = make_world(data)  # the ledger lives at data/ledger.sqlite, as `assay` expects
    reports = []
    for n in range(ITEMS):
        for event in story_events(f"urn:item:{n}", f"TAG-{n}"):
            reports.append(Report(event, seal(event, world.keys[event.party_id])))
    world.ledger.process(reports, None)
    chain_db = data / "chain.sqlite"

    kills = 0
    for round_ in range(KILLS):
        process = start_anchor(data)
        target = blocks_sealed(chain_db) + 20 + 15 * round_
        deadline = time.monotonic() + 60
        while blocks_sealed(chain_db) < target and process.poll() is None:
            assert time.monotonic() < deadline, "the anchor made no progress"
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        _, stderr = process.communicate(timeout=30)
        # The kill left the map state at the newest block (written in its transaction).
        stored = stored_heights(chain_db)
        said = (round_, process.returncode, stored, stderr)
        assert stored["block"] is not None and stored["blocks"] == stored["block"] + 1, said
        assert stored["state"] == stored["entries"] == stored["block"], said
    assert kills >= 2, "the anchor finished before it could be killed; make the work longer"

    finisher = start_anchor(data)
    _, stderr = finisher.communicate(timeout=120)
    assert finisher.returncode == 0, stderr.decode()

    ledger = world.ledger
    chain = Chain(store_env("", chain_db))
    checkpoint = (data / "checkpoint").read_text()
    verifier = read_verifier_key(data / "keys" / "platform.pub")
    report = audit(ledger, chain, verifier, checkpoint)
    assert report.ok, report.divergence

    sealed = Counter(
        (item, version) for block in chain.sealed_blocks() for item, version in block.items
    )
    recorded = Counter(
        (str(n.originator_id), n.originator_version)
        for n in ledger.recorder.select_notifications(start=1, limit=100_000)
        if n.topic.startswith("domain.items:Item.")
    )
    assert sum(recorded.values()) == ITEMS * 7
    assert sealed == recorded
    head = chain.headers()[-1]
    stored = chain.head_map()
    # The items, and (the registry being on by default) every party and its one device.
    entries = ITEMS + 2 * len(PARTIES)
    assert (stored.root, stored.size, stored.height) == (head.map_root, entries, head.height)
    # The audit above compared the stored map state with the rebuild: the head's proofs
    # come from it.
    assert chain.map_state_at(head.height)
