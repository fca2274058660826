"""The README's first command, on the session's real broker: a verified proof, and a
tampered copy of the same bundle that fails verification with a clear message."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.support import assay as assay_process

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Demo:
    """``assay demo --json`` run once in ``cwd``: its report, and more commands there."""

    cwd: Path
    env: dict[str, str]
    report: dict[str, Any]

    def assay(self, *args: str) -> subprocess.CompletedProcess[str]:
        return assay_process(*args, env=self.env, cwd=self.cwd)

    @property
    def bundle_path(self) -> Path:
        return self.cwd / str(self.report["bundle_path"])

    @property
    def key(self) -> Path:
        return self.cwd / "assay-data" / "keys" / "platform.pub"


@pytest.fixture(scope="module")
def demo_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    cwd = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap}
    done = assay_process("demo", "--json", env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return Demo(cwd, env, json.loads(done.stdout))


def test_demo_prints_a_verified_proof(demo_run: Demo) -> None:
    assert demo_run.report["verified"] is True
    steps = demo_run.report["steps"]
    assert isinstance(steps, list)
    assert [s["result"] for s in steps] == ["accepted"] * 7 + ["flagged: scan_after_sale"]
    cwd = demo_run.cwd
    assert (cwd / "assay-data" / "ledger.sqlite").exists()  # the embedded default store
    assert (cwd / "assay-data" / "checkpoint").read_text().startswith("assay.example/")


def test_the_demo_bundle_verifies_and_a_flipped_byte_does_not(
    demo_run: Demo, tmp_path: Path
) -> None:
    bundle_path, key = demo_run.bundle_path, demo_run.key
    ok = demo_run.assay("verify", str(bundle_path), "--key", str(key))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("VERIFIED")

    bundle = json.loads(bundle_path.read_text())
    payload = bytearray(base64.b64decode(bundle["events"][3]["payload_b64"]))
    payload[-70] ^= 0x01  # one bit inside the signed body of the warehouse's receipt
    bundle["events"][3]["payload_b64"] = base64.b64encode(bytes(payload)).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    bad = demo_run.assay("verify", str(tampered), "--key", str(key))
    assert bad.returncode == 1
    assert bad.stdout.startswith("NOT VERIFIED: leaf_hash: event v4:"), bad.stdout


def test_the_demo_bags_shortened_history_fails_and_a_random_id_is_proven_absent(
    demo_run: Demo, tmp_path: Path
) -> None:
    key = demo_run.key
    bundle = json.loads(demo_run.bundle_path.read_text())
    assert bundle["version"] == 5
    del bundle["events"][-1]  # the flag of the scan after the sale
    shortened = tmp_path / "shortened.json"
    shortened.write_text(json.dumps(bundle))
    bad = demo_run.assay("verify", str(shortened), "--key", str(key))
    assert bad.returncode == 1
    assert bad.stdout.startswith("NOT VERIFIED: history_incomplete: "), bad.stdout

    absent = tmp_path / "absent.json"
    item = "urn:epc:id:sgtin:4012345.000999.424242"
    made = demo_run.assay("prove", item, "-o", str(absent))
    assert made.returncode == 0, made.stderr
    checked = demo_run.assay("verify", str(absent), "--key", str(key))
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"NOT IN THE LEDGER: {item} is not in the ledger as of ")


def test_broker_status_reports_the_configured_cluster(demo_run: Demo) -> None:
    status = demo_run.assay("broker", "status")
    assert "answers" in status.stdout


def test_analysts_see_the_demo_item_through_the_snapshot(demo_run: Demo) -> None:
    item = str(demo_run.report["item_id"])
    query = f"SELECT status, verdict, open_flags FROM items WHERE item_id = '{item}'"
    done = demo_run.assay("sql", query, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"status": "sold", "verdict": "genuine", "open_flags": 1}]
    history = demo_run.assay("history", item, "--json")
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
