"""Every fast path of the verifier is bound to the careful check it stands in for.

A fast path reads only the plain spelling writers emit and answers None for anything
else, so the careful check decides. These properties hold for valid input and for
thousands of mutations of it: whenever a fast path answers, the careful check accepts the
same input and gives the same result. So a fast path never accepts what the careful one
refuses, and never changes what is accepted.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.errors import VerificationError
from anchoring.fastread import plain_body, plain_envelope, plain_summary
from anchoring.hasher import BLOCK_TREE
from anchoring.header import BlockHeader, plain_json_block_hash
from anchoring.leaves import read_body_record, read_envelope, signed_fields
from anchoring.merkle import (
    _plain_path_root,
    _verify_inclusion_checked,
    pack_tree,
    packed_path,
)
from anchoring.verify_fields import check_fields, exact, plain_fields
from domain.custody import CustodyEvent, ErrorReason, Kind
from streams.envelope import seal
from streams.errors import SerializationError
from streams.keys import DeviceKey
from tests.anchoring.test_header import genesis, later

JSONish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2**60)
    | st.floats(allow_nan=False)
    | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def _mutate_json(data: st.DataObject, value: Any) -> Any:
    """A copy of a JSON value with one member replaced, dropped, added or respelled."""
    value = copy.deepcopy(value)
    containers = [value]
    found: list[Any] = []
    while containers:
        node = containers.pop()
        if isinstance(node, dict | list) and node:
            found.append(node)
            containers.extend(node.values() if isinstance(node, dict) else node)
    if not found:
        return data.draw(JSONish)
    node = data.draw(st.sampled_from(found))
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    key = data.draw(st.sampled_from(keys))
    action = data.draw(st.sampled_from(["replace", "drop", "add", "upper", "pad", "bool"]))
    if action == "replace":
        node[key] = data.draw(JSONish)
    elif action == "drop":
        del node[key]
    elif action == "add":
        if isinstance(node, dict):
            node[data.draw(st.text(max_size=8))] = data.draw(JSONish)
        else:
            node.append(data.draw(JSONish))
    elif isinstance(node[key], str):
        node[key] = node[key].upper() if action == "upper" else f" {node[key]}"
    elif isinstance(node[key], int) and action == "bool":
        node[key] = bool(node[key])
    return value


# ----- Merkle paths ------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(count=st.integers(1, 40), data=st.data())
def test_a_plain_path_root_is_what_the_careful_check_accepts(
    count: int, data: st.DataObject
) -> None:
    leaves = [bytes([i % 256]) * 32 for i in range(count)]
    tree = pack_tree(leaves)
    index = data.draw(st.integers(0, count - 1))
    path: Any = packed_path(tree, count, index)
    if data.draw(st.booleans()):
        path = _mutate_json(data, path)
    claimed_index = data.draw(st.sampled_from([index, index, count, -1, True]))
    node = _plain_path_root(leaves[index], claimed_index, count, path, BLOCK_TREE)
    if node is not None:
        # The careful check takes the same input to the same root (no error).
        _verify_inclusion_checked(leaves[index], claimed_index, count, path, node, BLOCK_TREE)


# ----- headers -----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_plain_header_hash_is_the_careful_parse_and_hash(data: st.DataObject) -> None:
    header: Any = data.draw(st.sampled_from([genesis(), later()])).to_json()
    if data.draw(st.booleans()):
        header = _mutate_json(data, header)
    fast = plain_json_block_hash(header)
    if fast is not None:
        assert BlockHeader.from_json(header).block_hash() == fast


# ----- bundle fields -----------------------------------------------------------------------

SPEC: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "leaf": str,
    "evidence": (str, type(None)),
    "path": list,
}


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_plain_fields_are_fields_the_careful_check_accepts(data: st.DataObject) -> None:
    entry: Any = {"version": 3, "leaf": "ab", "evidence": None, "path": []}
    if data.draw(st.booleans()):
        entry = _mutate_json(data, entry)
    if plain_fields(entry, exact(SPEC)):
        check_fields(entry, SPEC, "entry")  # raises if it disagrees


# ----- envelopes and bodies ----------------------------------------------------------------

KEY = DeviceKey.generate("brand", "brand-d1")
EVENT = CustodyEvent(
    event_id="e-1",
    item_id="urn:item:é",
    kind=Kind.COMMISSIONING,
    party_id="brand",
    device_id="brand-d1",
    location="loc",
    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    tag_uid="T",
    brand="B",
    model="M",
    serial="S",
    latitude=1.5,
    longitude=-2.0,
    attributes={"a": "1", "b": "2"},
)
SEALED = seal(EVENT, KEY)
#: A v3 body: an error declaration with an array of corrective ids.
DECLARED = seal(
    CustodyEvent(
        event_id="e-2",
        item_id="urn:item:é",
        kind=Kind.ERROR_DECLARATION,
        party_id="brand",
        device_id="brand-d1",
        location="loc",
        occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
        declared_event_id="e-1",
        error_reason=ErrorReason.INCORRECT_DATA,
        corrective_event_ids=("e-3", "é-4"),
    ),
    KEY,
)
#: Bodies of every schema version the registry knows.
BODIES = [
    read_envelope(SEALED).body,
    read_envelope(DECLARED).body,
    read_envelope(seal(EVENT, KEY, schema_version=1)).body,
]


def _mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(0, len(out) - 1)))
        if action == "flip" and out:
            out[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut":
            del out[at : at + data.draw(st.integers(1, 4))]
        else:
            out[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    return bytes(out)


@settings(max_examples=800, deadline=None)
@given(data=st.data())
def test_a_plain_envelope_is_the_careful_reading(data: st.DataObject) -> None:
    message = SEALED if data.draw(st.booleans()) else _mutate_bytes(data, SEALED)
    fast = plain_envelope(message)
    if fast is not None:
        assert read_envelope(message) == fast


@settings(max_examples=800, deadline=None)
@given(data=st.data())
def test_a_plain_body_is_the_careful_reading(data: st.DataObject) -> None:
    envelope = read_envelope(SEALED)
    original = data.draw(st.sampled_from(BODIES))
    body = original if data.draw(st.booleans()) else _mutate_bytes(data, original)
    fast = plain_body(body)
    if fast is not None:
        mutated = type(envelope)(envelope.party_id, envelope.device_id, body, envelope.signature)
        try:
            careful = read_body_record(mutated)
        except (SerializationError, VerificationError) as e:
            raise AssertionError(f"the fast path read what the careful one refuses: {e}") from e
        assert repr(careful) == repr(fast)  # (NaN is not equal to itself)


@settings(max_examples=800, deadline=None)
@given(data=st.data())
def test_a_plain_summary_is_the_summary_of_the_plain_body(data: st.DataObject) -> None:
    """The verifier's one-pass summary answers exactly when plain_body does (so the careful
    reading decides the rest) and is signed_fields of what plain_body reads."""
    original = data.draw(st.sampled_from(BODIES))
    body = original if data.draw(st.booleans()) else _mutate_bytes(data, original)
    fast, record = plain_summary(body), plain_body(body)
    assert (fast is None) == (record is None)
    if fast is not None and record is not None:
        summary, numbers = fast
        assert repr(summary) == repr(signed_fields(record))  # order, types, NaN alike
        assert numbers == any(type(value) is float for value in summary.values())


def test_the_unmutated_inputs_take_the_fast_paths() -> None:
    """Otherwise the properties above would hold vacuously."""
    tree = pack_tree([bytes(32), bytes([1]) * 32, bytes([2]) * 32])
    assert _plain_path_root(bytes(32), 0, 3, packed_path(tree, 3, 0), BLOCK_TREE) is not None
    assert plain_json_block_hash(genesis().to_json()) == genesis().block_hash()
    assert plain_envelope(SEALED) == read_envelope(SEALED)
    for body in BODIES:
        fast = plain_body(body)
        assert fast is not None
        careful = read_body_record(dataclasses.replace(read_envelope(SEALED), body=body))
        assert fast == careful
    assert plain_body(BODIES[1])["corrective_event_ids"] == ["e-3", "é-4"]  # type: ignore[index]
    summaries = [plain_summary(body) for body in BODIES]
    assert [s[1] for s in summaries if s is not None] == [True, False, False]
    assert summaries[0] is not None and summaries[0][0]["attributes"] == {"a": "1", "b": "2"}
