from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.accumulator import (  # the underscored internals: see CT_LEAF_NODES
    ACC_LEAF_PREFIX,
    ACC_NODE_PREFIX,
    EMPTY_ROOT,
    Accumulator,
    _consistency_path,
    _inclusion_path,
    _mth,
    _roots_from_consistency,
    acc_leaf,
    acc_node,
    consistency_proof,
    inclusion_proof,
    merkle_tree_hash,
    root_from_inclusion_proof,
    verify_acc_inclusion,
    verify_consistency,
)
from anchoring.errors import AccumulatorError, VerificationError


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def block_hashes(count: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"block {salt}{i}".encode()).digest() for i in range(count)]


def flip(digest: bytes, bit: int = 0) -> bytes:
    raw = bytearray(digest)
    raw[bit // 8] ^= 1 << (bit % 8)
    return bytes(raw)


def step_of_inclusion(*args: object) -> str:
    with pytest.raises(AccumulatorError) as caught:
        verify_acc_inclusion(*args)  # type: ignore[arg-type]
    return caught.value.step


def step_of_consistency(*args: object) -> str:
    with pytest.raises(AccumulatorError) as caught:
        verify_consistency(*args)  # type: ignore[arg-type]
    return caught.value.step


# ----- RFC 6962 / transparency-dev reference vectors ------------------------------------------

# github.com/transparency-dev/merkle testonly/constants.go and proof/verify_test.go
CT_LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
CT_ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (0-based leaf index, tree size, audit path)
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CT_CONSISTENCY = [
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
# The RFC 6962 vectors hash variable-length leaf inputs, while the public API takes 32-byte
# block hashes, so the vectors drive the leaf-level internals directly.
CT_LEAF_NODES = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in CT_LEAVES]


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_hash_matches_rfc6962_vectors(size: int) -> None:
    assert _mth(CT_LEAF_NODES, 0, size) == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_paths_match_rfc6962_vectors(index: int, size: int, path: list[bytes]) -> None:
    assert _inclusion_path(CT_LEAF_NODES[:size], index) == path
    root = root_from_inclusion_proof(CT_LEAF_NODES[index], index, size, path)
    assert root == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_consistency_proofs_match_rfc6962_vectors(old: int, new: int, proof: list[bytes]) -> None:
    assert _consistency_path(CT_LEAF_NODES[:new], old) == proof
    roots = _roots_from_consistency(old, new, CT_ROOTS[old - 1], proof)
    assert roots == (CT_ROOTS[old - 1], CT_ROOTS[new - 1])


# ----- hashing and the incremental root -------------------------------------------------------


def test_domain_separated_hashes() -> None:
    a, b = block_hashes(2)
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == merkle_tree_hash([])
    assert (ACC_LEAF_PREFIX, ACC_NODE_PREFIX) == (b"\x00", b"\x01")
    assert acc_leaf(a) == hashlib.sha256(b"\x00" + a).digest()
    assert acc_node(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle_tree_hash([a]) == acc_leaf(a)
    assert merkle_tree_hash([a, b]) == acc_node(acc_leaf(a), acc_leaf(b))


def test_three_blocks_split_at_the_largest_power_of_two() -> None:
    a, b, c = block_hashes(3)
    assert merkle_tree_hash([a, b, c]) == acc_node(acc_node(acc_leaf(a), acc_leaf(b)), acc_leaf(c))


def test_incremental_root_equals_the_root_from_scratch() -> None:
    hashes = block_hashes(130)
    acc = Accumulator()
    assert (acc.size, acc.root()) == (0, EMPTY_ROOT)
    for n, block_hash in enumerate(hashes, 1):
        acc.append(block_hash)
        assert acc.size == n
        assert acc.root() == merkle_tree_hash(hashes[:n])
    assert Accumulator.from_hashes(hashes).root() == acc.root()


def test_copy_is_independent() -> None:
    acc = Accumulator.from_hashes(block_hashes(5))
    snapshot = acc.copy()
    acc.append(block_hashes(1, "more")[0])
    assert snapshot.size == 5 and acc.size == 6
    assert snapshot.root() == merkle_tree_hash(block_hashes(5))


def test_append_refuses_anything_but_a_32_byte_hash() -> None:
    acc = Accumulator()
    for bad in (b"", b"x" * 31, b"x" * 33, "00" * 32):
        with pytest.raises(ValueError):
            acc.append(bad)  # type: ignore[arg-type]
    assert acc.size == 0


# ----- inclusion ------------------------------------------------------------------------------

SIZES = range(1, 41)


@pytest.mark.parametrize("size", SIZES)
def test_every_inclusion_proof_verifies_and_every_tampering_fails(size: int) -> None:
    hashes = block_hashes(size)
    root = merkle_tree_hash(hashes)
    for index in range(size):
        proof = inclusion_proof(hashes, index, size)
        assert len(proof) <= (size - 1).bit_length()
        verify_acc_inclusion(hashes[index], index, size, proof, root)

        assert step_of_inclusion(flip(hashes[index]), index, size, proof, root) == "acc_inclusion"
        assert step_of_inclusion(hashes[index], index, size, proof, flip(root)) == "acc_inclusion"
        for position in range(len(proof)):
            tampered = [*proof[:position], flip(proof[position], 7), *proof[position + 1 :]]
            assert step_of_inclusion(hashes[index], index, size, tampered, root) == "acc_inclusion"
        if proof:
            assert step_of_inclusion(hashes[index], index, size, proof[:-1], root) == "acc_proof"
        assert step_of_inclusion(hashes[index], index, size, [*proof, root], root) in {
            "acc_proof",
            "acc_inclusion",
        }
        assert step_of_inclusion(hashes[index], index, size, [root, *proof], root) in {
            "acc_proof",
            "acc_inclusion",
        }
        for other in {index - 1, index + 1, index ^ 2} - {index}:
            if 0 <= other < size:
                with pytest.raises(AccumulatorError):
                    verify_acc_inclusion(hashes[index], other, size, proof, root)
        # Not size + 1: with the old root, some proofs fit size + 1 too. That is inherent
        # to RFC 9162 and harmless, as size and root come from one signed header.
        for wrong_size in {size * 2, size // 2} - {size}:
            with pytest.raises(AccumulatorError):
                verify_acc_inclusion(hashes[index], index, wrong_size, proof, root)


def test_inclusion_index_and_input_checks() -> None:
    hashes = block_hashes(4)
    root = merkle_tree_hash(hashes)
    proof = inclusion_proof(hashes, 1, 4)
    assert step_of_inclusion(hashes[1], 4, 4, proof, root) == "acc_index"
    assert step_of_inclusion(hashes[1], -1, 4, proof, root) == "acc_index"
    assert step_of_inclusion(hashes[1], 0, 0, [], EMPTY_ROOT) == "acc_index"
    assert step_of_inclusion(hashes[1], 1, 4, [p.hex() for p in proof], root) == "acc_proof"
    assert step_of_inclusion(hashes[1], 1, 4, [b""], root) == "acc_proof"
    assert step_of_inclusion(hashes[1][:16], 1, 4, proof, root) == "acc_proof"
    assert step_of_inclusion(hashes[1], 1, 4, proof, root[:31]) == "acc_proof"
    assert step_of_inclusion(hashes[1], 1, 4, None, root) == "acc_proof"
    for index, size in ((0, 0), (4, 4), (-1, 3), (0, 5)):
        with pytest.raises(ValueError):
            inclusion_proof(hashes, index, size)


def test_single_block_proves_with_an_empty_path() -> None:
    (only,) = block_hashes(1)
    assert inclusion_proof([only], 0, 1) == []
    verify_acc_inclusion(only, 0, 1, [], acc_leaf(only))


def test_proof_into_an_older_size_uses_only_the_prefix() -> None:
    hashes = block_hashes(20)
    proof = inclusion_proof(hashes, 3, 9)
    verify_acc_inclusion(hashes[3], 3, 9, proof, merkle_tree_hash(hashes[:9]))


# ----- consistency ----------------------------------------------------------------------------


@pytest.mark.parametrize("new", SIZES)
def test_every_consistency_proof_verifies_and_every_tampering_fails(new: int) -> None:
    hashes = block_hashes(new)
    roots = [merkle_tree_hash(hashes[:n]) for n in range(new + 1)]
    for old in range(new + 1):
        proof = consistency_proof(hashes, old, new)
        verify_consistency(old, new, roots[old], roots[new], proof)
        if not proof:
            assert old in (0, new)
            continue
        assert step_of_consistency(old, new, roots[new], roots[old], proof) == "consistency"
        assert step_of_consistency(old, new, flip(roots[old]), roots[new], proof) == "consistency"
        assert step_of_consistency(old, new, roots[old], flip(roots[new]), proof) == "consistency"
        for position in range(len(proof)):
            tampered = [*proof[:position], flip(proof[position], 4), *proof[position + 1 :]]
            with pytest.raises(AccumulatorError):
                verify_consistency(old, new, roots[old], roots[new], tampered)
        variants = [
            proof[:-1],
            [*proof, roots[old]],
            [*proof, roots[new]],
            [roots[old], *proof],
            [proof[0], *proof],
            [],
        ]
        for variant in variants:
            with pytest.raises(AccumulatorError):
                verify_consistency(old, new, roots[old], roots[new], variant)
        for wrong_old in {old - 1, old + 1, old ^ 2} - {old}:
            if 0 < wrong_old < new:
                with pytest.raises(AccumulatorError):
                    verify_consistency(wrong_old, new, roots[old], roots[new], proof)


def test_consistency_edge_cases() -> None:
    hashes = block_hashes(5)
    root5 = merkle_tree_hash(hashes)
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, root5, [])
    verify_consistency(5, 5, root5, root5, [])
    assert step_of_consistency(5, 5, root5, flip(root5), []) == "consistency"
    assert step_of_consistency(0, 5, root5, root5, []) == "consistency"
    assert step_of_consistency(5, 5, root5, root5, [root5]) == "consistency_proof"
    assert step_of_consistency(0, 5, EMPTY_ROOT, root5, [root5]) == "consistency_proof"
    assert step_of_consistency(5, 4, root5, root5, []) == "consistency_proof"
    assert step_of_consistency(-1, 4, root5, root5, []) == "consistency_proof"
    assert step_of_consistency(3, 5, root5, root5, ["00" * 32]) == "consistency_proof"
    for old, new in ((6, 5), (-1, 2), (2, 6)):
        with pytest.raises(ValueError):
            consistency_proof(hashes, old, new)


# ----- properties -----------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(size=st.integers(1, 600), data=st.data())
def test_random_proofs_verify_and_any_bit_flip_fails(size: int, data: st.DataObject) -> None:
    hashes = block_hashes(size, "hyp")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old")
    bit = data.draw(st.integers(0, 255), label="bit")
    acc = Accumulator.from_hashes(hashes)
    root, old_root = acc.root(), merkle_tree_hash(hashes[:old])

    proof = inclusion_proof(hashes, index, size)
    verify_acc_inclusion(hashes[index], index, size, proof, root)
    with pytest.raises(VerificationError):
        verify_acc_inclusion(flip(hashes[index], bit), index, size, proof, root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        proof[position] = flip(proof[position], bit)
        with pytest.raises(VerificationError):
            verify_acc_inclusion(hashes[index], index, size, proof, root)

    consistency = consistency_proof(hashes, old, size)
    verify_consistency(old, size, old_root, root, consistency)
    with pytest.raises(VerificationError):
        verify_consistency(old, size, flip(old_root, bit), root, consistency)
    if consistency:
        position = data.draw(st.integers(0, len(consistency) - 1), label="cposition")
        consistency[position] = flip(consistency[position], bit)
        with pytest.raises(VerificationError):
            verify_consistency(old, size, old_root, root, consistency)
