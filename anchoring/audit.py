"""``audit``: recompute every leaf, root, header link and checkpoint from the stores.

The audit trusts nothing derived: leaves are recomputed from the ledger's stored events
(exact envelope bytes, per-item hash chain), roots from the leaves, block hashes from the
headers, accumulator roots from the block hashes, the two chain indexes from the blocks,
and checkpoint signatures with the platform key. Blocks must cover the ledger's
notification log contiguously from notification 1. It stops at the first divergence and
says where it is: block height, leaf index, item and version, ledger notification id or
chain record id. Damage that makes a record unreadable (bad UTF-8, bad JSON, an unknown
topic) is such a divergence, never an exception.

Beyond the hashes, every stored record of both stores must be exactly what its
application writes for the event it decodes to (so a byte that decodes to the same event
still counts), notification ids must run 1, 2, 3, … with no gap where the backend
guarantees it (SQLite), every aggregate's versions must run 1, 2, 3, …, and the parts
of a stored event that repeat signed data must agree with it: the decoded custody copy
with its envelope, the envelope with its device's enrolled key (signature), a tag claim
with its item's commissioning.

Every block also stores a digest of the exact ledger records of its notification range
(``records_digest``, see anchoring/chain.py), leafless records included; the audit
recomputes it, so any byte of a sealed ledger record — the ``timestamp`` eventsourcing
stores with every event, a party's name and role, an enrolment time — is vouched for.
A mismatch is reported after every other check has passed (a more precise divergence
wins), naming the block and its notification range, not the record: the digest is one
hash over the range. The digest sits in the chain store beside the block, outside the
signed header: it finds a changed ledger (or a changed digest), not someone rewriting
both stores together.

What no hash covers, and the audit therefore cannot vouch for (tests/anchoring/
test_tamper.py measures it): events after the head block, which are only checked for
readability, encoding, signatures and version order until they are sealed (their
timestamps, a party's name, a platform flag's text can change unnoticed until then);
the ``timestamp`` of the block events themselves (seal time, in the chain store, which
nothing hashes); and, in blocks sealed before ``records_digest`` existed (the audit
notes them), the ledger records' timestamps and the party and device fields no
signature depends on.

This module runs the audit and opens the stores for it. The walk over the two stores,
block by block with the ledger in step, is anchoring/audit_walk.py (reading each log:
anchoring/audit_log.py); the checks every single stored record gets (exact re-encoding,
fields, version order, custody copies, signatures, tag claims) are in
anchoring/audit_records.py (device-signed item records are read on a fast path that only
ever accepts what those checks accept: anchoring/audit_read.py; their signatures are
verified on native threads beside the walk: anchoring/audit_signatures.py); the head map's in
anchoring/audit_map.py; the checkpoint and ``--since`` checks in
anchoring/audit_checkpoint.py.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from anchoring.audit_checkpoint import audit_checkpoint, audit_since, log_tree
from anchoring.audit_records import Divergence, error_text
from anchoring.audit_walk import AuditReport, Walk
from anchoring.chain import Chain
from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from ledger.application import CustodyLedger

__all__ = ["UNEXPECTED", "AuditReport", "audit", "audit_stores", "read_checkpoint_text"]

UNEXPECTED = "audit stopped by an unexpected error"


def audit(
    ledger: CustodyLedger,
    chain: Chain,
    verifier: Verifier | None = None,
    checkpoint_text: str | None = None,
    since_text: str | None = None,
) -> AuditReport:
    report = AuditReport()
    walk = Walk(ledger, chain, report)
    try:
        with _rare_collections():
            headers = walk.run()
        if verifier is not None and (checkpoint_text is not None or since_text is not None):
            tree = log_tree(headers)
            current = None
            if checkpoint_text is not None:
                current = audit_checkpoint(tree, verifier, checkpoint_text, "current checkpoint")
            if since_text is not None:
                report.notes.append(audit_since(headers, tree, verifier, since_text, current))
    except Divergence as d:
        report.divergence = str(d)
    except VerificationError as e:
        report.divergence = f"{e.step}: {e}"
    except Exception as e:  # a bug here must still end in a report, with the place
        report.divergence = f"{UNEXPECTED} at {walk.where}: {error_text(e)}"
    return report


@contextmanager
def _rare_collections() -> Iterator[None]:
    """The walk allocates a few objects per record that mostly live until the next block,
    and keeps one entry per item: with the default thresholds the cyclic collector runs
    every few records and re-walks what survives, a fifth of the audit's time. Cycles are
    still collected, less often."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 100_000), *thresholds[1:])  # never more often
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def read_checkpoint_text(path: Path) -> str | None:
    """The checkpoint file's text (``None`` if there is none). Bytes that are not UTF-8
    become U+FFFD, so a damaged file fails its signature check instead of the reader."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return raw.decode("utf-8", errors="replace")


def audit_stores(
    open_ledger: Callable[[], CustodyLedger],
    open_chain: Callable[[], Chain],
    verifier: Verifier | None = None,
    checkpoint_text: str | None = None,
    since_text: str | None = None,
) -> AuditReport:
    """:func:`audit` of stores opened here: a store too damaged to open is a divergence."""
    stores = []
    for what, opener in (("ledger", open_ledger), ("chain", open_chain)):
        try:
            stores.append(opener())
        except Exception as e:
            return AuditReport(divergence=f"the {what} store cannot be opened: {error_text(e)}")
    ledger, chain = stores
    assert isinstance(ledger, CustodyLedger) and isinstance(chain, Chain)
    return audit(ledger, chain, verifier, checkpoint_text, since_text)
