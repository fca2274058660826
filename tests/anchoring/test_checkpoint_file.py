"""The checkpoint file never moves backwards, whoever writes it (an anchor, its witnessing)."""

from __future__ import annotations

from pathlib import Path

from anchoring.checkpoint_file import note_size, write_checkpoint_file
from anchoring.sealer import SealPolicy
from tests.anchoring.stores import record_items
from tests.anchoring.test_sealer import new_anchor, open_chain
from tests.support import make_world


def note(size: int, tail: str = "") -> str:
    return f"assay.test/custody-log\n{size}\nAAAA\n\n— assay.test/custody-log AAAA{tail}\n"


def test_a_smaller_note_never_replaces_a_larger_one(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint"
    assert write_checkpoint_file(path, note(5))
    assert not write_checkpoint_file(path, note(3))
    assert path.read_text() == note(5)
    assert write_checkpoint_file(path, note(5, "B"))  # the same size: more cosignatures
    assert write_checkpoint_file(path, note(6)) and note_size(path.read_text()) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no temporary file left


def test_an_unreadable_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint"
    path.write_bytes(b"\xff\xfe not text")
    assert write_checkpoint_file(path, note(1))
    assert path.read_text() == note(1)
    assert note_size("no size line") == 0 and note_size("o\n-3\nx\n") == 0


def test_an_anchor_behind_another_leaves_the_newer_checkpoint_in_place(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    record_items(world, 0, 2)
    anchor = new_anchor(world.ledger, open_chain(tmp_path), tmp_path, policy=SealPolicy(1, 1e9))
    anchor.catch_up()
    written = (tmp_path / "checkpoint").read_text()
    assert note_size(written) == len(anchor.headers) > 1
    newer = note(len(anchor.headers) + 10)
    (tmp_path / "checkpoint").write_text(newer)  # another anchor moved on
    anchor.write_checkpoint()
    assert (tmp_path / "checkpoint").read_text() == newer
    (tmp_path / "checkpoint").write_text(note(1))  # an older one: the anchor replaces it
    anchor.write_checkpoint()
    assert (tmp_path / "checkpoint").read_text() == written
