"""Typed verification failures, each carrying a stable machine-readable ``step`` code.

The code names the check that failed (e.g. ``merkle_root``), so callers, test vectors and
JSON reports can branch on it without parsing prose; the message says what did not match.

Step codes raised by the primitives:

============================  ==============================================================
``merkle_index``              leaf index outside ``0 <= index < leaf_count``
``merkle_leaf``               leaf or root is not a 32-byte digest
``merkle_path_entry``         path is not a list of ``{"left"|"right": <64 lowercase hex>}``
``merkle_path_shape``         path length or sides differ from the shape the index implies
``merkle_root``               the path leads to a different root
``acc_index``                 block index outside ``0 <= index < size``
``acc_proof``                 accumulator proof has the wrong length or a non-32-byte hash
``acc_inclusion``             the accumulator proof leads to a different root
``consistency_proof``         consistency proof malformed for the two sizes
``consistency``               the consistency proof does not reproduce both roots
``header_format``             header field missing, mistyped or out of range
``header_link``               header breaks a rule it can check on its own (genesis, acc_size)
``checkpoint_format``         note or checkpoint body not in the strict format
``checkpoint_origin``         checkpoint is for a different log than expected
``checkpoint_signature``      no valid signature by the pinned key
``key_file``                  key file or key text unreadable, malformed or already present
============================  ==============================================================
"""

from __future__ import annotations


class VerificationError(Exception):
    """A check failed; ``step`` is a stable code for which one, ``str(e)`` says why."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.step!r}, {self.message!r})"


class ProofError(VerificationError):
    """A Merkle inclusion proof inside a block did not verify."""


class AccumulatorError(VerificationError):
    """An accumulator inclusion or consistency proof did not verify."""


class HeaderError(VerificationError):
    """A block header is malformed or violates a rule checkable from the header alone."""


class CheckpointError(VerificationError):
    """A signed checkpoint is malformed, for another log, or not signed by the pinned key."""


class KeyFileError(VerificationError):
    """A key (file or text) cannot be read, is malformed, or would be overwritten."""
