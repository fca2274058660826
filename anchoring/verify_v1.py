"""The steps of a version 1 bundle (docs/proof-bundle.md §5): checkpoint → head → blocks,
then each event's leaf, hash chain, bytes and signatures. Later versions reuse all of them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, NamedTuple

from assay_headmap import plain_acc_root

from anchoring import strictjson
from anchoring.accumulator import (
    ACC_LEAF_PREFIX,
    ACC_NODE_PREFIX,
    acc_leaf,
    root_from_inclusion_proof,
)
from anchoring.checkpoint import Checkpoint, Verifier, open_checkpoint
from anchoring.errors import VerificationError
from anchoring.fastread import native_envelope, native_summary, plain_body
from anchoring.header import BlockHeader, plain_json_block_hash, read_plain_header
from anchoring.leaves import (
    event_leaf,
    flag_summary,
    read_body_record,
    read_envelope,
    signed_fields,
)
from anchoring.merkle import verify_inclusion
from anchoring.verify_fields import (
    BLOCK_EXACT,
    BLOCK_FIELDS,
    HEX32,
    b64,
    check_fields,
    hex32,
    hex32_list,
    is_hex32,
    plain_fields,
    same_json,
)
from anchoring.verify_result import fail
from ledger.records import PLATFORM_BODY_KEYS, canonical_json
from streams.ed25519 import PublicKey, UnusableKey
from streams.envelope import Envelope
from streams.errors import SerializationError

# ----- chain: checkpoint → head → blocks ----------------------------------------------------


class Block(NamedTuple):
    """What the checks need of a parsed, valid header: a few fields and its block hash."""

    height: int
    leaf_count: int
    merkle_root: bytes
    acc_root: bytes
    acc_size: int
    block_hash: bytes
    version: int
    map_root: bytes | None
    sealed_at: str

    @classmethod
    def of(cls, header: BlockHeader, block_hash: bytes) -> Block:
        """The fields the checks need of a parsed header whose hash is ``block_hash``."""
        return cls(
            header.height,
            header.leaf_count,
            header.merkle_root,
            header.acc_root,
            header.acc_size,
            block_hash,
            header.version,
            header.map_root,
            header.sealed_at,
        )


def read_header(data: Any, where: str) -> Block:
    plain = read_plain_header(data)
    if plain is not None:  # natively, what the next lines find for a plainly valid header
        return Block(*plain)
    block_hash = plain_json_block_hash(data)
    if block_hash is not None:  # valid, as BlockHeader.from_json would find it
        return Block(
            data["height"],
            data["leaf_count"],
            bytes.fromhex(data["merkle_root"]),
            bytes.fromhex(data["acc_root"]),
            data["acc_size"],
            block_hash,
            data["version"],
            bytes.fromhex(data["map_root"]) if "map_root" in data else None,
            data["sealed_at"],
        )
    sealed_at = data.get("sealed_at") if isinstance(data, dict) else None
    if isinstance(sealed_at, str) and not sealed_at.isascii():  # (this message, not from_json's)
        fail("header_format", f"{where} header: sealed_at is not ASCII")
    try:
        header = BlockHeader.from_json(data)
    except VerificationError as e:
        fail(e.step, f"{where} header: {e}")
    return Block.of(header, header.block_hash())


def open_checkpoint_and_head(
    doc: Mapping[str, Any], platform_key: Verifier, origin: str | None, where: str
) -> tuple[Checkpoint, Block]:
    """Steps B3-B4: the note signed by the pinned key (for ``origin``), the head header."""
    try:
        checkpoint = open_checkpoint(doc["checkpoint"], platform_key, origin)
    except VerificationError as e:
        fail(e.step, f"{where}checkpoint: {e}")
    return checkpoint, read_header(doc["head"], f"{where}head")


def check_head_signed(checkpoint: Checkpoint, head: Block, where: str) -> None:
    """Step B5 with a version 1 checkpoint: it signs the head block's hash itself."""
    if head.height + 1 != checkpoint.size or not hmac.compare_digest(
        head.block_hash, checkpoint.head_hash
    ):
        fail(
            "checkpoint_head",
            f"the {where}head header is not the block the checkpoint signs (a version 1 "
            "checkpoint's root is the head block's hash; a version 2 checkpoint, the block "
            "log's tree head, comes only in a version 3 document with head_proof)",
        )


