"""The benchmark command runs end to end at its quick size and writes sane results.

Numbers are never compared with the goals here (a loaded CI machine is not a benchmark
machine); only that every measurement happened, is a positive number, and that the JSON,
the Markdown table and the PNG chart are written.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--workers", "1", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_json_has_machine_facts_and_positive_numbers(quick_run: Path) -> None:
    document = json.loads((quick_run / "bench-quick.json").read_text())
    machine = document["machine"]
    for fact in ("date", "cpu_count", "cpu_model", "ram_gb", "python", "kafka", "duckdb"):
        assert machine[fact], fact
    assert machine["eventsourcing"].startswith("9.")
    rows = {row["key"]: row for row in document["results"]}
    expected = [
        "e2e_1w", "raw_consume", "raw_produce", "checkpoint_p99_1w", "staleness_p99_1w",
        "avro_decode", "signature_verify", "save_batch_1", "save_batch_1000", "merkle_build",
        "merkletools", "prove_p99", "verify_p99", "projection_rows", "projection_rebuild",
        "history_p99", "rss_1w_ingest-1_end", "rss_1w_anchor_end", "rss_1w_project_end",
        "ingest_over_verify_floor", "ingest_cpu_over_verify_floor", "ingest_cpu",
        *(f"ingest_cpu_{s}" for s in ("consume", "envelope", "signature", "body", "rules", "save")),
        "seal_with_map", "seal_with_map_stored", "map_prove_p99", "map_verify_p99", "absence_p99",
        "map_proof_bytes", "map_cold_first_proof", "map_state_prove_p99",
        "map_state_absence_p99", "seal_with_map_state",
    ]  # fmt: skip
    for key in expected:
        value = rows[key]["value"]
        assert isinstance(value, float | int) and math.isfinite(value) and value > 0, (key, value)
    # Ratios are measured in the same run against the same broker.
    e2e = rows["e2e_1w"]
    assert e2e["baseline_name"] == "raw consume"
    assert e2e["ratio"] == pytest.approx(e2e["value"] / rows["raw_consume"]["value"])
    # Every goal of the issue is carried with a verdict, whatever it is.
    judged = [row for row in document["results"] if row["goal"] is not None]
    assert len(judged) >= 10
    assert all(isinstance(row["met"], bool) for row in judged)
    # The head map's goals carry a baseline measured in the same run.
    for key in ("seal_with_map", "map_prove_p99", "absence_p99", "map_proof_bytes"):
        assert rows[key]["baseline"] > 0 and rows[key]["met"] is not None, key
    # p50 never exceeds p99.
    for what in ("checkpoint", "staleness"):
        assert rows[f"{what}_p50_1w"]["value"] <= rows[f"{what}_p99_1w"]["value"]
    for what in ("prove", "verify", "history"):
        assert rows[f"{what}_p50"]["value"] <= rows[f"{what}_p99"]["value"]


def test_markdown_table_names_every_measurement(quick_run: Path) -> None:
    text = (quick_run / "bench-quick.md").read_text()
    assert "| group | measurement | value | baseline (same run) | ratio | goal | met |" in text
    phrases = [
        "publish → stored → anchored → projected",
        "signed checkpoint p99",
        "analyst snapshot p99",
        "Merkle build",
        "projection rebuild",
        "RSS",
    ]
    for phrase in phrases:
        assert phrase in text, phrase


def test_chart_is_a_png(quick_run: Path) -> None:
    png = (quick_run / "bench-quick.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 10_000


def test_the_scale_run_grows_one_store_and_reports_every_cost(tmp_path: Path) -> None:
    """``python -m bench.scale`` at a toy size: each size is measured on the grown store
    (the audit inside it fails the run if the chain does not audit clean)."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--items", "60", "--sizes", "60,180,600",
         "--samples", "40", "--root", str(tmp_path / "store"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads((out / "scale.json").read_text())["rows"]
    assert [r["events"] for r in rows] == [60, 180, 600]
    from bench.scale_report import METRICS

    for row in rows:
        for key in METRICS:
            low = 0 if key == "load_max" else 1e-12  # an idle machine's load may read 0.00
            assert math.isfinite(row[key]) and row[key] >= low, (row["events"], key, row[key])
        assert row["prove_cpu_p99_ms"] <= row["prove_p99_ms"] * 1.5 + 1  # CPU: one thread
    phases = [json.loads(line) for line in (tmp_path / "store" / "phases.jsonl").open()]
    assert [p["phase"] for p in phases].count("audit") == 3
    assert all(p["cpu_seconds"] > 0 for p in phases if "cpu_seconds" in p)
    assert (out / "scale.png").read_bytes().startswith(PNG_MAGIC)
    table = (out / "scale.md").read_text()
    assert "| prove p99 | ms |" in table and "600 events" in table
    stored = sqlite3.connect(tmp_path / "store" / "ledger.sqlite")
    (count,) = stored.execute(
        "SELECT count(*) FROM stored_events WHERE topic LIKE 'domain.items:Item.%'"
    ).fetchone()
    assert count == 600


def test_the_ingest_profile_finds_every_stage(kafka_bootstrap: str) -> None:
    """``python -m bench.profile_ingest`` at a toy size: every stage it names is code that
    ran (a stage left behind by a moved function fails the run instead of printing 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile_ingest", "--items", "20"],
        cwd=ROOT, env={**os.environ, "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from bench.profile_ingest import STAGES

    rows = dict(
        (line[:42].strip(), float(line[42:]))
        for line in done.stdout.splitlines()
        if line.startswith("  ") and line[42:].strip()
    )
    assert len(rows) == len(STAGES) + 1, done.stdout
    assert all(seconds > 0 for seconds in rows.values()), done.stdout


def test_the_witness_bench_measures_every_row() -> None:
    """``bench/bench_witness.py`` at a toy size: a real witness process, every row printed
    with a number (the goals are read by people, never asserted here)."""
    done = subprocess.run(
        [sys.executable, "bench/bench_witness.py", "--seconds", "0.3", "--clients", "1",
         "--verify-samples", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = ["healthz (baseline)", "add-checkpoint ×1", "verify 3-witness note",
            "verify bundle alone", "verify 3-witness bundle"]  # fmt: skip
    for row in rows:
        line = next((x for x in done.stdout.splitlines() if x.startswith(row)), None)
        assert line is not None and any(c.isdigit() for c in line[len(row) :]), done.stdout


def test_the_scale_table_marks_a_measurement_an_older_row_lacks(tmp_path: Path) -> None:
    from bench.scale_report import METRICS, write_report

    new = {key: 2.0 for key in METRICS} | {"events": 3000, "items": 1000}
    old = {k: v for k, v in new.items() if k != "audit_events_per_cpu_s"} | {"events": 1000}
    paths = write_report([old, new], tmp_path)
    line = next(x for x in paths["md"].read_text().splitlines() if "audit, per CPU" in x)
    assert line.split("|")[3:5] == [" – ", " 2.00 **(missed)** "]
    assert paths["png"].read_bytes().startswith(PNG_MAGIC)


def _grow(root: Path, items: int, last_step: int) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--phase", "grow", "--root", str(root),
         "--items", str(items), "--first-step", "0", "--last-step", str(last_step)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return int(json.loads(done.stdout)["events"])


def test_a_stopped_grow_resumes_where_it_stopped(tmp_path: Path) -> None:
    """A grow stopped part way (here: half the items through two steps) picks up where it
    stopped, item by item: nothing written twice (the ledger would refuse it), nothing
    skipped, each item's journey in order."""
    root = tmp_path / "store"
    assert _grow(root, 30, 2) == 60
    assert _grow(root, 60, 3) == 30 * 1 + 30 * 3
    assert _grow(root, 60, 3) == 0
    stored = sqlite3.connect(root / "ledger.sqlite")
    rows = stored.execute(
        "SELECT originator_id, COUNT(*), MAX(originator_version) FROM stored_events "
        "WHERE topic LIKE 'domain.items:Item.%' GROUP BY originator_id"
    ).fetchall()
    assert len(rows) == 60 and all(count == version == 3 for _, count, version in rows)


def test_a_resumed_run_shows_an_earlier_runs_smaller_sizes(tmp_path: Path) -> None:
    """``--earlier``: the rows of an earlier run's scale.json below this run's sizes join
    the table (a store grown to 60 events before, measured again at 120)."""
    root, out = tmp_path / "store", tmp_path / "out"
    assert _grow(root, 60, 1) == 60
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"rows": [{"events": 60, "items": 60}, {"events": 600}]}))
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--items", "60", "--sizes", "120",
         "--samples", "20", "--root", str(root), "--out", str(out), "--earlier", str(earlier)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads((out / "scale.json").read_text())["rows"]
    assert [r["events"] for r in rows] == [60, 120]
    phases = [json.loads(line) for line in (root / "phases.jsonl").open()]
    assert [p["events"] for p in phases if p["phase"] == "grow"] == [60, 60]  # step 2 only
    assert "120 events" in (out / "scale.md").read_text()
