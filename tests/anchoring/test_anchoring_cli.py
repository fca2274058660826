"""``assay keys init``, ``anchor --once``, ``prove``, ``verify``: exit codes and messages."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from assay.cli import main
from ledger.application import Report
from streams.envelope import seal
from tests.anchoring.hostile_bundles import vector_input
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


@pytest.fixture
def anchored(data: Path, world: World, capsys: pytest.CaptureFixture[str]) -> str:
    """The platform key made and the world's events anchored; the pinned key's path."""
    assert assay(data, "keys", "init") == 0
    assert assay(data, "anchor", "--once") == 0
    capsys.readouterr()
    return str(data / "keys" / "platform.pub")


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
    data: Path, world: World, anchored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_file = tmp_path / "bundle.json"
    assay(data, "prove", "urn:item:1", "-o", str(bundle_file), "--format", "3")
    pinned = tmp_path / "devices.json"
    pinned.write_text(json.dumps({"lab/lab-d1": world.keys["brand"].public_key_hex}))
    capsys.readouterr()
    code = assay(data, "verify", str(bundle_file), "--key", anchored, "--device-keys", str(pinned))
    assert code == 1
    assert "device_signature: event v2:" in capsys.readouterr().out
    # Version 4 proves the lab's key: a pinned key other than it is refused as a key.
    assay(data, "prove", "urn:item:1", "-o", str(bundle_file))
    capsys.readouterr()
    code = assay(data, "verify", str(bundle_file), "--key", anchored, "--device-keys", str(pinned))
    assert code == 1
    assert "device_key: event v2: the key pinned for lab/lab-d1 is not" in capsys.readouterr().out


def test_prove_refuses_what_it_cannot_prove(
    data: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert assay(data, "prove", "urn:item:1") == 2  # nothing anchored yet
    assert "assay anchor --once" in capsys.readouterr().err
    assay(data, "anchor", "--once")
    # Formats 1 and 2 carry a version 1 checkpoint; this chain signs version 2 ones.
    for old_format in ("1", "2"):
        assert assay(data, "prove", "urn:item:1", "--format", old_format) == 2
        assert "make a version 3 bundle" in capsys.readouterr().err


def test_an_unknown_id_is_proven_absent(
    data: Path, anchored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = anchored
    absent = tmp_path / "absent.json"
    assert assay(data, "prove", "urn:item:nope", "-o", str(absent)) == 0
    assert "absence proof: urn:item:nope is not in the ledger" in capsys.readouterr().err
    doc = json.loads(absent.read_text())
    assert (doc["format"], doc["version"], doc["item_id"]) == ("assay-absence", 5, "urn:item:nope")
    assert assay(data, "verify", str(absent), "--key", key) == 3
    sealed_at = doc["head"]["sealed_at"]
    assert capsys.readouterr().out == (
        f"NOT IN THE LEDGER: urn:item:nope is not in the ledger as of checkpoint 1 ({sealed_at})\n"
    )
    assert assay(data, "verify", str(absent), "--key", key, "--json") == 3
    out = json.loads(capsys.readouterr().out)
    assert (out["absent"], out["completeness"], out["events"]) == (True, "complete", 0)
    # Claiming absence for the item that is there fails.
    doc["item_id"] = "urn:item:1"
    absent.write_text(json.dumps(doc))
    assert assay(data, "verify", str(absent), "--key", key) == 1
    # Refuted, or not even a proof for its key: which depends on whether the proof's path
    # (another id's) meets the item's own (the map also holds parties and devices).
    assert capsys.readouterr().out.startswith(
        ("NOT VERIFIED: absence_refuted: ", "NOT VERIFIED: absence_proof: ")
    )


def test_a_version_3_bundle_is_complete_and_a_shortened_one_fails(
    data: Path, anchored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = anchored
    bundle_file = tmp_path / "bundle.json"
    assert assay(data, "prove", "urn:item:1", "-o", str(bundle_file), "--format", "3") == 0
    assert "(format version 3)" in capsys.readouterr().err
    assert assay(data, "verify", str(bundle_file), "--key", key, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["bundle_version"], out["completeness"], out["absent"]) == (3, "complete", False)
    bundle = json.loads(bundle_file.read_text())
    assert out["checkpoint_time"] == bundle["head"]["sealed_at"]
    # The checkpoint was sealed moments ago: a day is young enough, a negative age is not.
    assert assay(data, "verify", str(bundle_file), "--key", key, "--max-age", "86400") == 0
    assert "history complete as of" in capsys.readouterr().out
    assert assay(data, "verify", str(bundle_file), "--key", key, "--max-age", "-1") == 1
    assert capsys.readouterr().out.startswith("NOT VERIFIED: checkpoint_stale: ")
    del bundle["events"][-1]
    bundle_file.write_text(json.dumps(bundle))
    assert assay(data, "verify", str(bundle_file), "--key", key) == 1
    assert capsys.readouterr().out.startswith("NOT VERIFIED: history_incomplete: ")
    # The head proven into the log's tree head: one hash too many and it is not.
    bundle = json.loads(bundle_file.read_text())
    bundle["head_proof"].append("00" * 32)
    bundle_file.write_text(json.dumps(bundle))
    assert assay(data, "verify", str(bundle_file), "--key", key) == 1
    assert capsys.readouterr().out.startswith("NOT VERIFIED: checkpoint_inclusion: ")


def test_a_version_5_bundle_proves_the_parties_it_names(
    data: Path, world: World, anchored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle_file = tmp_path / "bundle.json"
    assert assay(data, "prove", "urn:item:1", "-o", str(bundle_file)) == 0
    assert "(format version 5)" in capsys.readouterr().err
    assert assay(data, "verify", str(bundle_file), "--key", anchored, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    lab = world.ledger.get_party("lab")
    assert out["bundle_version"] == 5
    assert out["parties"]["lab"] == {"name": lab.name, "role": lab.role.value, "proven": True}
    assert assay(data, "verify", str(bundle_file), "--key", anchored) == 0
    assert f"PROVEN PARTY: lab: {lab.name} ({lab.role.value})" in capsys.readouterr().out
    # The lab renamed in the bundle: its record no longer hashes to its map entry.
    bundle = json.loads(bundle_file.read_text())
    bundle["registry"]["parties"]["lab"]["record"]["name"] = "Someone Else"
    bundle_file.write_text(json.dumps(bundle))
    assert assay(data, "verify", str(bundle_file), "--key", anchored) == 1
    assert capsys.readouterr().out.startswith("NOT VERIFIED: party_proof: ")


VECTORS = sorted((Path(__file__).parent / "vectors" / "bundles").glob("*.json"))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_verify_ends_every_vector_in_its_step_and_exit_code(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad input of any kind (bytes, JSON, Avro, keys) is a step code and exit 1."""
    vector = json.loads(path.read_text())
    bundle, key = tmp_path / "bundle.json", tmp_path / "platform.pub"
    bundle.write_bytes(vector_input(vector))
    key.write_text(vector["platform_key"] + "\n")
    args = ["verify", str(bundle), "--key", str(key)]
    if vector["device_keys"] is not None:
        pinned = tmp_path / "devices.json"
        pinned.write_text(json.dumps(vector["device_keys"]))
        args += ["--device-keys", str(pinned)]
    code = assay(tmp_path / "data", *args)
    out = capsys.readouterr().out
    if vector["want_err"] is None:
        assert (code, out[:10]) == (0, "VERIFIED: ")
    else:
        assert code == 1 and out.startswith(f"NOT VERIFIED: {vector['want_err']}: "), out


