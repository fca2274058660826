"""The chain's stored map state (:mod:`anchoring.headbands`): proofs at the head straight
from the store, and the state built once from the entries in data dirs written before it.

A proof is answered from the state only when the state stands at the height asked for (the
checkpoint's head); a checkpoint that lags the newest block, or any older height, goes
the rebuild way (:meth:`anchoring.chain.Chain.map_proof_at`). Either way the composed root
must be the block header's ``map_root``, else LookupError.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from anchoring.errors import ProofError
from anchoring.headbands import HEAD_ID, compose, head_of, state_of
from anchoring.headmap import MapEntry, MapProof, root_of
from anchoring.headmap_native import HeadMap
from anchoring.recorders import BlockIndex, MapStateStore

log = logging.getLogger(__name__)


def state_height(store: object) -> int | None:
    """The height the stored state stands at (None: no state, or no store of it)."""
    if not isinstance(store, MapStateStore):
        return None
    bands, _ = store.map_state_rows(bytes(32))
    head = bands.get(HEAD_ID)
    return None if head is None else head_of(head)[0]


def proof_from_state(
    store: object, map_root: Callable[[int], bytes | None], key: bytes, height: int
) -> tuple[MapEntry | None, MapProof] | None:
    """The key's entry and proof at ``height`` from the stored state, or None if the state
    does not stand at ``height``; LookupError if it does but gives another root."""
    read = getattr(store, "map_state_rows", None)  # (a Protocol's isinstance is slow)
    if read is None:
        return None
    bands, entries = read(key)
    head = bands.get(HEAD_ID)
    if head is None or head_of(head)[0] != height:
        return None
    entry, proof = compose(key, bands, entries)
    try:
        root = root_of(key, entry, proof)
    except ProofError as e:
        raise LookupError(f"the stored map state gives no proof: {e}") from None
    expected = map_root(height)
    if expected is None or not hmac.compare_digest(root, expected):
        raise LookupError(f"the stored map state does not give block {height}'s map root")
    return entry, proof


def build_state(
    store: object, map_root: Callable[[int], bytes | None], rebuild: Callable[[int], HeadMap]
) -> bool:
    """Write the state from the stored entries if it does not stand at the newest block
    (a data dir from before it, or a block sealed without it); whether it was written. A
    chain whose newest block cannot be read opens without it (proofs take the rebuild way,
    which reports the problem, as the audit does)."""
    if not isinstance(store, MapStateStore) or not isinstance(store, BlockIndex):
        return False
    newest = store.indexed_blocks() - 1
    if newest < 0 or state_height(store) == newest:
        return False
    try:
        root = map_root(newest)
        if root is None:
            return False  # a version 1 head: no map yet
        m = rebuild(newest)
    except Exception as e:  # derived data: the audit names what is wrong
        log.warning("the head map state was not built: %s", e)
        return False
    if not hmac.compare_digest(m.root, root):
        log.warning("the stored map entries do not give block %d's map root", newest)
        return False
    written = store.replace_map_state(state_of(m, None), newest)
    if written:
        log.info("built the stored head map state at block %d (%d entries)", newest, m.size)
    return written
