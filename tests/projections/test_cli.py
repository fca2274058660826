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
