"""Checkpoint signing for the anchor (:mod:`anchoring.sealer`): after each seal the new head
is published as a signed checkpoint, and witnesses get consistency proofs between sizes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anchoring.accumulator import Accumulator
from anchoring.checkpoint import Checkpoint, Signer, sign_checkpoint
from anchoring.checkpoint_file import write_checkpoint_file
from anchoring.header import MAP_HEADER_VERSION, BlockHeader
from anchoring.logtree import BlockHashTree
from anchoring.sealer_map import AnchorError


class CheckpointSigning:
    """The anchor's checkpoint half: what it signs over its headers and accumulator."""

    origin: str
    signer: Signer
    headers: list[BlockHeader]
    accumulator: Accumulator
    checkpoint_path: Path | None
    publish_checkpoint: Callable[[str], None] | None
    _log_tree: BlockHashTree  # grown lazily from headers, for consistency proofs

    @property
    def head(self) -> BlockHeader | None:
        return self.headers[-1] if self.headers else None

    def log_root(self) -> bytes:
        """The version 2 checkpoint root: RFC 9162 MTH of block hashes 0..head height.

        That is the accumulator with the head appended (a header's own ``acc_root`` stops
        before it), so witnesses can check consistency between any two checkpoints.
        """
        return self.accumulator.root()

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from the ``old_size``-block log to ``new_size``
        (default: up to the head), for witnesses holding an older checkpoint."""
        tree = self._log_tree
        for header in self.headers[tree.size :]:
            tree.append(header.block_hash())
        return tree.consistency_proof(old_size, tree.size if new_size is None else new_size)

    def checkpoint_text(self) -> str | None:
        """The signed checkpoint: size = blocks; root = :meth:`log_root` (version 2) once
        the head is a version 2 block. A chain still sealing version 1 headers signs
        version 1 checkpoints (root = the head block's hash), the only kind a version 1
        head's bundles can carry."""
        head = self.head
        if head is None:
            return None
        if self.accumulator.size != head.height + 1:
            raise AnchorError(f"the accumulator has {self.accumulator.size} blocks, not the head's")
        root = self.log_root() if head.version == MAP_HEADER_VERSION else head.block_hash()
        return sign_checkpoint(Checkpoint(self.origin, head.height + 1, root), self.signer)

    def write_checkpoint(self) -> None:
        text = self.checkpoint_text()
        if text is None:
            return
        if self.checkpoint_path is not None:
            write_checkpoint_file(self.checkpoint_path, text)
        if self.publish_checkpoint is not None:
            self.publish_checkpoint(text)
