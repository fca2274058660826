"""``assay project``, ``assay sql`` and ``assay history`` end to end (ledger fed directly)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assay import cli
from tests.projections.support import make_store
from tests.projections.workload import Workload
from tests.support import custody

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def assay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    for name in ("ASSAY_DATABASE_URL", "ASSAY_DATA_DIR", "ASSAY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray ./assay.toml
    modules = tuple(dict.fromkeys((*cli.COMMAND_MODULES, "project", "sql")))
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    Workload(make_store(tmp_path), seed=4, items=4).run(30)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--data-dir", str(tmp_path), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_sql_before_any_projection_says_what_to_run(assay: Run) -> None:
    code, _, err = assay("sql", "SELECT 1")
    assert code == 2 and "assay project" in err


def test_project_then_query_in_three_formats(assay: Run) -> None:
    code, _, err = assay("project", "--until-idle", "0.2")
    assert code == 0 and "projected" in err
    query = "SELECT status, count(*) AS n FROM items GROUP BY ALL ORDER BY status"
    _, out, _ = assay("sql", query, "--json")
    as_json = json.loads(out)
    assert sum(r["n"] for r in as_json) == 5  # four items and the ghost
    _, out, _ = assay("sql", query, "--csv")
    assert [dict(r) for r in csv.DictReader(io.StringIO(out))] == [
        {"status": r["status"], "n": str(r["n"])} for r in as_json
    ]
    _, out, _ = assay("sql", query)
    assert out.splitlines()[0].split() == ["status", "n"]
    assert out.splitlines()[-1] == f"({len(as_json)} rows)"


def test_history_and_errors(assay: Run) -> None:
    assay("project", "--until-idle", "0.2")
    code, out, _ = assay("history", "urn:item:4-0", "--json")
    events = json.loads(out)
    assert code == 0 and events[0]["version"] == 1 and events[0]["kind"] == "commissioning"
    assert all(e["block_height"] is not None for e in events)
    code, out, _ = assay("history", "urn:item:4-0")
    assert code == 0 and "commissioning" in out
    code, _, err = assay("history", "urn:item:nope")
    assert code == 2 and "no item" in err
    code, _, err = assay("sql", "SELEC nonsense")
    assert code == 2 and "query failed" in err
    code, _, err = assay("sql", "DELETE FROM items")
    assert code == 2 and "read-only" in err.lower()


def test_rebuild_shows_progress(assay: Run) -> None:
    code, _, err = assay("project", "--rebuild")
    assert code == 0 and "rebuild [" in err and "100%" in err
    code, out, _ = assay("sql", "SELECT count(*) AS n FROM custody_events", "--json")
    assert code == 0 and json.loads(out)[0]["n"] > 0


def test_history_shows_what_was_declared_in_error_and_the_corrected_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ASSAY_DATABASE_URL", "ASSAY_DATA_DIR", "ASSAY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    modules = tuple(dict.fromkeys((*cli.COMMAND_MODULES, "project", "sql")))
    monkeypatch.setattr(cli, "COMMAND_MODULES", modules)
    store, bag = make_store(tmp_path), "urn:bag:9"
    store.record([custody(1, "commissioning", "brand", bag, tag_uid="T9", brand="B", model="M",
                          serial="9")])  # fmt: skip
    store.record([custody(2, "observing", "brand", bag, location="wrong-room")])
    store.record([custody(3, "error_declaration", "brand", bag, declared_event_id=f"{bag}#e2",
                          error_reason="incorrect_data")])  # fmt: skip

    def run(*argv: str) -> tuple[int, str]:
        code = cli.main(["--data-dir", str(tmp_path), *argv])
        return code, capsys.readouterr().out

    run("project", "--until-idle", "0.2")
    code, out = run("history", bag)
    assert code == 0
    lines = out.splitlines()
    assert lines[-2] == (
        "v2 observing declared in error by brand at 2026-01-01T03:00:00+00:00 (incorrect_data)"
    )
    assert lines[-1] == (
        "corrected view (without the 1 event(s) above): in_custody, held by brand at loc-brand"
    )
    _, out = run("history", bag, "--json")
    events = json.loads(out)
    assert [(e["kind"], e["declared_in_error"], e["declared_event_id"]) for e in events] == [
        ("commissioning", False, None),
        ("observing", True, None),
        ("error_declaration", False, f"{bag}#e2"),
    ]
