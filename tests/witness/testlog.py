"""A log of the tests' own: random 32-byte entries (block hashes), RFC 9162 roots, and
C2SP checkpoints signed with an ``anchoring.checkpoint.Signer`` — the generic model the
witness serves, built from the project's own accumulator functions."""

from __future__ import annotations

import os

from anchoring.accumulator import Accumulator, consistency_proof, merkle_tree_hash
from anchoring.checkpoint import Signer, sign_note
from witness.note import TreeHead


class GrowingLog:
    def __init__(self, origin: str = "example.com/test-log", signer: Signer | None = None) -> None:
        self.origin = origin
        self.signer = signer or Signer.generate(origin)
        self.entries: list[bytes] = []
        self._acc = Accumulator()
        self._roots: dict[int, bytes] = {0: self._acc.root()}

    @property
    def size(self) -> int:
        return len(self.entries)

    @property
    def vkey(self) -> str:
        return self.signer.verifier_text()

    def grow(self, count: int) -> int:
        for _ in range(count):
            entry = os.urandom(32)
            self.entries.append(entry)
            self._acc.append(entry)
        self._roots[self.size] = self._acc.root()
        return self.size

    def root(self, size: int) -> bytes:
        if size not in self._roots:
            self._roots[size] = merkle_tree_hash(self.entries[:size])
        return self._roots[size]

    def head(self, size: int | None = None) -> TreeHead:
        size = self.size if size is None else size
        return TreeHead(self.origin, size, self.root(size))

    def note(self, size: int | None = None) -> str:
        return sign_note(self.head(size).body(), self.signer)

    def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(self.entries, old, new)

    def fork(self, at: int) -> GrowingLog:
        """The same key and the first ``at`` entries, then a history of its own."""
        other = GrowingLog(self.origin, self.signer)
        other.entries = list(self.entries[:at])
        other._acc = Accumulator.from_hashes(other.entries)
        other._roots = {0: Accumulator().root(), at: other._acc.root()}
        return other
