"""``verify(bundle, key)``: check a proof bundle offline, trusting only the pinned key.

Order of checks (the first failure is reported, with its step code and the event):
checkpoint signature → head header is the checkpoint's head → each block is proven
into the head's accumulator → for each event, in version order: no gap in the history,
the per-item hash chain links, the leaf recomputes from the bytes, the Merkle path leads
to the block's root → each envelope's device signature and content.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from anchoring.accumulator import verify_acc_inclusion
from anchoring.checkpoint import Verifier, open_checkpoint
from anchoring.errors import VerificationError
from anchoring.header import BlockHeader
from anchoring.leaves import LeafSource, leaf_of
from anchoring.merkle import verify_inclusion
from anchoring.prove import BUNDLE_FORMAT, BUNDLE_VERSION
from streams.envelope import open_envelope, read_body
from streams.errors import SerializationError
from streams.keys import SignatureInvalid, verify_signature


class BundleError(VerificationError):
    """A bundle-level check failed; ``step`` names it, ``version`` the event if any."""

    def __init__(self, step: str, message: str, version: int | None = None) -> None:
        where = f"event v{version}: " if version is not None else ""
        super().__init__(step, where + message)
        self.version = version


@dataclass(frozen=True)
class Verified:
    item_id: str
    checkpoint_size: int
    events: int
    pending: int
    summaries: list[dict[str, Any]] = field(default_factory=list)


def verify_bundle(
    bundle: Mapping[str, Any],
    platform_key: Verifier,
    device_keys: Mapping[str, bytes] | None = None,
) -> Verified:
    _check_format(bundle)
    checkpoint = open_checkpoint(str(bundle["checkpoint"]), platform_key)
    head = _header(bundle["head"], "head")
    if head.height + 1 != checkpoint.size or not hmac.compare_digest(
        head.block_hash(), checkpoint.head_hash
    ):
        raise BundleError("checkpoint_head", "the head header is not the one the checkpoint signs")
    blocks = _check_blocks(bundle["blocks"], head)
    item_id = str(bundle["item_id"])
    prev = bytes(32)
    expected_version = 1
    summaries = []
    for entry in bundle["events"]:
        version = int(entry["version"])
        if version != expected_version:
            raise BundleError(
                "history_gap", f"expected version {expected_version}, found {version}", version
            )
        leaf = _check_event(entry, item_id, prev, blocks, version)
        _check_signature(entry, item_id, bundle.get("devices", {}), device_keys, version)
        summaries.append(dict(entry.get("summary", {})))
        prev = leaf
        expected_version += 1
    return Verified(
        item_id, checkpoint.size, len(bundle["events"]), len(bundle["pending"]), summaries
    )


def _check_format(bundle: Mapping[str, Any]) -> None:
    if bundle.get("format") != BUNDLE_FORMAT or bundle.get("version") != BUNDLE_VERSION:
        raise BundleError("bundle_format", f"not an {BUNDLE_FORMAT} v{BUNDLE_VERSION} document")
    for name in ("item_id", "checkpoint", "head", "blocks", "events", "pending"):
        if name not in bundle:
            raise BundleError("bundle_format", f"missing field {name!r}")
    if not bundle["events"]:
        raise BundleError("bundle_format", "the bundle proves no event")


def _header(data: Any, where: str) -> BlockHeader:
    try:
        return BlockHeader.from_json(data)
    except VerificationError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError("header_format", f"{where} header is malformed: {e}") from None


def _check_blocks(entries: Any, head: BlockHeader) -> dict[int, BlockHeader]:
    blocks: dict[int, BlockHeader] = {}
    for entry in entries:
        header = _header(entry["header"], "block")
        block_hash = header.block_hash()
        if header.height == head.height:
            if not hmac.compare_digest(block_hash, head.block_hash()):
                raise BundleError("block_link", f"block {header.height} differs from the head")
        elif header.height < head.height:
            proof = [_hex(p, "acc_proof") for p in entry["acc_proof"]]
            verify_acc_inclusion(block_hash, header.height, head.acc_size, proof, head.acc_root)
        else:
            raise BundleError("block_link", f"block {header.height} is newer than the head")
        blocks[header.height] = header
    return blocks


def _check_event(
    entry: Mapping[str, Any],
    item_id: str,
    prev: bytes,
    blocks: Mapping[int, BlockHeader],
    version: int,
) -> bytes:
    if not hmac.compare_digest(_hex(entry["prev_leaf"], "prev_leaf"), prev):
        raise BundleError("item_chain", "does not link to the previous event's leaf", version)
    kind = entry["leaf_kind"]
    if kind not in ("E", "P"):
        raise BundleError("bundle_format", f"unknown leaf kind {kind!r}", version)
    payload = _b64(entry["payload_b64"], version)
    leaf = leaf_of(LeafSource(item_id, version, kind, payload), prev)
    if not hmac.compare_digest(leaf, _hex(entry["leaf"], "leaf")):
        raise BundleError("leaf_hash", "the leaf does not match the event's bytes", version)
    header = blocks.get(int(entry["height"]))
    if header is None:
        raise BundleError("block_link", f"block {entry['height']} is not in the bundle", version)
    try:
        verify_inclusion(
            leaf, int(entry["leaf_index"]), header.leaf_count, entry["path"], header.merkle_root
        )
    except VerificationError as e:
        raise BundleError(e.step, f"{e} (block {header.height})", version) from None
    return leaf


def _check_signature(
    entry: Mapping[str, Any],
    item_id: str,
    bundled: Mapping[str, Any],
    pinned: Mapping[str, bytes] | None,
    version: int,
) -> None:
    payload = _b64(entry["payload_b64"], version)
    if entry["leaf_kind"] == "P":
        try:
            json.loads(payload)
        except ValueError:
            raise BundleError("platform_body", "platform body is not JSON", version) from None
        return
    try:
        envelope = open_envelope(payload)
        body = read_body(envelope)
    except SerializationError as e:
        raise BundleError("envelope_format", e.reason, version) from None
    device = f"{envelope.party_id}/{envelope.device_id}"
    key = (pinned or {}).get(device)
    if key is None:
        listed = bundled.get(device)
        if listed is None:
            raise BundleError("device_key", f"no public key for device {device}", version)
        key = _hex(listed["public_key"], "public_key")
    try:
        verify_signature(key, envelope.body, envelope.signature)
    except SignatureInvalid:
        raise BundleError(
            "device_signature", f"signature of device {device} does not verify", version
        ) from None
    if body.item_id != item_id:
        raise BundleError("item_mismatch", f"envelope is for {body.item_id}", version)
    summary = entry.get("summary") or {}
    signed = {k: v for k, v in body.to_primitive().items() if v not in (None, {})}
    if summary and summary != signed:
        raise BundleError("summary_mismatch", "displayed fields differ from signed fields", version)


def _hex(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raise BundleError("bundle_format", f"{what} is not hex") from None
    return raw


def _b64(value: Any, version: int) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("bundle_format", "payload is not base64", version) from None
