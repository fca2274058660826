"""Owner and device key files: one reader and writer (streams/keys.py) for both types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.keys import DeviceKey, KeyFileError
from streams.owner_keys import OwnerKey


def test_an_owner_key_round_trips_and_is_private(tmp_path: Path) -> None:
    key = OwnerKey.generate()
    path = tmp_path / "bag.owner.key"
    key.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["type"] == "assay-owner-key-v1"
    assert OwnerKey.load(path).public_key_hex == key.public_key_hex
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        key.save(path)


def test_a_key_file_of_the_other_type_is_refused(tmp_path: Path) -> None:
    device, owner = tmp_path / "device.key", tmp_path / "owner.key"
    DeviceKey.generate("ginza", "scanner-1").save(device)
    OwnerKey.generate().save(owner)
    with pytest.raises(KeyFileError, match="is not an Assay owner key"):
        OwnerKey.load(device)
    with pytest.raises(KeyFileError, match="is not an Assay device key"):
        DeviceKey.load(owner)
    loaded = DeviceKey.load(device)
    assert (loaded.party_id, loaded.device_id, loaded.source) == ("ginza", "scanner-1", device)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not json", "cannot read owner key"),
        (b"[]", "is not an Assay owner key"),
        (b'{"type": "assay-owner-key-v1"}', "cannot read owner key"),
        (b'{"type": "assay-owner-key-v1", "seed": "!!"}', "cannot read owner key"),
    ],
)
def test_an_unreadable_owner_key_says_why(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "owner.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=problem):
        OwnerKey.load(path)


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "owner.key"
    OwnerKey.generate().save(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        OwnerKey.load(path)


def test_a_device_key_without_its_party_says_so(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    DeviceKey.generate("ginza", "scanner-1").save(path)
    data = json.loads(path.read_text())
    del data["party_id"]
    path.unlink()
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="no 'party_id'"):
        DeviceKey.load(path)
