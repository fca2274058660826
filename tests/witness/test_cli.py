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


def test_policy_is_written_from_vkeys_and_files_and_parses(tmp_path: Path) -> None:
    from anchoring.checkpoint import Signer
    from witness.policy import load_policy

    log_pub = tmp_path / "platform.pub"
    log_pub.write_text(Signer.generate("assay.example/custody-log").verifier_text() + "\n")
    vkeys = []
    for n in (1, 2, 3):
        out = tmp_path / f"w{n}.vkey"
        done = assay("witness", "init", "--name", f"p{n}.example/witness",
                     "--out", str(tmp_path / f"w{n}.key"), "--vkey-out", str(out))  # fmt: skip
        assert out.read_text() == done.stdout
        vkeys.append(done.stdout.strip())
    policy = tmp_path / "policy"
    assay("witness", "policy", "--log", f"@{log_pub}",
          "--witness", f"p1=@{tmp_path / 'w1.vkey'}", "--witness", f"p2={vkeys[1]}",
          "--witness", f"p3=@{tmp_path / 'w3.vkey'}", "--url", "p1=http://w1.example:8380",
          "--quorum", "2", "--out", str(policy))  # fmt: skip
    parsed = load_policy(policy)
    assert [w.verifier.to_text() for w in parsed.witnesses.values()] == vkeys
    assert parsed.witnesses["p1"].url == "http://w1.example:8380"
    assert parsed.witnesses["p2"].url is None
    assert parsed.groups[parsed.quorum].threshold == 2
    printed = assay("witness", "policy", "--log", f"@{log_pub}", "--witness", f"p2={vkeys[1]}",
                    "--quorum", "all")  # fmt: skip
    assert "group witnesses all p2\nquorum witnesses\n" in printed.stdout

    bad = assay("witness", "policy", "--log", f"@{log_pub}", "--witness", f"p2={vkeys[1]}",
                "--quorum", "4", check=False)  # fmt: skip
    assert bad.returncode == 2 and "not a valid policy" in bad.stderr
    stray = assay("witness", "policy", "--log", f"@{log_pub}", "--witness", f"p2={vkeys[1]}",
                  "--url", "p9=http://x", "--quorum", "1", check=False)  # fmt: skip
    assert stray.returncode == 2 and "--url for no --witness: p9" in stray.stderr
    unread = assay("witness", "policy", "--log", "@/nonexistent", "--witness", f"p2={vkeys[1]}",
                   "--quorum", "1", check=False)  # fmt: skip
    assert unread.returncode == 2 and "cannot read it" in unread.stderr
