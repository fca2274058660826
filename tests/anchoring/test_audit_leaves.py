"""The audit's leaf chain (anchoring/audit_leaves.py): the native step
(native/src/itemchain.rs) gives the leaf, the error and the state the walk's Python code
gave (spelt out here as it was: a dict of each item's last leaf and version, and
``event_leaf``), whatever it is fed; and audits of tampered stores name the same
divergence with the native step and with the reference alone."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import anchoring.audit_leaves as audit_leaves
from anchoring.audit_leaves import LeafChain
from anchoring.audit_records import Divergence
from anchoring.leaves import ZERO_HASH, event_leaf, leaf_of
from ledger.records import LeafSource
from tests.anchoring.tamper import build_store, copy_store, corrupt
from tests.anchoring.test_audit_read import audits_alike, flips_audit_alike


class _WalkAsItWas:
    """The walk's leaf step before the native chain (anchoring/audit_walk.py's ``_leaf``)."""

    def __init__(self) -> None:
        self.last_leaf: dict[str, bytes] = {}

    def next_leaf(self, item_id: str, version: Any, source: LeafSource, where: str) -> bytes:
        last = self.last_leaf.get(item_id, ZERO_HASH)
        if (prev_version := int.from_bytes(last[32:], "big")) != version - 1:
            raise Divergence(f"{where}: the item jumps from v{prev_version} to v{version}")
        leaf = event_leaf(source.item_id, source.version, source.kind, source.payload, last[:32])
        self.last_leaf[item_id] = leaf + version.to_bytes(8, "big")
        return leaf


def _outcome(chain: Any, item_id: str, version: Any, kind: Any, payload: Any) -> object:
    source = LeafSource(item_id, version, kind, payload)
    try:
        return chain.next_leaf(item_id, version, source, "here")
    except Exception as e:
        return (type(e), str(e))


_ITEMS = st.sampled_from(["urn:item:a", "urn:item:b", "\u00e9\U0001f600", "\ud800x", ""])
_VERSIONS = st.one_of(
    st.integers(min_value=-2, max_value=6),
    st.sampled_from([True, 2**63, 2**64 - 1, 2**64]),
)
_KINDS = st.sampled_from(["E", "P", "E", "P", "X", "EE", "\ud800"])
_PAYLOADS = st.one_of(st.binary(max_size=40), st.binary(max_size=8).map(bytearray))
_STEP = st.tuples(_ITEMS, _VERSIONS, _KINDS, _PAYLOADS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_STEP, _STEP.map(lambda s: (s[0], "next", s[2], s[3]))), max_size=30))
@example([("urn:item:a", 1, "E", b"x"), ("urn:item:a", 3, "E", b"y")])
@example([("\ud800x", 1, "E", b"x"), ("\ud800x", 2, "P", bytearray(b"y"))])
@example([("urn:item:a", 1, "E", bytearray(b"x")), ("urn:item:a", 2, "E", b"y")])
def test_the_native_chain_answers_as_the_walk_did(steps: list[tuple[Any, ...]]) -> None:
    """("next": the version after the item's last, so most steps chain.)"""
    native, before = LeafChain(), _WalkAsItWas()
    versions: dict[str, int] = {}
    for item_id, version, kind, payload in steps:
        if version == "next":
            version = versions.get(item_id, 0) + 1
        got = _outcome(native, item_id, version, kind, payload)
        assert got == _outcome(before, item_id, version, kind, payload)
        if isinstance(got, bytes):
            versions[item_id] = version
    assert len(native) == len(before.last_leaf)


def test_a_chained_leaf_is_the_leaf_of_its_record() -> None:
    chain = LeafChain()
    first = LeafSource("urn:item:z", 1, "E", b"envelope")
    second = LeafSource("urn:item:z", 2, "P", b"platform body")
    one = chain.next_leaf("urn:item:z", 1, first, "here")
    assert one == leaf_of(first, ZERO_HASH)
    assert chain.next_leaf("urn:item:z", 2, second, "here") == leaf_of(second, one)
    with pytest.raises(Divergence, match=r"^there: the item jumps from v2 to v4$"):
        chain.next_leaf("urn:item:z", 4, LeafSource("urn:item:z", 4, "E", b""), "there")


def test_the_native_leaf_and_the_reference_hash_the_same_item_and_version() -> None:
    """Both hash the ``item_id`` and ``version`` they are given (the walk's), with the
    source's kind and payload, even were the source to name another item or version."""
    source = LeafSource("urn:item:other", 7, "E", b"envelope")
    native, reference = LeafChain(), LeafChain()
    leaf = event_leaf("urn:item:z", 1, "E", b"envelope", ZERO_HASH)
    assert native.next_leaf("urn:item:z", 1, source, "here") == leaf
    assert reference.reference_leaf("urn:item:z", 1, source, "here") == leaf


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("auditleaves") / "template", items=6)


_REFERENCE_ONLY = (audit_leaves.LeafChain, "next_leaf", LeafChain.reference_leaf)


def test_tampered_stores_audit_alike_with_the_native_chain_and_the_reference(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tamper campaign's corruptions (ledger, chain, map state) and bit flips in
    signed records: the same divergence and notes either way."""
    rng = random.Random(1919)
    found: set[str | None] = set()
    for _ in range(16):
        work = tmp_path / "corrupt"
        copy_store(template, work)
        corrupt(work, rng)
        found.add(audits_alike(work, monkeypatch, _REFERENCE_ONLY))
    found |= flips_audit_alike(
        template, tmp_path, monkeypatch, rng, 8, lambda s: (0, len(s)), _REFERENCE_ONLY
    )
    assert len(found - {None}) > 10
