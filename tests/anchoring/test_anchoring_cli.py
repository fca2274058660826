"""``assay keys init``, ``anchor --once``, ``prove``, ``verify``: exit codes and messages."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from assay.cli import main
from ledger.application import Report
from streams.envelope import seal
from tests.support import World, make_world, story_events


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def world(data: Path) -> World:
    world = make_world(data)
    for event in story_events():
        report = Report(event, seal(event, world.keys[event.party_id]))
        (decision,) = world.ledger.process([report], None)
        assert decision.accepted
    return world


def assay(data: Path, *args: str) -> int:
    return main(["--data-dir", str(data), *args])


def test_prove_and_verify_from_the_command_line(
    data: Path, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert assay(data, "keys", "init") == 0
    public = capsys.readouterr().out.strip()
    assert stat.S_IMODE((data / "keys" / "platform.key").stat().st_mode) == 0o600
    assert (data / "keys" / "platform.pub").read_text().strip() == public

    assert assay(data, "anchor", "--once") == 0
    assert "head at height 0" in capsys.readouterr().out

    bundle_file = tmp_path / "bundle.json"
    assert assay(data, "prove", "urn:item:1", "-o", str(bundle_file)) == 0
    assert "7 anchored event(s), 0 pending" in capsys.readouterr().err

    key = str(data / "keys" / "platform.pub")
    assert assay(data, "verify", str(bundle_file), "--key", key) == 0
    assert capsys.readouterr().out.startswith("VERIFIED: urn:item:1: 7 event(s)")

    bundle = json.loads(bundle_file.read_text())
    pinned = tmp_path / "devices.json"
    pinned.write_text(json.dumps({k: v["public_key"] for k, v in bundle["devices"].items()}))
    assert assay(data, "verify", str(bundle_file), "--key", key, "--device-keys", str(pinned)) == 0
    capsys.readouterr()

    bundle["events"][1]["summary"]["verdict"] = "counterfeit"
    bundle_file.write_text(json.dumps(bundle))
    assert assay(data, "verify", str(bundle_file), "--key", key) == 1
    out = capsys.readouterr().out
    assert out.startswith("NOT VERIFIED: summary_mismatch: event v2: ")
    assert assay(data, "verify", str(bundle_file), "--key", key, "--json") == 1
    assert json.loads(capsys.readouterr().out) == {
        "verified": False,
        "step": "summary_mismatch",
        "event": 2,
        "error": "event v2: the summary differs from the signed content",
    }


def test_a_wrong_pinned_device_key_fails_the_signature(
    data: Path, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assay(data, "keys", "init")
    assay(data, "anchor", "--once")
    bundle_file = tmp_path / "bundle.json"
    assay(data, "prove", "urn:item:1", "-o", str(bundle_file))
    pinned = tmp_path / "devices.json"
    pinned.write_text(json.dumps({"lab/lab-d1": world.keys["brand"].public_key_hex}))
    capsys.readouterr()
    key = str(data / "keys" / "platform.pub")
    code = assay(data, "verify", str(bundle_file), "--key", key, "--device-keys", str(pinned))
    assert code == 1
    assert "device_signature: event v2:" in capsys.readouterr().out


def test_prove_refuses_what_it_cannot_prove(
    data: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert assay(data, "prove", "urn:item:1") == 2  # nothing anchored yet
    assert "assay anchor --once" in capsys.readouterr().err
    assay(data, "anchor", "--once")
    assert assay(data, "prove", "urn:item:nope") == 2
    assert "no item 'urn:item:nope'" in capsys.readouterr().err
    assert assay(data, "prove", "brand") == 2  # a party, not an item
    assert "no item 'brand'" in capsys.readouterr().err
