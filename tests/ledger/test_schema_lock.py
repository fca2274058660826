"""Processes that open a new store at the same moment all succeed (found by crash injection:
the projector and the anchor both creating ``chain.sqlite``'s tracking table)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from anchoring.chain import Chain
from ledger.application import CustodyLedger
from ledger.config import store_env

OPENERS = {"ledger": CustodyLedger, "chain": Chain}


def _open(kind: str, path: str, barrier: object, errors: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        app = OPENERS[kind](store_env("", Path(path)))
        app.close()
    except Exception as e:
        errors.put(f"{type(e).__name__}: {e}")  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_many_processes_create_one_sqlite_store_together(kind: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = tmp_path / f"{kind}-{attempt}.sqlite"
        barrier, errors = context.Barrier(6), context.Queue()
        processes = [
            context.Process(target=_open, args=(kind, str(path), barrier, errors)) for _ in range(6)
        ]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=60)
        assert [p.exitcode for p in processes] == [0] * 6
        assert errors.empty(), errors.get()
