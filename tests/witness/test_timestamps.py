"""OpenTimestamps end to end against calendars of the tests' own on loopback: a checkpoint
is stamped (pending), the calendar "confirms" it into a real Bitcoin block header, the
proof is upgraded, and verified offline against that header — in Python and by the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from witness import timestamps
from witness.errors import TimestampError

from .calendar import Calendar
from .processes import assay, free_port
from .testlog import GrowingLog


@pytest.fixture
def calendars() -> Iterator[tuple[Calendar, Calendar]]:
    a, b = Calendar(), Calendar()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def checkpoint() -> bytes:
    log = GrowingLog("example.com/custody-log")
    log.grow(12)
    return log.note().encode()


def test_stamp_upgrade_verify(calendars: tuple[Calendar, Calendar], checkpoint: bytes) -> None:
    a, b = calendars
    stamped = timestamps.stamp(checkpoint, [a.url, b.url])
    assert stamped.calendars == (a.url, b.url) and stamped.failures == {}
    assert a.submissions == b.submissions == 1

    with pytest.raises(TimestampError) as pending:
        timestamps.verify(stamped.ots, checkpoint, bytes(80))
    assert pending.value.step == "ots_pending"
    early = timestamps.upgrade(stamped.ots, [a.url, b.url])
    assert (early.changed, early.complete) == (False, False)
    assert early.pending == tuple(sorted([a.url, b.url]))
    assert early.ots == stamped.ots

    header = a.confirm()
    upgraded = timestamps.upgrade(stamped.ots, [a.url, b.url])
    assert upgraded.changed and upgraded.complete
    assert upgraded.pending == (b.url,)  # b has not confirmed yet: still pending there
    verified = timestamps.verify(upgraded.ots, checkpoint, header)
    assert verified.height == a.height
    assert verified.block_time == int.from_bytes(header[68:72], "little")

    other_header = b.confirm()
    with pytest.raises(TimestampError) as wrong:
        timestamps.verify(upgraded.ots, checkpoint, other_header)
    assert wrong.value.step == "ots_header"
    both = timestamps.upgrade(upgraded.ots, [a.url, b.url])
    assert both.complete and both.pending == ()
    assert timestamps.verify(both.ots, checkpoint, other_header).height == b.height
    assert timestamps.verify(both.ots, checkpoint, header).height == a.height

    with pytest.raises(TimestampError) as other_bytes:
        timestamps.verify(both.ots, checkpoint + b"\n", header)
    assert other_bytes.value.step == "ots_digest"
    for garbage in (b"", b"not an ots file", both.ots[:-3], both.ots + b"\x00"):
        with pytest.raises(TimestampError) as malformed:
            timestamps.verify(garbage, checkpoint, header)
        assert malformed.value.step == "ots_format"
    with pytest.raises(TimestampError) as short_header:
        timestamps.verify(both.ots, checkpoint, header[:79])
    assert short_header.value.step == "ots_format"


def test_only_configured_calendars_are_asked(
    calendars: tuple[Calendar, Calendar], checkpoint: bytes
) -> None:
    a, b = calendars
    stamped = timestamps.stamp(checkpoint, [a.url, b.url])
    a.confirm()
    b.confirm()
    result = timestamps.upgrade(stamped.ots, [b.url])
    assert "not a configured calendar" in result.failures[a.url]
    assert result.complete and result.pending == (a.url,)


def test_a_calendar_down_is_reported_and_all_down_is_an_error(
    calendars: tuple[Calendar, Calendar], checkpoint: bytes
) -> None:
    a, _ = calendars
    dead = f"http://127.0.0.1:{free_port()}"
    stamped = timestamps.stamp(checkpoint, [a.url, dead], timeout=2)
    assert stamped.calendars == (a.url,) and dead in stamped.failures
    with pytest.raises(TimestampError) as nobody:
        timestamps.stamp(checkpoint, [dead], timeout=2)
    assert nobody.value.step == "ots_submit"


def test_the_ots_commands(
    calendars: tuple[Calendar, Calendar], checkpoint: bytes, tmp_path: Path
) -> None:
    a, _ = calendars
    target = tmp_path / "checkpoint-12"
    target.write_bytes(checkpoint)
    ots_file = tmp_path / "checkpoint-12.ots"
    out = assay("ots", "stamp", str(target), "--calendar", a.url).stdout
    assert ots_file.exists() and "pending" in out

    still = assay("ots", "upgrade", str(ots_file), "--calendar", a.url, check=False)
    assert still.returncode == 1 and "still pending" in still.stdout
    header = a.confirm()
    assay("ots", "upgrade", str(ots_file), "--calendar", a.url)

    verified = assay("ots", "verify", str(ots_file), "--block-header", header.hex(), "--json")
    report = json.loads(verified.stdout)
    assert report["verified"] and report["height"] == a.height
    text = assay("ots", "verify", str(ots_file), "--block-header", header.hex()).stdout
    assert text.startswith(f"VERIFIED: {target} existed before block")

    target.write_bytes(checkpoint + b"tampered")
    refused = assay("ots", "verify", str(ots_file), "--block-header", header.hex(), check=False)
    assert refused.returncode == 1 and "NOT VERIFIED: ots_digest" in refused.stdout
    no_calendar = assay("ots", "stamp", str(target), check=False)
    assert no_calendar.returncode == 2 and "no calendar" in no_calendar.stderr
