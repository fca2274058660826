"""The anchor timestamps its checkpoints in public: OpenTimestamps calendars of the tests'
own on loopback stand in for the public ones (there is no network here)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.cli import main
from ledger.application import Report
from streams.envelope import seal
from tests.support import make_world, story_events
from witness import timestamps
from witness.note import parse_note
from witness.stamper import CheckpointStamper, stamped_checkpoints

from .calendar import Calendar
from .testlog import GrowingLog


@pytest.fixture
def calendars() -> Iterator[tuple[Calendar, Calendar]]:
    a, b = Calendar(), Calendar()
    yield a, b
    a.close()
    b.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def notes(sizes: list[int]) -> dict[int, str]:
    log, out = GrowingLog("example.com/custody-log"), {}
    for size in sizes:
        log.grow(size - log.size)
        out[size] = log.note()
    return out


def test_the_latest_checkpoint_is_stamped_once_per_interval(
    tmp_path: Path, calendars: tuple[Calendar, Calendar]
) -> None:
    a, b = calendars
    clock = Clock()
    stamper = CheckpointStamper(
        tmp_path, [a.url, b.url], interval=60, upgrade_interval=600, clock=clock
    )
    note = notes([3, 5, 7, 9])
    stamper.offer(note[5])
    stamper.offer(note[3])  # an older one arriving late never replaces a newer
    stamper.run_once()
    assert stamped_checkpoints(tmp_path) == [5]
    assert (tmp_path / "checkpoint-5").read_text() == parse_note(note[5]).text  # the body
    assert a.submissions == b.submissions == 1

    clock.now += 30
    stamper.offer(note[7])
    stamper.run_once()  # within the interval: kept, not stamped
    assert stamped_checkpoints(tmp_path) == [5]
    clock.now += 31
    stamper.offer(note[9])
    stamper.run_once()  # the latest offered wins: 9 dates every block 7 does
    assert stamped_checkpoints(tmp_path) == [5, 9]
    assert stamper.status.stamped == 2 and stamper.status.failures == 0


def test_a_calendar_down_loses_nothing_and_pending_proofs_complete_later(
    tmp_path: Path, calendars: tuple[Calendar, Calendar]
) -> None:
    a, b = calendars
    clock = Clock()
    stamper = CheckpointStamper(tmp_path, [a.url], interval=0, upgrade_interval=600, clock=clock)
    note = notes([4])[4]
    a.close()
    stamper.offer(note)
    stamper.run_once()
    assert stamped_checkpoints(tmp_path) == [] and stamper.status.failures == 1
    assert "no calendar accepted" in stamper.status.last_error

    stamper.calendars = (b.url,)  # the operator fixes the setting; the offer is still there
    stamper.run_once()
    assert stamped_checkpoints(tmp_path) == [4]
    ots = tmp_path / "checkpoint-4.ots"
    with pytest.raises(timestamps.TimestampError) as pending:
        timestamps.verify(ots.read_bytes(), parse_note(note).text.encode(), bytes(80))
    assert pending.value.step == "ots_pending"

    header = b.confirm()
    clock.now += 601
    stamper.run_once()  # the upgrade pass is due
    assert stamper.status.complete == 1
    verified = timestamps.verify(ots.read_bytes(), parse_note(note).text.encode(), header)
    assert verified.height == b.height
    submissions = b.submissions
    clock.now += 601
    assert stamper.upgrade_pending() == 0  # complete: no calendar is asked again
    assert b.submissions == submissions


def test_the_thread_stamps_what_the_anchor_offers(
    tmp_path: Path, calendars: tuple[Calendar, Calendar]
) -> None:
    a, _ = calendars
    stamper = CheckpointStamper(tmp_path, [a.url], interval=0, upgrade_interval=3600).start()
    try:
        stamper.offer(notes([2])[2])
        deadline = time.monotonic() + 60  # a condition, polled: generous on a busy machine
        while not stamped_checkpoints(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stamped_checkpoints(tmp_path) == [2]
    finally:
        stamper.stop()
    assert not any(t.name == "ots-stamper" for t in threading.enumerate())


def test_anchor_stamps_and_verify_checks_the_bundles_checkpoint(
    tmp_path: Path,
    calendars: tuple[Calendar, Calendar],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = calendars
    data = tmp_path / "data"
    world = make_world(data)
    for event in story_events():
        report = Report(event, seal(event, world.keys[event.party_id]))
        (decision,) = world.ledger.process([report], None)
        assert decision.accepted
    monkeypatch.setenv("ASSAY_OTS_CALENDARS", f"{a.url} {b.url}")
    monkeypatch.setenv("ASSAY_OTS_UPGRADE_INTERVAL", "0")

    def assay(*args: str) -> int:
        return main(["--data-dir", str(data), *args])

    assert assay("keys", "init") == 0
    assert assay("anchor", "--once") == 0
    out = capsys.readouterr().out
    assert "timestamps: 1 checkpoint(s) stamped" in out, out
    stamped = data / "timestamps"
    assert stamped_checkpoints(stamped) == [1]
    bundle = tmp_path / "bundle.json"
    assert assay("prove", "urn:item:1", "-o", str(bundle)) == 0
    signed = parse_note(json.loads(bundle.read_text())["checkpoint"])
    assert signed.text == (stamped / "checkpoint-1").read_text()

    header = a.confirm()
    assert assay("anchor", "--once") == 0  # nothing new to seal: upgrades the pending proof
    capsys.readouterr()
    key = str(data / "keys" / "platform.pub")
    ots = str(stamped / "checkpoint-1.ots")
    check = ("verify", str(bundle), "--key", key, "--ots", ots)
    assert assay(*check, "--block-header", header.hex()) == 0
    out = capsys.readouterr().out
    assert out.startswith("VERIFIED: urn:item:1: 7 event(s)")
    assert f"TIMESTAMPED: the checkpoint existed before Bitcoin block {a.height}" in out

    other = b.confirm()  # a real header, but not the one the proof ends in
    assert assay(*check, "--block-header", other.hex(), "--json") == 1
    assert json.loads(capsys.readouterr().out)["step"] == "ots_header"
    assert assay(*check) == 2
    assert "--ots and --block-header go together" in capsys.readouterr().err
