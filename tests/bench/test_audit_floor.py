"""The audit's signature floor (bench/audit_floor.py) on a small store built as the audit
bench builds its own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.audit_floor import floor_line, floor_rate, signature_floor, stored_signatures
from bench.bench_audit import ROOT, STORE_FILES, audit_once, build_store, floor_once
from ledger.application import CustodyLedger
from ledger.config import store_env

EVENTS, ITEMS = 2_000, 200


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit-floor") / "store"
    build_store(root, EVENTS, ITEMS, ROOT)
    return root


def test_the_floor_checks_every_signature_of_the_store(store: Path, tmp_path: Path) -> None:
    for name in STORE_FILES:
        shutil.copyfile(store / name, tmp_path / name)
    floor = signature_floor(tmp_path)
    # every item event of the bench's store is device-signed, and every signature holds
    assert floor["item_events"] == floor["signatures"] == floor["valid"] == EVENTS
    assert floor["wall_s"] > 0 and floor["cpu_s"] > 0
    assert floor["cores"] == len(os.sched_getaffinity(0))
    assert 1 <= floor["pool_threads"] <= floor["pool_cap"] <= floor["cores"]
    line = floor_line(floor)
    assert f"{EVENTS:>8} events" in line
    assert f"of {floor['cores']}" in line
    assert f"{floor_rate(floor):>9,.0f}/s wall" in line


def test_the_floor_counts_a_bad_signature_as_invalid(store: Path, tmp_path: Path) -> None:
    """The gathered checks are the store's: a flipped signature bit is one fewer valid."""
    from bench.audit_floor import verify_all

    for name in STORE_FILES:
        shutil.copyfile(store / name, tmp_path / name)
    checks, items = stored_signatures(CustodyLedger(store_env("", tmp_path / "ledger.sqlite")))
    assert len(checks) == items == EVENTS
    key, message, signature = checks[7]
    checks[7] = (key, message, bytes([signature[0] ^ 1]) + signature[1:])
    valid, wall, cpu = verify_all(checks)
    assert valid == EVENTS - 1 and wall > 0 and cpu > 0


def test_no_audit_of_the_store_beats_its_floor(store: Path, tmp_path: Path) -> None:
    """The bench's two measurements, each in a process of its own on a fresh copy: the
    full audit does the floor's work and more, so it never gets more events out of a CPU
    second (CPU, not wall: other load on the machine moves the wall clock of either)."""
    audit = audit_once(ROOT, store, tmp_path / "audit")
    floor = floor_once(store, tmp_path / "floor")
    assert audit["leaves"] == floor["item_events"] == EVENTS
    assert floor["item_events"] / floor["cpu_s"] >= audit["leaves"] / audit["cpu_s"]
