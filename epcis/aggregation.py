"""What the gateway remembers of packing: which items (or cases) are inside which parent.

A document is mapped against a working copy; the copy's changes are saved (with the
capture job's success) only after every event of the document reached the broker, so a
gateway stopped half way maps the resent document exactly as the first time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class SavedMemory(Protocol):
    def children(self, parent: str) -> list[str]: ...
    def parent_of(self, child: str) -> str | None: ...
    def is_parent(self, epc: str) -> bool: ...


class Containment:
    """Parent -> children as the saved memory has them, changed in memory by one document."""

    def __init__(self, saved: SavedMemory) -> None:
        self._saved = saved
        self._children: dict[str, list[str]] = {}
        self.placed: dict[str, str] = {}  # child -> parent, set by this document
        self.removed: set[str] = set()  # children this document took out (and left out)

    def children(self, parent: str) -> list[str]:
        if parent not in self._children:
            saved = self._saved.is_parent(parent)
            self._children[parent] = self._saved.children(parent) if saved else []
        return self._children[parent]

    def parent_of(self, child: str) -> str | None:
        if child in self.placed:
            return self.placed[child]
        return None if child in self.removed else self._saved.parent_of(child)

    def pack(self, parent: str, children: Iterable[str]) -> None:
        """Put children into parent; a child is in one parent at a time (moved if needed)."""
        for child in children:
            previous = self.parent_of(child)
            if previous is not None and previous != parent:
                self._drop(previous, child)
            if child not in self.children(parent):
                self.children(parent).append(child)
            self.placed[child] = parent
            self.removed.discard(child)

    def unpack(self, parent: str, children: Iterable[str] | None = None) -> list[str]:
        """Take children (all of them if none are named) out of parent; returns them."""
        taken = list(self.children(parent)) if children is None else list(children)
        for child in taken:
            if self.parent_of(child) == parent:
                self._drop(parent, child)
                self.placed.pop(child, None)
                self.removed.add(child)
        return taken

    def _drop(self, parent: str, child: str) -> None:
        kids = self.children(parent)
        if child in kids:
            kids.remove(child)
