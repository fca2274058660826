"""The audit's per-item leaf chain: each item event's leaf, chained to its item's previous
leaf, and the rule that an item's events come one version at a time.

The chain's state (each item's last leaf and version) lives in the native extension
(native/src/itemchain.rs), which builds the next leaf of an ordinary event in one call.
:meth:`LeafChain.reference_leaf` is the reference (``anchoring.leaves.event_leaf`` and the
walk's version rule, as they were): it takes every event the native call declines (an
odd type, an item that skips a version, an unknown kind, a length that does not fit) on
the same state, and raises what it raised. tests/anchoring/test_audit_leaves.py binds the
two.
"""

from __future__ import annotations

from assay_headmap import ItemChain

from anchoring.audit_records import Divergence
from anchoring.leaves import _KIND_BYTES, _PREFIX, event_leaf
from ledger.records import LeafSource


class LeafChain:
    """Each item's last leaf and version, as the walk builds its leaves."""

    __slots__ = ("_native",)

    def __init__(self) -> None:
        self._native = ItemChain(_PREFIX, _KIND_BYTES)

    def next_leaf(self, item_id: str, version: int, source: LeafSource, where: str) -> bytes:
        """The leaf of ``item_id``'s event at ``version`` (``source``: its leaf source, for
        the same item and version; its kind and payload are hashed, with ``item_id`` and
        ``version``), which becomes the item's last; a Divergence naming ``where`` if the
        item's previous version is not ``version - 1``."""
        leaf: bytes | None = self._native.leaf(item_id, version, source.kind, source.payload)
        if leaf is not None:
            return leaf
        return self.reference_leaf(item_id, version, source, where)

    def reference_leaf(self, item_id: str, version: int, source: LeafSource, where: str) -> bytes:
        """:meth:`next_leaf` in Python (hashing the same ``item_id`` and ``version``)."""
        key = item_id.encode("utf-8", "surrogatepass")
        last: bytes = self._native.last(key)  # zeros: none yet (a version 0 before it)
        if (prev_version := int.from_bytes(last[32:], "big")) != version - 1:
            raise Divergence(f"{where}: the item jumps from v{prev_version} to v{version}")
        leaf = event_leaf(item_id, version, source.kind, source.payload, last[:32])
        self._native.set(key, leaf + version.to_bytes(8, "big"))
        return leaf

    def __len__(self) -> int:
        return len(self._native)
