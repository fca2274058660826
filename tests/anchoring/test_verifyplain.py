"""The verifier's native paths (native/src/verifyplain.rs, verifybody.rs) answer what the
Python paths answer, and change no verdict.

Each native function is held to the Python function it stands in for on valid and mutated
input: the same answer, None included. Then every committed bundle vector (versions 1 to
5, absence and owner bundles) and thousands of mutations of the valid ones are verified
with the native paths and with them switched off (the Python paths alone, as before;
tests/anchoring/test_verifybody.py binds the envelope and summary readers one by one):
the same result, or the same error with the same step and message.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assay_headmap import plain_acc_root, plain_path_root
from hypothesis import given, settings
from hypothesis import strategies as st

import anchoring.merkle
import anchoring.verify_v1
from anchoring.accumulator import (
    ACC_LEAF_PREFIX,
    ACC_NODE_PREFIX,
    acc_leaf,
    inclusion_proof,
    root_from_inclusion_proof,
)
from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.fastread import plain_envelope, plain_summary
from anchoring.hasher import BLOCK_TREE
from anchoring.header import BlockHeader, plain_json_block_hash, read_plain_header
from anchoring.merkle import _plain_path_root, pack_tree, packed_path
from anchoring.verify import read_bundle, verify_bundle
from anchoring.verify_fields import hex32_list
from anchoring.verify_v1 import Block
from tests.anchoring.hostile_bundles import vector_input
from tests.anchoring.test_fast_paths import _mutate_json
from tests.anchoring.test_header import genesis, later, later_v2

VECTORS = Path(__file__).parent / "vectors"

# ----- each native function is its Python path ---------------------------------------------


def _respell(data: st.DataObject, text: str) -> str:
    """``text`` with one character replaced by one a hex reader might take or refuse."""
    at = data.draw(st.integers(0, max(len(text) - 1, 0)))
    new = data.draw(st.sampled_from(["A", "F", "g", " ", "é", "\ud800", "0", "f", "٣"]))
    return text[:at] + new + text[at + 1 :]


# Leaf counts where 64-bit arithmetic could go wrong (the header's MAX_INT and past it).
EDGE_COUNTS = [2**53 - 1, 2**53, 2**63, 2**64 - 1, 2**64]


def _edge_paths(count: int, index: int) -> list[list[dict[str, str]]]:
    """A path of the right shape for ``index`` of ``count`` leaves, one shorter, one longer,
    and the lone ``right`` step (which a wrapping ``(count + 1) >> 1`` once accepted)."""
    sides = anchoring.merkle.expected_path_shape(index, count)
    right: list[dict[str, str]] = [{side: bytes([n, 3]).hex() * 16} for n, side in enumerate(sides)]
    return [right, right[:-1], [*right, {"right": "ab" * 32}], [{"right": "cd" * 32}]]


@settings(max_examples=500, deadline=None)
@given(count=st.integers(1, 40) | st.sampled_from(EDGE_COUNTS), data=st.data())
def test_the_native_path_root_is_the_python_one(count: int, data: st.DataObject) -> None:
    if count in EDGE_COUNTS:  # no tree of that size: a path of the shape it would have
        index = data.draw(st.sampled_from([0, 1, count // 2, count - 2, count - 1]))
        leaves = {index: bytes([9]) * 32}
        path: Any = data.draw(st.sampled_from(_edge_paths(count, index)))
    else:
        leaves = dict(enumerate(bytes([i % 256]) * 32 for i in range(count)))
        index = data.draw(st.integers(0, count - 1))
        path = packed_path(pack_tree(list(leaves.values())), count, index)
    action = data.draw(st.sampled_from(["none", "json", "respell"]))
    if action == "json":
        path = _mutate_json(data, path)
    elif action == "respell" and path:
        entry = data.draw(st.sampled_from(path))
        ((side, value),) = entry.items()
        entry[side] = _respell(data, value)
    claimed = data.draw(st.sampled_from([index, index, count, -1, True, 2**70]))
    leaf: Any = data.draw(st.sampled_from([leaves[index], leaves[index], bytearray(32), b"1"]))
    fast = plain_path_root(leaf, claimed, count, path, BLOCK_TREE.node_prefix)
    python = _plain_path_root(leaf, claimed, count, path, BLOCK_TREE)
    assert fast == (python if count < 2**64 else None)  # past u64: Python decides
    if action == "none" and claimed is index and leaf is leaves[index] and count <= 40:
        assert fast is not None


def _python_acc_root(block_hash: bytes, index: int, size: int, proof: Any) -> bytes | None:
    try:
        hashes = hex32_list(proof, "acc_proof")
        return root_from_inclusion_proof(acc_leaf(block_hash), index, size, hashes)
    except (VerificationError, TypeError):
        return None


@settings(max_examples=500, deadline=None)
@given(size=st.integers(1, 40), data=st.data())
def test_the_native_acc_root_is_the_python_one(size: int, data: st.DataObject) -> None:
    hashes = [bytes([i, 7]) * 16 for i in range(size)]
    index = data.draw(st.integers(0, size - 1))
    proof: Any = [h.hex() for h in inclusion_proof(hashes, index, size)]
    action = data.draw(st.sampled_from(["none", "json", "respell", "drop", "add"]))
    if action == "json":
        proof = _mutate_json(data, proof)
    elif action == "respell" and proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        proof[at] = _respell(data, proof[at])
    elif action == "drop" and proof:
        proof.pop()
    elif action == "add":
        proof.append(hashes[0].hex())
    claimed = data.draw(st.sampled_from([index, index, size, index + 1]))
    fast = plain_acc_root(hashes[index], claimed, size, proof, ACC_LEAF_PREFIX, ACC_NODE_PREFIX)
    if type(proof) is list:  # (the verifier checks the type first; the native one declines)
        assert fast == _python_acc_root(hashes[index], claimed, size, proof)
    else:
        assert fast is None
    if action == "none" and claimed == index:
        assert fast is not None


def _python_header(data: Any) -> Block | None:
    block_hash = plain_json_block_hash(data)
    if block_hash is None:
        return None
    return Block.of(BlockHeader.from_json(data), block_hash)


SEALED_AT = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z", fullmatch=True
)
DATES = st.sampled_from(
    ["0000-01-01", "0001-01-01", "2024-02-29", "2023-02-29", "2100-02-29", "2000-02-29",
     "2026-04-31", "2026-13-01", "2026-00-10", "9999-12-31"]
)  # fmt: skip
TIMES = st.sampled_from(["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"])


@settings(max_examples=800, deadline=None)
@given(data=st.data())
def test_the_native_header_reading_is_the_python_one(data: st.DataObject) -> None:
    header: Any = data.draw(st.sampled_from([genesis(), later(), later_v2()])).to_json()
    action = data.draw(st.sampled_from(["none", "json", "respell", "sealed_at", "date"]))
    if action == "json":
        header = _mutate_json(data, header)
    elif action == "respell":
        name = data.draw(st.sampled_from(sorted(k for k, v in header.items() if type(v) is str)))
        header[name] = _respell(data, header[name])
    elif action == "sealed_at":
        header["sealed_at"] = data.draw(SEALED_AT)
    elif action == "date":
        header["sealed_at"] = f"{data.draw(DATES)}T{data.draw(TIMES)}.123456Z"
    fast = read_plain_header(header)
    python = _python_header(header)
    assert (Block(*fast) if fast is not None else None) == python
    if fast is not None:
        assert python is not None
        assert [type(v) for v in fast] == [type(v) for v in python]
    if action == "none":
        assert fast is not None


# ----- whole bundles: the same verdicts, the same messages ----------------------------------


@contextlib.contextmanager
def python_paths_only() -> Iterator[None]:
    """The verifier as it was before the native paths: the Python readers alone."""
    declined = [
        (anchoring.verify_v1, "read_plain_header", lambda data: None),
        (anchoring.verify_v1, "plain_acc_root", lambda *args: None),
        (anchoring.merkle, "plain_path_root", lambda *args: None),
        (anchoring.verify_v1, "native_envelope", plain_envelope),
        (anchoring.verify_v1, "native_summary", plain_summary),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in declined]
    try:
        for module, name, stand_in in declined:
            setattr(module, name, stand_in)
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def verdict(vector: dict[str, Any], bundle: Any) -> tuple[Any, ...]:
    """What ``assay verify`` would show: the result, or the error's kind, step and text."""
    keys = vector["device_keys"]
    pinned = {k: bytes.fromhex(v) for k, v in keys.items()} if keys is not None else None
    options = {name: vector[name] for name in ("max_age",) if name in vector}
    if "now" in vector:
        from datetime import datetime

        options["now"] = datetime.fromisoformat(vector["now"])
    try:
        key = Verifier.from_text(vector["platform_key"])
        return ("ok", repr(verify_bundle(bundle, key, pinned, **options)))
    except VerificationError as e:
        return ("refused", type(e).__name__, e.step, str(e), getattr(e, "version", None))


