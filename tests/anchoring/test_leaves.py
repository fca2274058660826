"""Leaf records: the documented byte layout, and the batch builder the sealer uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.leaves import ZERO_HASH, event_leaf, leaf_chain, leaf_of, record_bytes
from ledger.records import LeafSource, platform_body


def test_the_record_layout_is_the_documented_one() -> None:
    source = LeafSource("urn:é", 2, "E", b"\x01\x02\x03")
    prev = bytes(range(32))
    expected = (
        b"assay-leaf-v1\n"
        + (len("urn:é".encode())).to_bytes(4, "big")
        + "urn:é".encode()
        + (2).to_bytes(8, "big")
        + prev
        + b"E"
        + (3).to_bytes(4, "big")
        + b"\x01\x02\x03"
    )
    assert record_bytes(source, prev) == expected
    assert leaf_of(source, prev) == hashlib.sha256(b"\x00" + expected).digest()


def test_leaf_chain_equals_leaf_of_with_each_items_previous_leaf() -> None:
    earlier = {("b", 3): hashlib.sha256(b"b v3").digest()}
    asked: list[tuple[str, int]] = []

    def lookup(item: str, version: int) -> bytes:
        asked.append((item, version))
        return earlier[(item, version - 1)]

    sources = [
        LeafSource("a", 1, "E", b"x"),
        LeafSource("b", 4, "P", b"{}"),
        LeafSource("a", 2, "E", b"y" * 300),
        LeafSource("long item id " * 10, 1, "E", b""),
        LeafSource("b", 5, "E", b"z"),
    ]
    leaves = leaf_chain(sources, lookup)
    assert asked == [("b", 4)]
    a1 = leaf_of(sources[0], ZERO_HASH)
    b4 = leaf_of(sources[1], earlier[("b", 3)])
    assert leaves == [
        a1,
        b4,
        leaf_of(sources[2], a1),
        leaf_of(sources[3], ZERO_HASH),
        leaf_of(sources[4], b4),
    ]


def test_leaf_chain_refuses_a_bad_previous_leaf() -> None:
    with pytest.raises(ValueError):
        leaf_chain([LeafSource("a", 2, "E", b"")], lambda _item, _version: b"short")
    with pytest.raises(ValueError):
        event_leaf("a", 2, "E", b"", b"short")


def test_platform_bodies_are_canonical_json() -> None:
    body = platform_body("scan_after_sale", 'détail "q"\n', "e-1", b"envelope")
    assert (
        body
        == (
            '{"detail":"détail \\"q\\"\\n","evidence_event_id":"e-1","evidence_sha256":"'
            + hashlib.sha256(b"envelope").hexdigest()
            + '","signal":"scan_after_sale","type":"flag"}'
        ).encode()
    )
    assert json.loads(body)["evidence_sha256"] is not None
    assert (
        json.loads(platform_body("impossible_travel", "d", "e-2", None))["evidence_sha256"] is None
    )


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(st.sampled_from(["a", "bb", "é", "x" * 70, "y"]), min_size=1, max_size=12),
    payloads=st.lists(st.binary(max_size=40), min_size=12, max_size=12),
)
def test_both_builders_of_leaf_chain_are_leaf_of(ids: list[str], payloads: list[bytes]) -> None:
    """The sealer's builder (native, one call a block) and the verifier's (``event_leaf``)
    are ``leaf_of``, with distinct item ids or repeated ones."""
    versions: dict[str, int] = {}
    sources = []
    for n, item in enumerate(ids):
        versions[item] = versions.get(item, 0) + 1
        kind: Literal["E", "P"] = "E" if n % 2 else "P"
        sources.append(LeafSource(item, versions[item], kind, payloads[n]))
    expected, last = [], {}
    for source in sources:
        leaf = leaf_of(source, last.get(source.item_id, ZERO_HASH))
        last[source.item_id] = leaf
        expected.append(leaf)
    assert leaf_chain(sources, lambda _i, _v: ZERO_HASH) == expected
    prevs = [ZERO_HASH, *expected[:-1]]  # any 32-byte previous leaf will do
    assert [
        event_leaf(s.item_id, s.version, s.kind, s.payload, prev)
        for s, prev in zip(sources, prevs, strict=True)
    ] == [leaf_of(s, prev) for s, prev in zip(sources, prevs, strict=True)]
    firsts = [s for s in sources if s.version == 1]
    assert leaf_chain(firsts, lambda _i, _v: ZERO_HASH) == [leaf_of(s, ZERO_HASH) for s in firsts]


def reference_chain(
    sources: list[LeafSource], prev_leaf: Callable[[str, int], bytes]
) -> list[bytes]:
    """leaf_chain written plainly on ``leaf_of``: the rule the native builder follows."""
    last: dict[str, tuple[int, bytes]] = {}
    out = []
    for source in sources:
        known = last.get(source.item_id)
        if source.version == 1:
            prev = ZERO_HASH
        elif known is not None and known[0] == source.version - 1:
            prev = known[1]
        else:
            prev = prev_leaf(source.item_id, source.version)
        out.append(leaf_of(source, prev))
        last[source.item_id] = (source.version, out[-1])
    return out


@settings(max_examples=80, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["a", "é", "", "\U0001f600"]), st.text(max_size=80)),
            st.integers(1, 4) | st.integers(1, 2**64 - 1),
            st.sampled_from(["E", "P"]),
            st.binary(max_size=100),
        ),
        max_size=12,
    )
)
def test_leaf_chain_is_leaf_of_for_any_ids_versions_and_gaps(
    events: list[tuple[str, int, Literal["E", "P"], bytes]],
) -> None:
    surrogate = {chr(c) for c in range(0xD800, 0xE000)}
    sources = [LeafSource(*event) for event in events if not surrogate & set(event[0])]
    asked: list[tuple[str, int]] = []

    def lookup(item: str, version: int) -> bytes:
        asked.append((item, version))
        return hashlib.sha256(f"{item} {version}".encode()).digest()

    expected = reference_chain(sources, lookup)
    expected_asked, asked[:] = list(asked), []
    assert leaf_chain(sources, lookup) == expected
    assert asked == expected_asked


def test_leaf_chain_refuses_what_leaf_of_cannot_encode() -> None:
    zero: Callable[[str, int], bytes] = lambda _i, _v: ZERO_HASH  # noqa: E731
    with pytest.raises(KeyError):
        leaf_chain([LeafSource("a", 1, "X", b"")], zero)  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        leaf_chain([LeafSource("\ud800", 1, "E", b"")], zero)
    with pytest.raises(TypeError):
        leaf_chain([LeafSource("a", 1, "E", "text")], zero)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        leaf_chain([LeafSource("a", 2, "E", b"")], lambda _i, _v: bytearray(31))  # type: ignore[arg-type,return-value]
    with pytest.raises(OverflowError):
        leaf_chain([LeafSource("a", -1, "E", b"")], zero)
