"""The checkpoint file: the latest signed (or cosigned) checkpoint note, replaced atomically.

It never moves backwards: a note naming fewer blocks than the file's does not replace it (a
second anchor started by mistake, or a witnessing round that finished after a newer one,
must not show readers an older log). A note of the same size replaces it (it may carry more
cosignatures).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_file_lock = threading.Lock()


def note_size(note: str) -> int:
    """The size line of a checkpoint note, unverified (0 if unreadable)."""
    lines = note.split("\n", 2)
    return int(lines[1]) if len(lines) > 2 and lines[1].isascii() and lines[1].isdigit() else 0


def write_checkpoint_file(path: Path, note: str) -> bool:
    """Replace ``path`` by ``note`` unless it holds a larger checkpoint; True if written."""
    with _file_lock:
        try:
            if note_size(path.read_text(encoding="utf-8")) > note_size(note):
                return False
        except (OSError, UnicodeDecodeError):
            pass
        replace_text(path, note)
        return True


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` by renaming a temporary file over it (readers see the old
    file or the new one, never a part)."""
    # A name per writer: two anchors by mistake must not rename each other's file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
