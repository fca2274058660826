"""The operator's commands: keygen, parties and devices, publish JSON lines, ingest, rejected."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from streams.topics import custody_topics, ensure_topics
from tests.cli.support import assay


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ASSAY_DATA_DIR": str(tmp_path / "data")}


def test_keygen_writes_a_private_key_and_prints_the_public_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "scanner.key"
    done = assay("device", "keygen", "--out", str(out), "--party", "dc", "--device", "d1", env=env)
    assert done.returncode == 0, done.stderr
    assert len(bytes.fromhex(done.stdout.strip())) == 32
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    again = assay("device", "keygen", "--out", str(out), "--party", "dc", "--device", "d1", env=env)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_enrolling_needs_a_registered_party(tmp_path: Path, env: dict[str, str]) -> None:
    key = tmp_path / "k.json"
    assay("device", "keygen", "--out", str(key), "--party", "dc", "--device", "d1", env=env)
    refused = assay("device", "enrol", "--key", str(key), env=env)
    assert refused.returncode == 2 and "unknown_party" in refused.stderr
    assert (
        assay("party", "add", "dc", "--name", "DC", "--role", "warehouse", env=env).returncode == 0
    )
    assert assay("device", "enrol", "--key", str(key), env=env).returncode == 0


def test_a_key_enrolled_effective_from_an_earlier_time_shows_both_times(
    tmp_path: Path, env: dict[str, str]
) -> None:
    key = tmp_path / "k.json"
    assay("device", "keygen", "--out", str(key), "--party", "dc", "--device", "mig", env=env)
    assay("party", "add", "dc", "--name", "DC", "--role", "warehouse", env=env)
    for bad, why in (
        ("last year", "not an ISO 8601 time"),
        ("2025-12-01T00:00:00", "needs a time zone"),
        ("2999-01-01T00:00:00+00:00", "after the enrolment"),
    ):
        refused = assay("device", "enrol", "--key", str(key), "--effective-from", bad, env=env)
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    done = assay(
        "device", "enrol", "--key", str(key), "--effective-from", "2025-12-01T00:00:00Z", env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "enrolled dc/mig, effective from 2025-12-01T00:00:00+00:00"
    listed = subprocess.run(
        [sys.executable, "-c", LIST_DEVICES], env=env, capture_output=True, text=True, check=True
    )
    effective, enrolled, recorded = json.loads(listed.stdout)
    assert effective == "2025-12-01T00:00:00+00:00"
    assert enrolled > effective and recorded >= enrolled  # now, when it was recorded


LIST_DEVICES = """
import json
from assay import runtime
from assay.settings import load_settings
d = runtime.open_ledger(load_settings()).get_party("dc").devices["mig"]
print(json.dumps([d.effective_from.isoformat(), d.enrolled_at.isoformat(),
                  d.recorded_at.isoformat()]))
"""


def test_enrolling_refuses_a_key_anyone_could_sign_for(env: dict[str, str]) -> None:
    """The identity point (or any small-order or non-canonical key, or not hex at all) is
    refused with a stable rule, and nothing is enrolled."""
    assay("party", "add", "dc", "--name", "DC", "--role", "warehouse", env=env)
    for public in ("01" + "00" * 31, "ee" + "ff" * 30 + "7f", "zz" * 32, "01"):
        refused = assay(
            "device", "enrol", "--party", "dc", "--device", "d1", "--public-key", public, env=env
        )
        assert refused.returncode == 2, refused.stderr
        assert "invalid_device_key" in refused.stderr and "Traceback" not in refused.stderr
    honest = "3B6A27BCCEB6A42D62A3A8D02A6F0D73653215771DE243A63AC048A18B59DA29"  # upper case
    done = assay(
        "device", "enrol", "--party", "dc", "--device", "d1", "--public-key", honest, env=env
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.kafka
def test_publish_reports_every_bad_line_and_sends_the_good_ones(
    tmp_path: Path, env: dict[str, str], kafka_bootstrap: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "ASSAY_EVENTS_TOPIC": f"cli.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"cli.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"cli.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"cli-{suffix}",
    }
    env = {**env, **names, "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap}
    ensure_topics(kafka_bootstrap, custody_topics(*list(names.values())[:3], 2))
    key = tmp_path / "brand.key"
    assay("device", "keygen", "--out", str(key), "--party", "brand", "--device", "b1", env=env)
    assay("party", "add", "brand", "--name", "Brand", "--role", "brand", "--brand", "B", env=env)
    assay("device", "enrol", "--key", str(key), env=env)
    lines = [
        json.dumps(
            {
                "item_id": "urn:i:1",
                "kind": "commissioning",
                "location": "paris",
                "tag_uid": "T1",
                "brand": "B",
                "model": "M",
                "serial": "S",
            }
        ),
        "{not json",
        json.dumps({"item_id": "urn:i:1", "kind": "teleporting", "location": "x"}),
        json.dumps({"item_id": "urn:i:1", "kind": "observing", "location": "paris"}),
        json.dumps(
            {"item_id": "urn:i:2", "kind": "retail_selling", "location": "paris", "buyer_ref": "b"}
        ),  # a brand may not sell: rejected by the ingest
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    done = assay("publish", str(events), "--device-key", str(key), env=env)
    assert done.returncode == 1
    assert "published 3 event(s)" in done.stdout
    assert f"{events}:2:" in done.stderr and f"{events}:3:" in done.stderr
    assert "teleporting" in done.stderr
    ingested = assay("ingest", "--until-idle", "0.5", "--json", env=env)
    counts = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert (counts["accepted"], counts["rejected"]) == (2, 1)
    rejected = assay("rejected", env=env)
    assert "role_not_allowed" in rejected.stdout
    assert "1 rejected message(s) shown" in rejected.stdout
