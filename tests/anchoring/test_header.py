from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from anchoring.accumulator import EMPTY_ROOT, Accumulator, inclusion_proof, verify_acc_inclusion
from anchoring.errors import HeaderError, VerificationError
from anchoring.header import (
    GENESIS_PREV_HASH,
    HEADER_VERSION,
    MAP_HEADER_VERSION,
    BlockHeader,
    plain_json_block_hash,
)
from tests.anchoring.reference import MerkleTree

ROOT = hashlib.sha256(b"merkle root").digest()
PREV = hashlib.sha256(b"previous block").digest()
ACC = hashlib.sha256(b"accumulator root").digest()


def genesis(**changes: Any) -> BlockHeader:
    fields: dict[str, Any] = {
        "version": HEADER_VERSION,
        "height": 0,
        "prev_hash": GENESIS_PREV_HASH,
        "merkle_root": ROOT,
        "first_notification": 1,
        "last_notification": 3,
        "leaf_count": 3,
        "sealed_at": "2026-11-27T03:00:00.000000Z",
        "acc_root": EMPTY_ROOT,
        "acc_size": 0,
    }
    fields.update(changes)
    return BlockHeader(**fields)


def later(**changes: Any) -> BlockHeader:
    base = {"height": 7, "prev_hash": PREV, "acc_root": ACC, "acc_size": 7}
    return genesis(**{**base, **changes})


def test_canonical_bytes_are_the_documented_layout() -> None:
    expected = (
        "assay-block-v1\n"
        "version=1\n"
        "height=7\n"
        f"prev_hash={PREV.hex()}\n"
        f"merkle_root={ROOT.hex()}\n"
        "first_notification=1\n"
        "last_notification=3\n"
        "leaf_count=3\n"
        "sealed_at=2026-11-27T03:00:00.000000Z\n"
        f"acc_root={ACC.hex()}\n"
        "acc_size=7\n"
    ).encode("ascii")
    header = later()
    assert header.canonical_bytes() == expected
    assert header.block_hash() == hashlib.sha256(expected).digest()


def test_genesis_header_example_from_the_docstring() -> None:
    text = genesis().canonical_bytes().decode()
    assert "prev_hash=" + "0" * 64 + "\n" in text
    assert f"acc_root={hashlib.sha256(b'').hexdigest()}\nacc_size=0\n" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("height", 8),
        ("prev_hash", hashlib.sha256(b"other").digest()),
        ("merkle_root", hashlib.sha256(b"other").digest()),
        ("first_notification", 2),
        ("last_notification", 4),
        ("leaf_count", 2),
        ("sealed_at", "2026-11-27T03:00:00.000001Z"),
        ("acc_root", hashlib.sha256(b"other").digest()),
    ],
)
def test_every_field_is_committed_by_the_block_hash(field: str, value: object) -> None:
    changes: dict[str, Any] = {field: value}
    if field == "height":
        changes["acc_size"] = value
    assert later(**changes).block_hash() != later().block_hash()


def test_json_round_trip_through_text() -> None:
    header = later()
    data = header.to_json()
    # A version 1 header has the ten keys of its format; version 2 adds the last two.
    assert list(data) == [f.name for f in dataclasses.fields(BlockHeader)][:10]
    assert data["prev_hash"] == PREV.hex() and data["height"] == 7
    assert BlockHeader.from_json(json.loads(json.dumps(data))) == header


def bad_json(**changes: object) -> dict[str, object]:
    data = later().to_json()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "data",
    [
        [],
        "header",
        {k: v for k, v in later().to_json().items() if k != "acc_root"},
        bad_json(extra="field"),
        bad_json(height="7"),
        bad_json(height=7.0),
        bad_json(height=True),
        bad_json(height=None),
        bad_json(leaf_count=-1),
        bad_json(leaf_count=0),
        bad_json(first_notification=2**53),
        bad_json(first_notification=9, last_notification=3),
        bad_json(version=2),
        bad_json(prev_hash=PREV.hex().upper()),
        bad_json(prev_hash=PREV.hex()[:-2]),
        bad_json(prev_hash="0x" + PREV.hex()[2:]),
        bad_json(prev_hash=list(PREV)),
        bad_json(merkle_root=None),
        bad_json(sealed_at="2026-11-27T03:00:00Z"),
        bad_json(sealed_at="2026-11-27T03:00:00.000000+00:00"),
        bad_json(sealed_at="2026-11-27 03:00:00.000000Z"),
        bad_json(sealed_at="2026-02-30T03:00:00.000000Z"),
        bad_json(sealed_at="2026-11-27T03:00:00.000000Z\nheight=8"),
        bad_json(sealed_at=1764212400),
    ],
)
def test_from_json_rejects_malformed_headers(data: object) -> None:
    with pytest.raises(HeaderError) as caught:
        BlockHeader.from_json(data)
    assert caught.value.step == "header_format"
    assert isinstance(caught.value, VerificationError)


