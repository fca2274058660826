"""The outbox file (docs/outbox.md): its vectors, its order, and writers in two processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.outbox import FORMAT, Outbox, OutboxError, outbox_beside

VECTORS = Path(__file__).parent / "vectors" / "outbox"


def vector_files() -> list[Path]:
    files = sorted(VECTORS.glob("*.json"))
    assert len(files) >= 8, "the outbox vectors are missing"
    return files


def build(vector: dict[str, Any], path: Path) -> None:
    if vector["sql"] is None:
        path.write_bytes(bytes.fromhex(vector["bytes_hex"]))
        return
    con = sqlite3.connect(path)
    for statement in vector["sql"]:
        con.execute(statement)
    con.commit()
    con.close()


@pytest.mark.parametrize("file", vector_files(), ids=lambda p: p.stem)
def test_vector(file: Path, tmp_path: Path) -> None:
    vector = json.loads(file.read_text())
    path = tmp_path / "scanner.key.outbox.sqlite"
    build(vector, path)
    if vector["want_err"]:
        before = path.read_bytes()
        with pytest.raises(OutboxError, match=vector["want_err"]):
            Outbox(path)
        assert path.read_bytes() == before  # refused, and left as it was
        return
    want = vector["want"]
    with Outbox(path) as outbox:
        pending = [
            [e.seq, e.topic, None if e.key is None else e.key.hex(), e.value.hex()]
            for e in outbox.pending()
        ]
        assert pending == want["pending"], vector["desc"]
        state = outbox.state()
        assert [list(f) for f in state.failures] == want["failed"]
        assert state.oldest == want["oldest"]
        assert outbox.put("t", b"k", b"v") == want["next_seq"]


def test_entries_leave_in_the_order_written_and_only_once_acknowledged(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as outbox:
        seqs = outbox.put_many([("t", f"item-{n % 3}".encode(), bytes([n])) for n in range(10)])
        assert seqs == list(range(1, 11))
        assert [e.value for e in outbox.pending(limit=4)] == [bytes([n]) for n in range(4)]
        assert outbox.ack([2, 3]) == 2
        assert outbox.ack([2]) == 0  # acknowledging twice removes nothing more
        assert [e.seq for e in outbox.pending()] == [1, *range(4, 11)]
        assert outbox.has_pending_up_to(1) and not outbox.has_pending_up_to(0)
        outbox.fail(1, "RecordTooLargeError: no")
        assert not outbox.has_pending_up_to(3)
        assert (outbox.depth(), outbox.state().failed) == (7, 1)
        assert outbox.retry_failed() == 1
        assert outbox.pending()[0].seq == 1


def test_put_many_keeps_all_or_nothing(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite") as outbox:
        messages: list[Any] = [("t", b"k", b"one"), ("t", b"k", None)]  # NOT NULL value
        with pytest.raises(sqlite3.IntegrityError):
            outbox.put_many(messages)
        assert outbox.depth() == 0


def test_it_lives_beside_the_device_key(tmp_path: Path) -> None:
    assert outbox_beside(tmp_path / "dc1.key") == tmp_path / "dc1.key.outbox.sqlite"


WRITER = """
import sys
from streams.outbox import Outbox
with Outbox(sys.argv[1]) as outbox:
    for n in range(200):
        outbox.put("t", sys.argv[2].encode(), str(n).encode())
"""


def test_two_processes_write_one_outbox_without_losing_or_mixing_up_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.outbox.sqlite"
    Outbox(path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with Outbox(path) as outbox:
        entries = outbox.pending(limit=1000)
    assert len(entries) == 400
    for name in (b"a", b"b"):
        mine = [int(e.value) for e in entries if e.key == name]
        assert mine == list(range(200))  # each writer's order is kept


def test_the_format_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    Outbox(path).close()
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM outbox_meta WHERE name='format'").fetchone() == (FORMAT,)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()