def both_ways(vector: dict[str, Any], bundle: Any) -> tuple[Any, ...]:
    fast = verdict(vector, bundle)
    with python_paths_only():
        careful = verdict(vector, bundle)
    assert fast == careful
    return fast


def all_vectors() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for file in sorted(VECTORS.glob("*/*.json")):
        vector = json.loads(file.read_text())
        if "platform_key" in vector:
            found.append((f"{file.parent.name}/{file.stem}", vector))
    return found


def _read(vector: dict[str, Any]) -> Any:
    try:
        return read_bundle(vector_input(vector))
    except VerificationError:
        return None


def test_every_vector_gives_the_same_verdict_with_and_without_the_native_paths() -> None:
    vectors = all_vectors()
    assert len(vectors) >= 200
    accepted = 0
    for _name, vector in vectors:
        bundle = _read(vector)
        if bundle is not None:
            accepted += both_ways(vector, bundle)[0] == "ok"
    assert accepted >= 30


def _targets(bundle: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Where the native paths read: headers, accumulator proofs, Merkle paths, head proof."""
    found: list[tuple[Any, ...]] = [()]
    for at, block in enumerate(bundle.get("blocks", [])):
        found += [("blocks", at), ("blocks", at, "header")] if isinstance(block, dict) else []
    found += [("head",)] if isinstance(bundle.get("head"), dict) else []
    found += [("events", at) for at in range(len(bundle.get("events", [])))]
    return found


def _flip_text(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text))
    return text[:at] + chr(ord(text[at]) ^ (1 << rng.randrange(7))) + text[at + 1 :]


def _mutations(bundle: dict[str, Any], rng: random.Random, rounds: int) -> Iterator[Any]:
    """Bit flips of the JSON text; flipped, retyped, emptied, reordered or dropped fields;
    members in another order."""
    targets = _targets(bundle)
    for round_ in range(rounds):
        out = copy.deepcopy(bundle)
        kind = round_ % 5
        if kind == 0:  # read strictly, as a buyer's verifier reads it
            text = json.dumps(out).encode()
            cut = rng.choice(
                [_flip_text(text.decode(), rng).encode(), text[: rng.randrange(9, 99)]]
            )
            with contextlib.suppress(VerificationError):  # (refused before any check)
                yield read_bundle(cut)
            continue
        target = out
        for step in rng.choice(targets):
            target = target[step]
        if kind == 4:  # the same members in another order
            members = list(target.items())
            rng.shuffle(members)
            target.clear()
            target.update(members)
            yield out
            continue
        key = rng.choice(sorted(target))
        value = target[key]
        if kind == 1 and isinstance(value, str):
            target[key] = _flip_text(value, rng) if value else "0"
        elif kind == 1 and isinstance(value, list) and value:
            at = rng.randrange(len(value))
            value[at] = _flip_text(json.dumps(value[at]), rng).strip('"')
        elif kind == 2:
            target[key] = rng.choice([None, True, 1, -1, 2**53, 1.0, "", [], {}, value])
        elif isinstance(value, list):
            how = rng.choice(["clear", "reverse", "repeat"])
            if how == "repeat":
                value.append(value[-1] if value else 0)
            else:
                getattr(value, how)()
        else:
            del target[key]
        yield out


def test_mutated_bundles_give_the_same_verdicts_with_and_without_the_native_paths() -> None:
    rng = random.Random(19)
    valid = [(n, v) for n, v in all_vectors() if v["want_err"] is None and "bundle" in v]
    assert {name.split("/")[0] for name, _ in valid} >= {
        "bundles", "bundles-v3", "bundles-v4", "bundles-v5", "complete", "owner"
    }  # fmt: skip
    steps: set[str] = set()
    for _name, vector in valid:
        for bundle in _mutations(vector["bundle"], rng, 120):
            outcome = both_ways(vector, bundle)
            steps.add(outcome[2] if outcome[0] == "refused" else "ok")
    # The mutations reach the checks the native paths stand in for.
    assert {"header_format", "acc_inclusion", "merkle_root", "bundle_format", "ok"} <= steps


def test_the_valid_vectors_take_the_native_paths() -> None:
    """Otherwise the verdicts above would agree vacuously."""
    answered: dict[str, int] = {}

    def counting(module: Any, name: str) -> Callable[..., Any]:
        original = getattr(module, name)

        def counted(*args: Any) -> Any:
            result = original(*args)
            answered[name] = answered.get(name, 0) + (result is not None)
            return result

        return counted

    patched = [
        (anchoring.verify_v1, "read_plain_header"),
        (anchoring.verify_v1, "plain_acc_root"),
        (anchoring.merkle, "plain_path_root"),
        (anchoring.verify_v1, "native_envelope"),
        (anchoring.verify_v1, "native_summary"),
    ]
    saved = [getattr(module, name) for module, name in patched]
    try:
        for module, name in patched:
            setattr(module, name, counting(module, name))
        for _name, vector in all_vectors():
            if vector["want_err"] is None and "bundle" in vector:
                assert verdict(vector, vector["bundle"])[0] == "ok"
    finally:
        for (module, name), original in zip(patched, saved, strict=True):
            setattr(module, name, original)
    assert min(answered.values()) >= 20 and len(answered) == len(patched)
