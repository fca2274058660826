"""What an ``assay`` process loads to start: the test suite and every operator start it
often, so a command loads only the heavy libraries its own work needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_VECTOR = ROOT / "tests/anchoring/vectors/bundles-v3/complete-history.json"

#: Libraries (and Assay's heavy modules) that only some commands' work needs.
HEAVY = (
    "psycopg",
    "eventsourcing.postgres",
    "kafka",
    "duckdb",
    "starlette",
    "uvicorn",
    "prometheus_client",
    "pythonjsonlogger",
    "opentimestamps",
    "anchoring.sealer",
    "streams.ingest",
)

# Runs ``assay`` in-process, then prints which of HEAVY it loaded, as its last line.
_CHILD = """
import contextlib, io, json, sys
from assay.cli import main
heavy = json.loads(sys.argv[1])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[2:])
    except SystemExit as e:
        code = e.code
loaded = sorted(m for m in heavy if m in sys.modules)
print(json.dumps({"code": code, "stdout": out.getvalue(), "loaded": loaded}))
"""


def loaded_by(*args: str, data_dir: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env["ASSAY_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(HEAVY), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_help_loads_no_heavy_library(tmp_path: Path) -> None:
    done = loaded_by("--help", data_dir=tmp_path)
    assert done["code"] == 0
    assert "verify" in str(done["stdout"]) and "status" in str(done["stdout"])
    assert done["loaded"] == []


def test_verify_loads_neither_a_database_driver_nor_kafka(tmp_path: Path) -> None:
    vector = json.loads(BUNDLE_VECTOR.read_text())
    bundle, key = tmp_path / "bundle.json", tmp_path / "platform.pub"
    bundle.write_text(json.dumps(vector["bundle"]))
    key.write_text(vector["platform_key"] + "\n")
    done = loaded_by("verify", str(bundle), "--key", str(key), data_dir=tmp_path)
    assert done["code"] == 0
    assert str(done["stdout"]).startswith("VERIFIED: "), done["stdout"]
    assert done["loaded"] == []


def test_status_without_a_broker_or_stores_loads_neither_kafka_nor_duckdb(
    tmp_path: Path,
) -> None:
    done = loaded_by("status", "--json", data_dir=tmp_path)
    assert done["code"] == 3  # the local broker is not running
    checks = json.loads(str(done["stdout"]))["checks"]
    assert checks["projection"]["summary"] == "no analyst snapshot yet"
    assert done["loaded"] == []
