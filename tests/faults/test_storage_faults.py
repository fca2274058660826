"""Use case: the data disk fills up, turns read-only, or another process locks the store.

Each Assay process must stop with one clear line and a non-zero exit code, never a
traceback, and leave nothing half written: after the fault is cleared, the same commands
finish the job, every published event is stored exactly once, the chain audits clean and
the projection equals a fresh rebuild.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from assay.failures import STORAGE_FAILED
from tests.faults.support import (
    Deployment,
    nearly_full,
    sqlite_ok,
    tmpfs,
    without_write_permission,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def refused(done: object, *words: str) -> str:
    """The error line of a refused command; asserts a clean, non-zero, one-line failure."""
    assert getattr(done, "returncode") == STORAGE_FAILED, getattr(done, "stderr")  # noqa: B009
    stderr: str = getattr(done, "stderr")  # noqa: B009
    assert "Traceback" not in stderr, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("assay: error: ")
    assert any(w in line for w in words), line
    return line


def test_a_full_disk_stops_each_process_cleanly_and_loses_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        site = Deployment(disk / "data", kafka_bootstrap)

        # Scanners publish 1,400 events; the disk has room for a few of them only.
        site.publish_items(0, 200)
        with nearly_full(disk, leave_bytes=96 * 1024):
            line = refused(
                site.assay("ingest", "--until-idle", "0.5"), "no space", "disk is full", "full"
            )
        assert sqlite_ok(site.data_dir / "ledger.sqlite")
        stored, distinct = site.stored_custody()
        assert stored == distinct < site.published, line  # a consistent prefix, no repeats

        # Space is back: the same command picks up where the last commit left off.
        site.assay("ingest", "--until-idle", "0.5", check=True)
        assert site.stored_custody() == (site.published, site.published)

        # The anchor cannot write its next block: nothing half written, the chain audits clean.
        site.assay("anchor", "--once", check=True)
        site.publish_items(200, 50)
        site.assay("ingest", "--until-idle", "0.5", check=True)
        with nearly_full(disk, leave_bytes=16 * 1024):
            refused(site.assay("anchor", "--once"), "no space", "full")
        assert sqlite_ok(site.data_dir / "chain.sqlite")
        site.audit_clean()
        site.assay("anchor", "--once", check=True)
        site.audit_clean()

        # The projector cannot write DuckDB: the last committed projection survives.
        site.assay("project", "--until-idle", "1", check=True)
        site.publish_items(250, 100)
        site.assay("ingest", "--until-idle", "0.5", check=True)
        site.assay("anchor", "--once", check=True)
        with nearly_full(disk, leave_bytes=64 * 1024):
            refused(site.assay("project", "--until-idle", "1"), "no space", "full", "DuckDB")
        site.assay("project", "--until-idle", "1", check=True)
        site.projection_equals_rebuild(tmp_path)
        site.audit_clean()
        assert site.stored_custody() == (site.published, site.published)


def test_a_read_only_data_dir_is_refused_with_a_clear_error(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    site = Deployment(tmp_path / "data", kafka_bootstrap)
    site.publish_items(0, 20)
    site.assay("ingest", "--until-idle", "0.5", check=True)
    before = {p: p.read_bytes() for p in site.data_dir.rglob("*.sqlite") if p.is_file()}
    modes = _make_read_only(site.data_dir)
    try:
        prefix = without_write_permission()
        for command in (("anchor", "--once"), ("project", "--until-idle", "1")):
            refused(site.assay(*command, prefix=prefix), "readonly", "read-only", "permission")
        site.publish_items(20, 5)
        refused(
            site.assay("ingest", "--until-idle", "0.5", prefix=prefix),
            "readonly", "read-only", "permission",
        )  # fmt: skip
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert {p: p.read_bytes() for p in before} == before  # not one byte changed

    # Writable again: everything continues.
    site.assay("ingest", "--until-idle", "0.5", check=True)
    site.assay("anchor", "--once", check=True)
    site.assay("project", "--until-idle", "1", check=True)
    assert site.stored_custody() == (site.published, site.published)
    site.audit_clean()
    site.projection_equals_rebuild(tmp_path)


def _make_read_only(root: Path) -> dict[Path, int]:
    modes: dict[Path, int] = {}
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        modes[path] = mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return modes


def test_a_locked_event_store_times_out_with_a_clear_error(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    site = Deployment(tmp_path / "data", kafka_bootstrap)
    site.publish_items(0, 10)
    quick = {"ASSAY_STORE_LOCK_TIMEOUT": "1"}

    # Another process holds the ledger's write lock (an admin's `BEGIN EXCLUSIVE`).
    holder = sqlite3.connect(site.data_dir / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        refused(site.assay("ingest", "--until-idle", "0.5", extra_env=quick), "locked", "busy")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert site.stored_custody() == (0, 0)

    site.assay("ingest", "--until-idle", "0.5", check=True)
    chain_holder = sqlite3.connect(site.data_dir / "chain.sqlite", isolation_level=None)
    chain_holder.execute("BEGIN EXCLUSIVE")
    try:
        refused(site.assay("anchor", "--once", extra_env=quick), "locked", "busy")
    finally:
        chain_holder.execute("ROLLBACK")
        chain_holder.close()
    site.assay("anchor", "--once", check=True)
    site.audit_clean()
    assert site.stored_custody() == (site.published, site.published)
    assert os.environ.get("ASSAY_STORE_LOCK_TIMEOUT") is None  # the default stays 30 s