@pytest.mark.parametrize(
    ("key_bytes", "pinned_bytes"),
    [
        (b"\xff not UTF-8\n", None),
        (b"not a key\n", None),
        (None, b'{"lab/lab-d1": NaN}'),
        (None, b'{"lab/lab-d1": "00", "lab/lab-d1": "11"}'),
        (None, b'["not", "an", "object"]'),
        (None, b'{"lab/lab-d1": "short"}'),
    ],
)
def test_an_unreadable_pinned_key_file_is_the_key_file_step(
    key_bytes: bytes | None,
    pinned_bytes: bytes | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vector = json.loads((Path(__file__).parent / "vectors/bundles/happy-path.json").read_text())
    bundle, key = tmp_path / "bundle.json", tmp_path / "platform.pub"
    bundle.write_bytes(vector_input(vector))
    key.write_bytes(key_bytes or vector["platform_key"].encode())
    args = ["verify", str(bundle), "--key", str(key), "--json"]
    if pinned_bytes is not None:
        (tmp_path / "devices.json").write_bytes(pinned_bytes)
        args += ["--device-keys", str(tmp_path / "devices.json")]
    assert assay(tmp_path / "data", *args) == 1
    assert json.loads(capsys.readouterr().out)["step"] == "key_file"


def test_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.json")
    assert assay(tmp_path / "data", "verify", missing, "--key", missing) == 2
    assert "cannot read input" in capsys.readouterr().err


COMPLETE = sorted((Path(__file__).parent / "vectors" / "complete").glob("*.json"))


@pytest.mark.parametrize("path", COMPLETE, ids=lambda p: p.stem)
def test_verify_ends_every_version_2_vector_in_its_step_and_exit_code(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 verified, 3 proven absent, 1 and the step otherwise. Freshness vectors are checked
    at their own ``now``: here, a maximum age of zero makes every checkpoint stale."""
    vector = json.loads(path.read_text())
    bundle, key = tmp_path / "bundle.json", tmp_path / "platform.pub"
    bundle.write_bytes(vector_input(vector))
    key.write_text(vector["platform_key"] + "\n")
    args = ["verify", str(bundle), "--key", str(key), "--json"]
    want = vector["want_err"]
    if "max_age" in vector:
        args += ["--max-age", "0"]
        want = want or "checkpoint_stale"
    code = assay(tmp_path / "data", *args)
    out = json.loads(capsys.readouterr().out)
    if want is None:
        assert (code, out["absent"], out["completeness"]) == (
            3 if vector["want_absent"] else 0,
            vector["want_absent"],
            vector["want_completeness"],
        )
    else:
        assert (code, out["step"]) == (1, want)
