"""The README's first command, on the session's real broker: a verified proof, and a
tampered copy of the same bundle that fails verification with a clear message."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka


def assay(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    cwd = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap}
    done = assay("demo", "--json", env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    report["cwd"] = cwd
    report["env"] = env
    return report


def test_demo_prints_a_verified_proof(demo_run: dict[str, object]) -> None:
    assert demo_run["verified"] is True
    steps = demo_run["steps"]
    assert isinstance(steps, list)
    assert [s["result"] for s in steps] == ["accepted"] * 7 + ["flagged: scan_after_sale"]
    cwd = demo_run["cwd"]
    assert isinstance(cwd, Path)
    assert (cwd / "assay-data" / "ledger.sqlite").exists()  # the embedded default store
    assert (cwd / "assay-data" / "checkpoint").read_text().startswith("assay.example/")


def test_the_demo_bundle_verifies_and_a_flipped_byte_does_not(
    demo_run: dict[str, object], tmp_path: Path
) -> None:
    cwd, env = demo_run["cwd"], demo_run["env"]
    assert isinstance(cwd, Path) and isinstance(env, dict)
    bundle_path = cwd / str(demo_run["bundle_path"])
    key = cwd / "assay-data" / "keys" / "platform.pub"
    ok = assay("verify", str(bundle_path), "--key", str(key), env=env, cwd=cwd)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("VERIFIED")

    bundle = json.loads(bundle_path.read_text())
    payload = bytearray(base64.b64decode(bundle["events"][3]["payload_b64"]))
    payload[-70] ^= 0x01  # one bit inside the signed body of the warehouse's receipt
    bundle["events"][3]["payload_b64"] = base64.b64encode(bytes(payload)).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    bad = assay("verify", str(tampered), "--key", str(key), env=env, cwd=cwd)
    assert bad.returncode == 1
    assert bad.stdout.startswith("NOT VERIFIED: leaf_hash: event v4:"), bad.stdout


def test_the_demo_bags_shortened_history_fails_and_a_random_id_is_proven_absent(
    demo_run: dict[str, object], tmp_path: Path
) -> None:
    cwd, env = demo_run["cwd"], demo_run["env"]
    assert isinstance(cwd, Path) and isinstance(env, dict)
    bundle_path = cwd / str(demo_run["bundle_path"])
    key = cwd / "assay-data" / "keys" / "platform.pub"
    bundle = json.loads(bundle_path.read_text())
    assert bundle["version"] == 3
    del bundle["events"][-1]  # the flag of the scan after the sale
    shortened = tmp_path / "shortened.json"
    shortened.write_text(json.dumps(bundle))
    bad = assay("verify", str(shortened), "--key", str(key), env=env, cwd=cwd)
    assert bad.returncode == 1
    assert bad.stdout.startswith("NOT VERIFIED: history_incomplete: "), bad.stdout

    absent = tmp_path / "absent.json"
    item = "urn:epc:id:sgtin:4012345.000999.424242"
    made = assay("prove", item, "-o", str(absent), env=env, cwd=cwd)
    assert made.returncode == 0, made.stderr
    checked = assay("verify", str(absent), "--key", str(key), env=env, cwd=cwd)
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"NOT IN THE LEDGER: {item} is not in the ledger as of ")


def test_broker_status_reports_the_configured_cluster(demo_run: dict[str, object]) -> None:
    cwd, env = demo_run["cwd"], demo_run["env"]
    assert isinstance(cwd, Path) and isinstance(env, dict)
    status = assay("broker", "status", env=env, cwd=cwd)
    assert "answers" in status.stdout


def test_analysts_see_the_demo_item_through_the_snapshot(demo_run: dict[str, object]) -> None:
    cwd, env = demo_run["cwd"], demo_run["env"]
    assert isinstance(cwd, Path) and isinstance(env, dict)
    item = str(demo_run["item_id"])
    query = f"SELECT status, verdict, open_flags FROM items WHERE item_id = '{item}'"
    done = assay("sql", query, "--json", env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"status": "sold", "verdict": "genuine", "open_flags": 1}]
    history = assay("history", item, "--json", env=env, cwd=cwd)
    kinds = [row["kind"] for row in json.loads(history.stdout)]
    assert kinds[:7] == [
        "commissioning",
        "inspecting",
        "shipping",
        "receiving",
        "shipping",
        "receiving",
        "retail_selling",
    ]
