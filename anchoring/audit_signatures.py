"""The audit's device signatures, verified on other threads while it reads on.

The walk reads a block's ledger records first and checks their signatures after its
leaves (anchoring/audit_walk.py). Most records are device-signed item events whose
envelope the fast path (anchoring/audit_read.py) has already opened, so their signature
can be asked for as soon as the record is read: :class:`SignatureQueue` gathers them in
chunks and starts each full chunk on the native extension's verifier threads
(:class:`~streams.ed25519.PendingVerdicts`; at most one thread per core the process may
run on, kept for the process: native/src/verify_pool.rs), so the equations run on the
other core while this one decodes. When the checks come, they take the verdict instead of
computing it; each is :meth:`PublicKey.verify <streams.ed25519.PublicKey.verify>` of the
same key, body and signature, so no check and no message changes.
"""

from __future__ import annotations

from streams.ed25519 import PendingVerdicts, PublicKey

#: Signatures per chunk started while the walk reads on (each offered to one verifier
#: thread; chunks wait their turn when every thread is busy).
CHUNK = 128
#: Verifier threads offered the last, partial chunk, which the checks wait for at once
#: (the waiting thread verifies beside them).
LAST_THREADS = 1


class _Chunk:
    __slots__ = ("checks", "pending")

    def __init__(self) -> None:
        self.checks: list[tuple[PublicKey, bytes, bytes]] = []
        self.pending: PendingVerdicts | None = None

    def start(self, threads: int) -> None:
        if self.pending is None:
            self.pending = PendingVerdicts(self.checks, threads)

    def verdict(self, index: int) -> bool:
        self.start(LAST_THREADS)
        assert self.pending is not None
        return self.pending.verdict(index)


#: Where a signature's verdict will be: its chunk and its place in it.
Ticket = tuple[_Chunk, int]


class SignatureQueue:
    """Signatures to verify, in chunks started as they fill."""

    def __init__(self) -> None:
        self._open = _Chunk()

    def submit(self, key: PublicKey, message: bytes, signature: bytes) -> Ticket:
        if self._open.pending is not None:  # a verdict was asked of it early: it is closed
            self._open = _Chunk()
        chunk = self._open
        chunk.checks.append((key, message, signature))
        if len(chunk.checks) == CHUNK:
            chunk.start(1)
            self._open = _Chunk()
        return chunk, len(chunk.checks) - 1

    def flush(self) -> None:
        """Start the partial chunk: its verdicts are wanted now."""
        if self._open.checks:
            self._open.start(LAST_THREADS)
            self._open = _Chunk()

    @staticmethod
    def verdict(ticket: Ticket) -> bool:
        """``key.verify(message, signature)`` of the submitted signature."""
        chunk, index = ticket
        return chunk.verdict(index)