def test_from_json_names_the_missing_field() -> None:
    data = later().to_json()
    del data["merkle_root"]
    with pytest.raises(HeaderError, match="merkle_root"):
        BlockHeader.from_json(data)


def test_constructor_validates_too() -> None:
    with pytest.raises(HeaderError, match="prev_hash"):
        later(prev_hash=PREV[:31])
    with pytest.raises(HeaderError, match="sealed_at"):
        later(sealed_at="yesterday")


@pytest.mark.parametrize(
    "changes",
    [
        {"acc_size": 6},
        {"height": 0, "acc_size": 0, "acc_root": EMPTY_ROOT},  # genesis with a prev_hash
        {"height": 0, "acc_size": 0, "prev_hash": GENESIS_PREV_HASH},  # genesis acc not empty
    ],
)
def test_rules_a_header_checks_on_its_own(changes: dict[str, Any]) -> None:
    with pytest.raises(HeaderError) as caught:
        later(**changes)
    assert caught.value.step == "header_link"


def test_a_chain_of_headers_links_and_proves_every_block_into_the_head() -> None:
    acc = Accumulator()
    headers: list[BlockHeader] = []
    for height in range(9):
        leaves = [hashlib.sha256(f"{height}/{i}".encode()).digest() for i in range(height + 1)]
        header = BlockHeader(
            version=HEADER_VERSION,
            height=height,
            prev_hash=headers[-1].block_hash() if headers else GENESIS_PREV_HASH,
            merkle_root=MerkleTree(leaves).root,
            first_notification=10 * height + 1,
            last_notification=10 * height + 10,
            leaf_count=len(leaves),
            sealed_at=f"2026-11-27T03:00:0{height}.000000Z",
            acc_root=acc.root(),
            acc_size=acc.size,
        )
        headers.append(BlockHeader.from_json(header.to_json()))
        acc.append(header.block_hash())
    head = headers[-1]
    hashes = [h.block_hash() for h in headers]
    for earlier in headers[:-1]:
        assert headers[earlier.height + 1].prev_hash == earlier.block_hash()
        proof = inclusion_proof(hashes[: head.acc_size], earlier.height, head.acc_size)
        verify_acc_inclusion(
            earlier.block_hash(), earlier.height, head.acc_size, proof, head.acc_root
        )
    # A rewritten block no longer proves into the head.
    forged = dataclasses.replace(headers[3], leaf_count=headers[3].leaf_count + 1)
    proof = inclusion_proof(hashes[: head.acc_size], 3, head.acc_size)
    with pytest.raises(VerificationError) as caught:
        verify_acc_inclusion(forged.block_hash(), 3, head.acc_size, proof, head.acc_root)
    assert caught.value.step == "acc_inclusion"


MAP_ROOT = hashlib.sha256(b"map root").digest()


def later_v2(**changes: Any) -> BlockHeader:
    return later(**{"version": MAP_HEADER_VERSION, "map_root": MAP_ROOT, "map_size": 12, **changes})


def test_version_2_bytes_are_the_documented_layout() -> None:
    expected = (
        "assay-block-v2\n"
        "version=2\n"
        "height=7\n"
        f"prev_hash={PREV.hex()}\n"
        f"merkle_root={ROOT.hex()}\n"
        "first_notification=1\n"
        "last_notification=3\n"
        "leaf_count=3\n"
        "sealed_at=2026-11-27T03:00:00.000000Z\n"
        f"acc_root={ACC.hex()}\n"
        "acc_size=7\n"
        f"map_root={MAP_ROOT.hex()}\n"
        "map_size=12\n"
    ).encode("ascii")
    header = later_v2()
    assert header.canonical_bytes() == expected
    assert header.block_hash() == hashlib.sha256(expected).digest()
    data = header.to_json()
    assert list(data)[-2:] == ["map_root", "map_size"] and len(data) == 12
    assert BlockHeader.from_json(json.loads(json.dumps(data))) == header
    assert plain_json_block_hash(data) == header.block_hash()
    assert plain_json_block_hash(later().to_json()) == later().block_hash()


@pytest.mark.parametrize(
    "data",
    [
        {**later_v2().to_json(), "version": 1},  # v1 with map keys
        {**later().to_json(), "version": 2},  # v2 without them
        {**later_v2().to_json(), "map_size": 0},
        {**later_v2().to_json(), "map_size": 1.0},
        {**later_v2().to_json(), "map_size": True},
        {**later_v2().to_json(), "map_root": MAP_ROOT.hex().upper()},
        {**later_v2().to_json(), "version": 3},
    ],
)
def test_version_2_headers_are_refused_in_any_other_spelling(data: dict[str, Any]) -> None:
    assert plain_json_block_hash(data) is None
    with pytest.raises(HeaderError) as e:
        BlockHeader.from_json(data)
    assert e.value.step == "header_format"


def test_a_map_field_changes_the_version_2_hash() -> None:
    assert later_v2().block_hash() != later_v2(map_size=13).block_hash()
    assert later_v2().block_hash() != dataclasses.replace(later_v2(), map_root=ROOT).block_hash()
