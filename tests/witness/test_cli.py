"""`assay witness init | serve | evidence`: key files, refusals, clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from witness.cosignature import WitnessSigner, WitnessVerifier

from .processes import assay
from .testlog import GrowingLog


def test_init_creates_a_private_key_and_prints_its_vkey(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "witness.key"
    done = assay("witness", "init", "--name", "partner.example/witness", "--out", str(key))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    verifier = WitnessVerifier.from_text(done.stdout.strip())
    assert verifier.name == "partner.example/witness"
    signer = WitnessSigner.from_text(key.read_text())
    assert signer.verifier() == verifier
    assert key.read_text().startswith("PRIVATE+KEY+partner.example/witness+")

    again = assay("witness", "init", "--name", "other", "--out", str(key), check=False)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert WitnessSigner.from_text(key.read_text()).verifier() == verifier
    same = assay("witness", "init", "--name", verifier.name, "--out", str(key), "--exist-ok")
    assert same.stdout.strip() == verifier.to_text()
    other = assay("witness", "init", "--name", "x", "--out", str(key), "--exist-ok", check=False)
    assert other.returncode == 2 and "holds the key of partner.example/witness" in other.stderr


def test_the_data_dir_default(tmp_path: Path) -> None:
    assay("--data-dir", str(tmp_path), "witness", "init", "--name", "w.example")
    assert (tmp_path / "witness" / "witness.key").exists()


def test_serve_refuses_an_exposed_key_and_bad_configuration(tmp_path: Path) -> None:
    log = GrowingLog()
    key = tmp_path / "witness.key"
    assay("witness", "init", "--name", "w.example", "--out", str(key))
    args = ["witness", "serve", "--key", str(key), "--state", str(tmp_path), "--port", "1"]

    no_log = assay(*args, check=False)
    assert no_log.returncode == 2 and "no log to witness" in no_log.stderr
    bad_vkey = assay(*args, "--log", f"{log.origin}=not-a-vkey", check=False)
    assert bad_vkey.returncode == 2 and "--log" in bad_vkey.stderr
    missing = assay(*args[:2], "--key", str(tmp_path / "nope"), "--log", log.vkey, check=False)
    assert missing.returncode == 2 and "witness init" in missing.stderr

    missing_file = assay(*args, "--log", f"{log.origin}=@{tmp_path / 'absent.pub'}", check=False)
    assert missing_file.returncode == 2 and "cannot read" in missing_file.stderr

    os.chmod(key, 0o640)
    exposed = assay(*args, "--log", log.vkey, check=False)
    assert exposed.returncode == 2 and "accessible by other users" in exposed.stderr
    assert "Traceback" not in exposed.stderr


def test_log_keys_from_entries_and_files(tmp_path: Path) -> None:
    from assay.commands.witness import parse_logs

    log, other = GrowingLog("example.com/a"), GrowingLog("example.com/b")
    pub = tmp_path / "platform.pub"
    pub.write_text(other.vkey + "\n")
    logs = parse_logs([f"{log.origin}={log.vkey}", f"@{pub}", f"example.com/c=@{pub}"])
    assert {o: [v.to_text() for v in vs] for o, vs in logs.items()} == {
        "example.com/a": [log.vkey],
        "example.com/b": [other.vkey],
        "example.com/c": [other.vkey],
    }


def test_evidence_without_state_or_without_evidence(tmp_path: Path) -> None:
    nothing = assay("witness", "evidence", "--state", str(tmp_path / "none"), check=False)
    assert nothing.returncode == 2 and "no witness state" in nothing.stderr
    from witness.state import StateStore

    StateStore(tmp_path / "w").close()
    clean = assay("witness", "evidence", "--state", str(tmp_path / "w"))
    assert clean.stdout.startswith("no evidence")
    assert assay("witness", "evidence", "--state", str(tmp_path / "w"), "--json").stdout == "[]\n"
