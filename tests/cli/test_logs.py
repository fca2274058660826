"""Logs: one line per event of note, as text or as JSON objects for log shippers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.keys import DeviceKey
from tests.cli.support import assay, free_port
from tests.faults.support import Deployment

pytestmark = pytest.mark.kafka


def test_json_logs_are_one_object_per_line(kafka_bootstrap: str, tmp_path: Path) -> None:
    site = Deployment(tmp_path / "data", kafka_bootstrap)
    site.publish_items(0, 3)
    done = site.assay("--log-format", "json", "ingest", "--until-idle", "2", check=True)
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert records, "no log line at all"
    for record in records:
        assert {"time", "level", "logger", "message", "process"} <= set(record), record
        assert record["process"] == "ingest"
    assert any(r["message"].startswith("partitions assigned") for r in records)
    assert done.stdout.startswith("ingested 21 messages")  # the summary stays plain text

    # The setting does the same as the flag.
    site.publish_items(3, 1)
    again = site.assay("ingest", "--until-idle", "2", extra_env={"ASSAY_LOG_FORMAT": "json"})
    assert again.returncode == 0
    assert all(json.loads(line)["logger"] for line in again.stderr.splitlines())


def test_text_logs_name_level_and_logger(kafka_bootstrap: str, tmp_path: Path) -> None:
    site = Deployment(tmp_path / "data", kafka_bootstrap)
    done = site.assay("ingest", "--until-idle", "1", check=True)
    assert " INFO streams.ingest: partitions assigned" in done.stderr


def test_an_unreachable_broker_is_one_line_not_a_flood(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    DeviceKey.generate("brand", "b1").save(key)
    line = json.dumps({"item_id": "urn:i:1", "kind": "observing", "location": "x"})
    (tmp_path / "in.jsonl").write_text(line + "\n")
    env = {
        "ASSAY_DATA_DIR": str(tmp_path / "data"),
        "ASSAY_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens there
    }
    done = assay("publish", str(tmp_path / "in.jsonl"), "--device-key", str(key), "--wait", "8",
                 env=env)  # fmt: skip
    assert done.returncode == 5, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Kafka unreachable" in lines[0], lines
    assert "1 wait in" in done.stdout


def test_a_bad_log_format_setting_is_refused(tmp_path: Path) -> None:
    done = assay("status", env={"ASSAY_LOG_FORMAT": "xml", "ASSAY_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2 and "log_format" in done.stderr