def check_blocks(entries: list[Any], head: Block) -> dict[int, Block]:
    blocks: dict[int, Block] = {}
    last_height = -1
    for position, entry in enumerate(entries):
        where = f"blocks[{position}]"
        if not plain_fields(entry, BLOCK_EXACT):
            check_fields(entry, BLOCK_FIELDS, where)
        header = read_header(entry["header"], where)
        height = header.height
        if height <= last_height:
            fail("bundle_format", f"{where}: blocks must be in strictly ascending height")
        last_height = height
        if height < head.height:  # a plain proof into the head's root: accepted natively
            computed = plain_acc_root(
                header.block_hash,
                height,
                head.acc_size,
                entry["acc_proof"],
                ACC_LEAF_PREFIX,
                ACC_NODE_PREFIX,
            )
            if computed is not None and hmac.compare_digest(computed, head.acc_root):
                blocks[height] = header
                continue
        proof = hex32_list(entry["acc_proof"], f"{where} acc_proof")
        block_hash = header.block_hash
        if height > head.height:
            fail("block_link", f"block {height} is newer than the head {head.height}")
        if height == head.height:
            if proof:
                fail("bundle_format", f"{where}: the head block takes an empty acc_proof")
            if not hmac.compare_digest(block_hash, head.block_hash):
                fail("block_link", f"block {height} is not the head block")
        else:
            # verify_acc_inclusion without re-checking what is already 32-byte bytes here.
            try:
                computed = root_from_inclusion_proof(
                    acc_leaf(block_hash), height, head.acc_size, proof
                )
            except VerificationError as e:
                fail(e.step, f"block {height}: {e}")
            if not hmac.compare_digest(computed, head.acc_root):
                fail(
                    "acc_inclusion",
                    f"block {height}: block {height} proves into root {computed.hex()}, "
                    f"the head commits to {head.acc_root.hex()}",
                )
        blocks[height] = header
    return blocks


# ----- one event: leaf in block, hash chain, bytes → leaf -----------------------------------


def check_anchoring(
    entry: Mapping[str, Any],
    payload: bytes,
    item_id: str,
    prev: bytes,
    blocks: Mapping[int, Block],
) -> bytes:
    header = blocks.get(entry["height"])
    if header is None:
        fail("block_link", f"block {entry['height']} is not in the bundle")
    leaf = hex32(entry["leaf"], "leaf")
    try:
        verify_inclusion(
            leaf, entry["leaf_index"], header.leaf_count, entry["path"], header.merkle_root
        )
    except VerificationError as e:
        fail(e.step, f"block {header.height}: {e}")
    if not hmac.compare_digest(hex32(entry["prev_leaf"], "prev_leaf"), prev):
        fail("item_chain", "prev_leaf is not the previous event's leaf")
    computed = event_leaf(item_id, entry["version"], entry["leaf_kind"], payload, prev)
    if not hmac.compare_digest(computed, leaf):
        fail("leaf_hash", "the leaf does not recompute from the event's bytes")
    return leaf


# ----- one event: what it says, and who signed it -------------------------------------------


class DeviceKeys:
    """Device public keys: pinned ones first, else those the bundle lists."""

    def __init__(self, listed: Mapping[str, Any], pinned: Mapping[str, bytes] | None) -> None:
        self.listed = listed
        self.pinned = pinned or {}
        self._keys: dict[str, PublicKey] = {}

    def signature_valid(self, device: str, message: bytes, signature: bytes) -> bool:
        key = self._keys.get(device)
        if key is None:
            key = self._keys[device] = self._public_key(device)
        return key.verify(message, signature)

    def _public_key(self, device: str) -> PublicKey:
        raw = self.pinned.get(device)
        source = "pinned"
        if raw is None:
            entry = self.listed.get(device)
            if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
                fail("device_key", f"no public key for device {device}")
            if not HEX32.fullmatch(entry["public_key"]):
                fail("device_key", f"public key of {device} is not 64 lowercase hex")
            raw, source = bytes.fromhex(entry["public_key"]), "listed"
        try:  # 32 bytes, canonical, not of small order (docs/proof-bundle.md §4.8)
            return PublicKey(raw)
        except UnusableKey as e:
            fail("device_key", f"{source} key of {device}: {e}")


def check_content(
    entry: Mapping[str, Any], payload: bytes, item_id: str, keys: DeviceKeys
) -> dict[str, Any]:
    numbers = True  # whether the summary may hold a number (then same_json decides)
    if entry["leaf_kind"] == "E":
        envelope, device = _signed_envelope(payload, keys, "envelope")
        read = native_summary(envelope.body)
        if read is None:
            body = _read_body(envelope, device, "envelope")
            if body["item_id"] != item_id:
                fail("item_mismatch", f"the signed event is about {body['item_id']!r}")
            summary = signed_fields(body)
        else:  # a field the summary leaves out is null in the body: .get reads it so
            summary, numbers = read
            _check_device(summary, envelope, device, "envelope")
            if summary.get("item_id") != item_id:
                fail("item_mismatch", f"the signed event is about {summary.get('item_id')!r}")
    else:
        flag = _platform_body(payload)
        evidence = _evidence(flag, entry["evidence_b64"], keys)
        summary = flag_summary(flag, evidence)
    # Without numbers the summary is strings, maps and lists of strings, which a JSON value
    # equals only with strings in the same places: == is then same_json.
    if not (same_json(entry["summary"], summary) if numbers else entry["summary"] == summary):
        fail("summary_mismatch", "the summary differs from the signed content")
    return summary


def _signed_body(message: bytes, keys: DeviceKeys, what: str) -> dict[str, Any]:
    envelope, device = _signed_envelope(message, keys, what)
    return _read_body(envelope, device, what)


def _signed_envelope(message: bytes, keys: DeviceKeys, what: str) -> tuple[Envelope, str]:
    """The envelope whose signature verifies, and its device (``party/device``)."""
    envelope = native_envelope(message)
    if envelope is None:
        try:
            envelope = read_envelope(message)
        except SerializationError as e:
            fail("envelope_format", f"{what}: {e.reason}")
    device = f"{envelope.party_id}/{envelope.device_id}"
    if not keys.signature_valid(device, envelope.body, envelope.signature):
        fail("device_signature", f"{what}: the signature of device {device} does not verify")
    return envelope, device


def _read_body(envelope: Envelope, device: str, what: str) -> dict[str, Any]:
    body = plain_body(envelope.body)
    if body is None:
        try:
            body = read_body_record(envelope)
        except SerializationError as e:
            fail("envelope_format", f"{what} body: {e.reason}")
    _check_device(body, envelope, device, what)
    return body


def _check_device(body: Mapping[str, Any], envelope: Envelope, device: str, what: str) -> None:
    if (body.get("party_id"), body.get("device_id")) != (envelope.party_id, envelope.device_id):
        fail("envelope_device", f"{what} is labelled {device}, its body names another device")


def _platform_body(payload: bytes) -> dict[str, Any]:
    try:
        flag = strictjson.loads(payload)
    except strictjson.JsonInputError as e:
        fail("platform_body", f"the platform record is not strict JSON: {e}")
    if (
        not isinstance(flag, dict)
        or sorted(flag) != list(PLATFORM_BODY_KEYS)
        or flag["type"] != "flag"
        or not isinstance(flag["signal"], str)
        or not isinstance(flag["detail"], str)
        or not isinstance(flag["evidence_event_id"], str | None)
        or not (flag["evidence_sha256"] is None or is_hex32(flag["evidence_sha256"]))
        or canonical_json(flag) != payload
    ):
        fail("platform_body", "the platform record is not a canonical flag object")
    return flag


def _evidence(
    flag: Mapping[str, Any], evidence_b64: str | None, keys: DeviceKeys
) -> dict[str, Any] | None:
    committed = flag["evidence_sha256"]
    if committed is None:
        if evidence_b64 is not None:
            fail("bundle_format", "evidence given for a flag that commits to none")
        return None
    if evidence_b64 is None:
        fail("bundle_format", "the flag commits to evidence the bundle does not carry")
    evidence = b64(evidence_b64, "evidence_b64")
    if not hmac.compare_digest(hashlib.sha256(evidence).hexdigest(), committed):
        fail("evidence_hash", "the evidence envelope is not the one the flag commits to")
    body = _signed_body(evidence, keys, "evidence")
    if body["event_id"] != flag["evidence_event_id"]:
        fail("evidence_mismatch", f"the evidence is event {body['event_id']!r}")
    return body
