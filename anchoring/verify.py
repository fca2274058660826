"""``verify_bundle(bundle, key)``: check a proof bundle offline, trusting only pinned keys.

docs/proof-bundle.md is the normative description (fields, record and header bytes, every
step); this module implements it in that order and reports the first failure as a
:class:`BundleError` whose ``step`` is one of:

==================  ====================================================================
``bundle_format``   not a v1 bundle, a field missing or of the wrong type or spelling
``checkpoint_*``    the note is malformed / not signed by the pinned key / other origin
``header_*``        a block header is malformed or breaks a rule checkable on its own
``checkpoint_head`` the bundle's head header is not the block the checkpoint signs
``acc_*``           a block's accumulator proof does not lead to the head's acc_root
``block_link``      an event names a block not in the bundle, or a block is not the head
``history_gap``     the events are not versions 1, 2, 3, … of the item (one left out)
``merkle_*``        the event's leaf is not at that index of the block's Merkle tree
``item_chain``      prev_leaf is not the previous event's leaf
``leaf_hash``       the leaf does not recompute from the event's bytes
``envelope_format`` the envelope or its body is not a readable Avro message
``device_key``      no usable public key for the device that signed
``device_signature`` the Ed25519 signature over the body bytes does not verify
``envelope_device`` the envelope's outer party/device differ from the signed body's
``item_mismatch``   the signed body is about another item
``platform_body``   a platform-made record is not the canonical flag JSON
``evidence_hash``   the evidence envelope is not the one the flag commits to
``evidence_mismatch`` the evidence envelope is another event than the flag names
``summary_mismatch`` the displayed summary differs from the signed content
==================  ====================================================================

Speed. Each structure is parsed once, in one pass where it is in the plain spelling writers emit (a
header's hash from its JSON values, a path folded while its shape is checked, hex and
base64 decoded in one call, the envelope and its Avro body read directly by
:mod:`anchoring.fastread`). Anything not plainly valid goes to the careful check it
replaces, which decides: so every refusal keeps its step and message, and nothing is
accepted that the careful check refuses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, NoReturn

from anchoring import strictjson
from anchoring.accumulator import acc_leaf, root_from_inclusion_proof
from anchoring.checkpoint import Verifier, open_checkpoint
from anchoring.declarations import declared_in_error
from anchoring.errors import VerificationError
from anchoring.fastread import plain_body, plain_envelope
from anchoring.header import MAP_HEADER_VERSION, BlockHeader, plain_json_block_hash
from anchoring.headmap import MapEntry
from anchoring.leaves import (
    ZERO_HASH,
    flag_summary,
    leaf_of,
    read_body_record,
    read_envelope,
    read_signed,
    signed_fields,
)
from anchoring.mapcheck import check_absence, check_membership, parse_entry, parse_proof
from anchoring.merkle import verify_inclusion
from ledger.records import PLATFORM_BODY_KEYS, LeafSource, canonical_json
from streams.ed25519 import PublicKey, UnusableKey
from streams.errors import SerializationError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BundleError",
    "Verified",
    "flag_summary",
    "read_bundle",
    "read_signed",
    "same_json",
    "signed_fields",
    "verify_bundle",
]

BUNDLE_FORMAT = "assay-proof-bundle"
BUNDLE_VERSION = 1
BUNDLE_VERSION_2 = 2
ABSENCE_FORMAT = "assay-absence"
MAX_INT = 2**53 - 1

_HEX32 = re.compile(r"[0-9a-f]{64}")


class BundleError(VerificationError):
    """A check failed; ``step`` names it, ``version`` the event (if it is about one)."""

    def __init__(self, step: str, message: str, version: int | None = None) -> None:
        where = f"event v{version}: " if version is not None else ""
        super().__init__(step, where + message)
        self.version = version


@dataclass(frozen=True)
class Verified:
    item_id: str
    origin: str
    checkpoint_size: int
    events: int
    pending: int
    summaries: list[dict[str, Any]] = field(default_factory=list)
    bundle_version: int = BUNDLE_VERSION
    #: "complete" (version 2: no anchored event left out), or "inclusion_only" (version 1).
    completeness: str = "inclusion_only"
    #: ``sealed_at`` of the head the result holds at (the newer checkpoint's, if given).
    checkpoint_time: str = ""
    #: A valid absence bundle: the item is not in the ledger as of the checkpoint.
    absent: bool = False

    @property
    def declared_in_error(self) -> list[dict[str, Any]]:
        """The verified events declared in error, and by which (docs/proof-bundle.md §4.9)."""
        return declared_in_error(self.summaries)


def read_bundle(data: bytes | str) -> Any:
    """The bundle as strict JSON reads it (docs/proof-bundle.md §2.1): the input of
    :func:`verify_bundle`. Bytes as they came (a file, a response body) let the check
    cover UTF-8 and the byte-order mark; :class:`BundleError` ``bundle_format`` if not."""
    try:
        return strictjson.loads(data)
    except strictjson.JsonInputError as e:
        _fail("bundle_format", f"the bundle is not strict JSON: {e}")


def verify_bundle(
    bundle: Mapping[str, Any],
    platform_key: Verifier,
    device_keys: Mapping[str, bytes] | None = None,
    *,
    origin: str | None = None,
    max_age: float | None = None,
    now: datetime | None = None,
) -> Verified:
    """Check everything in the order of docs/proof-bundle.md; raise the first failure.

    A proof bundle of version 1 or 2, or an absence bundle (§10.5). With ``max_age``
    (seconds), a checkpoint older than that at ``now`` fails with ``checkpoint_stale``.
    """
    if not isinstance(bundle, Mapping):
        _fail("bundle_format", "a bundle is a JSON object")
    if bundle.get("format") == ABSENCE_FORMAT:
        result = _verify_absence(bundle, platform_key, origin)
    else:
        result = _verify_proof(bundle, platform_key, device_keys, origin)
    if max_age is not None:
        _check_age(result.checkpoint_time, max_age, now)
    return result


def _verify_proof(
    bundle: Mapping[str, Any],
    platform_key: Verifier,
    device_keys: Mapping[str, bytes] | None,
    origin: str | None,
) -> Verified:
    _check_top_level(bundle)
    version2 = bundle["version"] == BUNDLE_VERSION_2
    checkpoint, head = _checkpoint_and_head(bundle, platform_key, origin, "")
    map_entry: MapEntry | None = None
    if version2:
        map_entry = _map_entry_at(bundle, head, bundle["item_id"], "")
    blocks = _check_blocks(bundle["blocks"], head)
    keys = _Keys(bundle["devices"], device_keys)
    item_id: str = bundle["item_id"]
    prev = ZERO_HASH
    summaries = []
    for expected, entry in enumerate(bundle["events"], 1):
        version = _check_entry_fields(entry, expected)
        try:
            payload = _b64(entry["payload_b64"], "payload_b64")
            prev = _check_anchoring(entry, payload, item_id, prev, blocks)
            summaries.append(_check_content(entry, payload, item_id, keys))
        except VerificationError as e:
            raise BundleError(e.step, e.message, version) from None
    _check_pending(bundle["pending"], len(bundle["events"]))
    size, sealed_at = checkpoint.size, head.sealed_at
    if map_entry is not None:
        _check_complete(map_entry, bundle["events"])
        if "newer" in bundle:
            size, sealed_at = _check_newer(bundle, head, map_entry, platform_key, origin)
    return Verified(
        item_id,
        checkpoint.origin,
        size,
        len(bundle["events"]),
        len(bundle["pending"]),
        summaries,
        bundle_version=bundle["version"],
        completeness="complete" if version2 else "inclusion_only",
        checkpoint_time=sealed_at,
    )


# ----- version 2: the head map, completeness, a newer checkpoint, absence ------------------


def _checkpoint_and_head(
    doc: Mapping[str, Any], platform_key: Verifier, origin: str | None, where: str
) -> tuple[Any, _Block]:
    """Steps B3-B5 (and 5a for version 2 documents) on ``doc``'s checkpoint and head."""
    try:
        checkpoint = open_checkpoint(doc["checkpoint"], platform_key, origin)
    except VerificationError as e:
        _fail(e.step, f"{where}checkpoint: {e}")
    head = _header(doc["head"], f"{where}head")
    if head.height + 1 != checkpoint.size or not hmac.compare_digest(
        head.block_hash, checkpoint.head_hash
    ):
        _fail("checkpoint_head", f"the {where}head header is not the block the checkpoint signs")
    if (where or doc.get("version") == BUNDLE_VERSION_2) and head.version != MAP_HEADER_VERSION:
        _fail("bundle_format", f"the {where}head of a version 2 document is a version 1 header")
    return checkpoint, head


def _map_entry_at(doc: Mapping[str, Any], head: _Block, item_id: str, where: str) -> MapEntry:
    """Steps 5b-5c: the item's entry, proven at ``head.map_root``."""
    try:
        entry = parse_entry(doc["map_entry"], f"{where}map_entry")
        proof = parse_proof(doc["map_proof"], f"{where}map_proof")
        assert head.map_root is not None
        check_membership(head.map_root, item_id, entry, proof)
    except VerificationError as e:
        _fail(e.step, f"{where}{e}")
    return entry


def _check_complete(entry: MapEntry, events: list[Any]) -> None:
    """Step F20: the map entry is the last listed event."""
    last = events[-1]
    if (
        entry.version != len(events)
        or entry.leaf.hex() != last["leaf"]
        or entry.height != last["height"]
        or entry.leaf_index != last["leaf_index"]
    ):
        _fail(
            "history_incomplete",
            f"the item's latest anchored event is version {entry.version} (block "
            f"{entry.height}), the bundle ends at version {len(events)}: events were left out",
        )


def _check_newer(
    bundle: Mapping[str, Any],
    head: _Block,
    entry: MapEntry,
    platform_key: Verifier,
    origin: str | None,
) -> tuple[int, str]:
    """Step G21: the bundle against a newer checkpoint; its size and time."""
    newer = bundle["newer"]
    if not _plain_fields(newer, _NEWER_EXACT):
        _check_fields(newer, _NEWER_FIELDS, "newer")
    proof = _hex32_list(newer["acc_proof"], "newer acc_proof")
    checkpoint, top = _checkpoint_and_head(newer, platform_key, origin, "newer ")
    if top.height < head.height:
        _fail("checkpoint_consistency", "the newer checkpoint is older than the bundle's")
    if top.height == head.height:
        if proof or not hmac.compare_digest(top.block_hash, head.block_hash):
            _fail("checkpoint_consistency", "the newer head is another block at the same height")
    else:
        try:
            computed = root_from_inclusion_proof(
                acc_leaf(head.block_hash), head.height, top.acc_size, proof
            )
        except VerificationError as e:
            _fail("checkpoint_consistency", f"the bundle's head in the newer one: {e}")
        if not hmac.compare_digest(computed, top.acc_root):
            _fail("checkpoint_consistency", "the bundle's head is not in the newer chain")
    later = _map_entry_at(newer, top, bundle["item_id"], "newer ")
    if later != entry:
        _fail(
            "newer_events",
            f"as of checkpoint {checkpoint.size} the item's latest event is version "
            f"{later.version}; the bundle shows up to version {entry.version}",
        )
    return checkpoint.size, top.sealed_at


def _verify_absence(doc: Mapping[str, Any], platform_key: Verifier, origin: str | None) -> Verified:
    """§10.6, absence bundle: the id has no entry in the map the checkpoint's head commits."""
    version = doc.get("version")
    if type(version) is not int or version != BUNDLE_VERSION_2:
        _fail("bundle_format", f"not an {ABSENCE_FORMAT} version 2 document")
    _check_fields(doc, _ABSENCE_FIELDS, "absence bundle")
    item_id = doc["item_id"]
    if not item_id or not _is_unicode(item_id):
        _fail("bundle_format", "item_id is empty or not valid Unicode")
    checkpoint, head = _checkpoint_and_head(doc, platform_key, origin, "")
    try:
        proof = parse_proof(doc["map_proof"], "map_proof")
        assert head.map_root is not None
        check_absence(head.map_root, item_id, proof)
    except VerificationError as e:
        _fail(e.step, str(e))
    return Verified(
        item_id,
        checkpoint.origin,
        checkpoint.size,
        0,
        0,
        bundle_version=BUNDLE_VERSION_2,
        completeness="complete",
        checkpoint_time=head.sealed_at,
        absent=True,
    )


def _check_age(sealed_at: str, max_age: float, now: datetime | None) -> None:
    """Step H22."""
    when = datetime.fromisoformat(sealed_at.removesuffix("Z")).replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - when).total_seconds()
    if age > max_age:
        _fail(
            "checkpoint_stale",
            f"the checkpoint was sealed {age:.0f} s ago ({sealed_at}), more than {max_age:g} s",
        )


# ----- structure ---------------------------------------------------------------------------

_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "item_id": str,
    "checkpoint": str,
    "head": dict,
    "blocks": list,
    "events": list,
    "devices": dict,
    "pending": list,
}
_EVENT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "leaf_kind": str,
    "payload_b64": str,
    "evidence_b64": (str, type(None)),
    "prev_leaf": str,
    "leaf": str,
    "height": int,
    "leaf_index": int,
    "path": list,
    "summary": dict,
}


_BLOCK_FIELDS: dict[str, type | tuple[type, ...]] = {"header": dict, "acc_proof": list}
_V2_FIELDS: dict[str, type | tuple[type, ...]] = {"map_entry": dict, "map_proof": dict}
_NEWER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "checkpoint": str,
    "head": dict,
    "acc_proof": list,
    "map_entry": dict,
    "map_proof": dict,
}
_ABSENCE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "item_id": str,
    "checkpoint": str,
    "head": dict,
    "map_proof": dict,
}
_PENDING_FIELDS: dict[str, type | tuple[type, ...]] = {"version": int, "summary": dict}


def _check_top_level(bundle: Mapping[str, Any]) -> None:
    version = bundle.get("version")
    if (
        bundle.get("format") != BUNDLE_FORMAT
        or type(version) is not int  # 1.0 and true equal 1 in Python; they are not integers
        or version not in (BUNDLE_VERSION, BUNDLE_VERSION_2)
    ):
        _fail("bundle_format", f"not an {BUNDLE_FORMAT} version 1 or 2 document")
    _check_fields(bundle, _TOP_LEVEL, "bundle")
    if version == BUNDLE_VERSION_2:
        _check_fields(bundle, _V2_FIELDS, "bundle")
        if "newer" in bundle and not isinstance(bundle["newer"], dict):
            _fail("bundle_format", "newer must be a JSON object")
    if not bundle["item_id"] or not _is_unicode(bundle["item_id"]):
        _fail("bundle_format", "item_id is empty or not valid Unicode")
    if not bundle["events"]:
        _fail("bundle_format", "the bundle proves no event")


_Exact = tuple[tuple[str, tuple[type, ...]], ...]


def _exact(spec: Mapping[str, type | tuple[type, ...]]) -> _Exact:
    """``spec`` for :func:`_plain_fields`: the exact types of parsed JSON (no bool as int)."""
    return tuple(
        (name, kind if isinstance(kind, tuple) else (kind,)) for name, kind in spec.items()
    )


def _plain_fields(obj: Any, exact: _Exact) -> bool:
    """True when ``obj`` passes :func:`_check_fields` plainly: a dict, values of exactly
    the types named (as ``json.loads`` makes them), integers in range. False: ask it."""
    if type(obj) is not dict:
        return False
    for name, kinds in exact:
        value = obj.get(name, _MISSING)
        if type(value) not in kinds:
            return False
        if type(value) is int and not 0 <= value <= MAX_INT:
            return False
    return True


def _check_fields(obj: Any, spec: Mapping[str, type | tuple[type, ...]], where: str) -> None:
    if not isinstance(obj, dict):  # parsed JSON; a concrete type check is also faster
        _fail("bundle_format", f"{where} must be a JSON object")
    for name, kind in spec.items():
        if name not in obj:
            _fail("bundle_format", f"{where} has no field {name!r}")
        value = obj[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            _fail("bundle_format", f"{where}: {name!r} has the wrong type")
        if isinstance(value, int) and not 0 <= value <= MAX_INT:
            _fail("bundle_format", f"{where}: {name!r} is outside 0..2**53-1")


_EVENT_EXACT = _exact(_EVENT_FIELDS)
_BLOCK_EXACT = _exact(_BLOCK_FIELDS)
_PENDING_EXACT = _exact(_PENDING_FIELDS)
_NEWER_EXACT = _exact(_NEWER_FIELDS)
_MISSING = object()


def _check_entry_fields(entry: Any, expected: int) -> int:
    if not _plain_fields(entry, _EVENT_EXACT):
        _check_fields(entry, _EVENT_FIELDS, f"event #{expected}")
    version: int = entry["version"]
    if version != expected:
        _fail("history_gap", f"expected version {expected}, found {version}", version)
    if entry["leaf_kind"] not in ("E", "P"):
        _fail("bundle_format", f"unknown leaf kind {entry['leaf_kind']!r}", version)
    if entry["leaf_kind"] == "E" and entry["evidence_b64"] is not None:
        _fail("bundle_format", "an envelope event carries no evidence", version)
    return version


def _check_pending(pending: list[Any], anchored: int) -> None:
    for offset, entry in enumerate(pending, 1):
        if not _plain_fields(entry, _PENDING_EXACT):
            _check_fields(entry, _PENDING_FIELDS, f"pending #{offset}")
        if entry["version"] != anchored + offset:
            _fail("bundle_format", f"pending #{offset} is not version {anchored + offset}")


# ----- chain: checkpoint → head → blocks ----------------------------------------------------


class _Block(NamedTuple):
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


def _header(data: Any, where: str) -> _Block:
    block_hash = plain_json_block_hash(data)
    if block_hash is not None:  # valid, as BlockHeader.from_json would find it
        return _Block(
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
        _fail("header_format", f"{where} header: sealed_at is not ASCII")
    try:
        header = BlockHeader.from_json(data)
    except VerificationError as e:
        _fail(e.step, f"{where} header: {e}")
    return _Block(
        header.height,
        header.leaf_count,
        header.merkle_root,
        header.acc_root,
        header.acc_size,
        header.block_hash(),
        header.version,
        header.map_root,
        header.sealed_at,
    )


def _check_blocks(entries: list[Any], head: _Block) -> dict[int, _Block]:
    blocks: dict[int, _Block] = {}
    last_height = -1
    for position, entry in enumerate(entries):
        where = f"blocks[{position}]"
        if not _plain_fields(entry, _BLOCK_EXACT):
            _check_fields(entry, _BLOCK_FIELDS, where)
        header = _header(entry["header"], where)
        height = header.height
        if height <= last_height:
            _fail("bundle_format", f"{where}: blocks must be in strictly ascending height")
        last_height = height
        proof = _hex32_list(entry["acc_proof"], f"{where} acc_proof")
        block_hash = header.block_hash
        if height > head.height:
            _fail("block_link", f"block {height} is newer than the head {head.height}")
        if height == head.height:
            if proof:
                _fail("bundle_format", f"{where}: the head block takes an empty acc_proof")
            if not hmac.compare_digest(block_hash, head.block_hash):
                _fail("block_link", f"block {height} is not the head block")
        else:
            # verify_acc_inclusion without re-checking what is already 32-byte bytes here.
            try:
                computed = root_from_inclusion_proof(
                    acc_leaf(block_hash), height, head.acc_size, proof
                )
            except VerificationError as e:
                _fail(e.step, f"block {height}: {e}")
            if not hmac.compare_digest(computed, head.acc_root):
                _fail(
                    "acc_inclusion",
                    f"block {height}: block {height} proves into root {computed.hex()}, "
                    f"the head commits to {head.acc_root.hex()}",
                )
        blocks[height] = header
    return blocks


# ----- one event: leaf in block, hash chain, bytes → leaf -----------------------------------


def _check_anchoring(
    entry: Mapping[str, Any],
    payload: bytes,
    item_id: str,
    prev: bytes,
    blocks: Mapping[int, _Block],
) -> bytes:
    header = blocks.get(entry["height"])
    if header is None:
        _fail("block_link", f"block {entry['height']} is not in the bundle")
    leaf = _hex32(entry["leaf"], "leaf")
    try:
        verify_inclusion(
            leaf, entry["leaf_index"], header.leaf_count, entry["path"], header.merkle_root
        )
    except VerificationError as e:
        _fail(e.step, f"block {header.height}: {e}")
    if not hmac.compare_digest(_hex32(entry["prev_leaf"], "prev_leaf"), prev):
        _fail("item_chain", "prev_leaf is not the previous event's leaf")
    source = LeafSource(item_id, entry["version"], entry["leaf_kind"], payload)
    if not hmac.compare_digest(leaf_of(source, prev), leaf):
        _fail("leaf_hash", "the leaf does not recompute from the event's bytes")
    return leaf


# ----- one event: what it says, and who signed it -------------------------------------------


class _Keys:
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
                _fail("device_key", f"no public key for device {device}")
            if not _HEX32.fullmatch(entry["public_key"]):
                _fail("device_key", f"public key of {device} is not 64 lowercase hex")
            raw, source = bytes.fromhex(entry["public_key"]), "listed"
        try:  # 32 bytes, canonical, not of small order (docs/proof-bundle.md §4.8)
            return PublicKey(raw)
        except UnusableKey as e:
            _fail("device_key", f"{source} key of {device}: {e}")


def _check_content(
    entry: Mapping[str, Any], payload: bytes, item_id: str, keys: _Keys
) -> dict[str, Any]:
    if entry["leaf_kind"] == "E":
        body = _signed_body(payload, keys, "envelope")
        if body["item_id"] != item_id:
            _fail("item_mismatch", f"the signed event is about {body['item_id']!r}")
        summary = signed_fields(body)
    else:
        flag = _platform_body(payload)
        evidence = _evidence(flag, entry["evidence_b64"], keys)
        summary = flag_summary(flag, evidence)
    if not same_json(entry["summary"], summary):
        _fail("summary_mismatch", "the summary differs from the signed content")
    return summary


def _signed_body(message: bytes, keys: _Keys, what: str) -> dict[str, Any]:
    envelope = plain_envelope(message)
    if envelope is None:
        try:
            envelope = read_envelope(message)
        except SerializationError as e:
            _fail("envelope_format", f"{what}: {e.reason}")
    device = f"{envelope.party_id}/{envelope.device_id}"
    if not keys.signature_valid(device, envelope.body, envelope.signature):
        _fail("device_signature", f"{what}: the signature of device {device} does not verify")
    body = plain_body(envelope.body)
    if body is None:
        try:
            body = read_body_record(envelope)
        except SerializationError as e:
            _fail("envelope_format", f"{what} body: {e.reason}")
    if (body["party_id"], body["device_id"]) != (envelope.party_id, envelope.device_id):
        _fail("envelope_device", f"{what} is labelled {device}, its body names another device")
    return body


def _platform_body(payload: bytes) -> dict[str, Any]:
    try:
        flag = strictjson.loads(payload)
    except strictjson.JsonInputError as e:
        _fail("platform_body", f"the platform record is not strict JSON: {e}")
    if (
        not isinstance(flag, dict)
        or sorted(flag) != list(PLATFORM_BODY_KEYS)
        or flag["type"] != "flag"
        or not isinstance(flag["signal"], str)
        or not isinstance(flag["detail"], str)
        or not isinstance(flag["evidence_event_id"], str | None)
        or not (flag["evidence_sha256"] is None or _is_hex32(flag["evidence_sha256"]))
        or canonical_json(flag) != payload
    ):
        _fail("platform_body", "the platform record is not a canonical flag object")
    return flag


def _evidence(
    flag: Mapping[str, Any], evidence_b64: str | None, keys: _Keys
) -> dict[str, Any] | None:
    committed = flag["evidence_sha256"]
    if committed is None:
        if evidence_b64 is not None:
            _fail("bundle_format", "evidence given for a flag that commits to none")
        return None
    if evidence_b64 is None:
        _fail("bundle_format", "the flag commits to evidence the bundle does not carry")
    evidence = _b64(evidence_b64, "evidence_b64")
    if not hmac.compare_digest(hashlib.sha256(evidence).hexdigest(), committed):
        _fail("evidence_hash", "the evidence envelope is not the one the flag commits to")
    body = _signed_body(evidence, keys, "evidence")
    if body["event_id"] != flag["evidence_event_id"]:
        _fail("evidence_mismatch", f"the evidence is event {body['event_id']!r}")
    return body


# ----- encodings --------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: booleans only equal booleans, numbers compare by value."""
    return bool(a == b) and _same_kinds(a, b)


def _same_kinds(a: Any, b: Any) -> bool:
    """For values already ``==``: no boolean stands for a number (``True == 1`` in Python)."""
    if type(a) is dict:
        return type(b) is dict and all(_same_kinds(value, b[key]) for key, value in a.items())
    if type(a) is list:
        return type(b) is list and all(_same_kinds(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is bool) == (type(b) is bool)


def _is_unicode(text: str) -> bool:
    """No lone surrogates (JSON's \\ud800 escapes allow them; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_hex32(value: Any) -> bool:
    return isinstance(value, str) and _HEX32.fullmatch(value) is not None


def _hex32(value: Any, what: str) -> bytes:
    if type(value) is str and len(value) == 64:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            if raw.hex() == value:  # only lowercase hex digits, no whitespace
                return raw
    if not _is_hex32(value):
        _fail("bundle_format", f"{what} must be 64 lowercase hex characters")
    return bytes.fromhex(value)


def _hex32_list(values: Any, what: str) -> list[bytes]:
    """``[_hex32(v, what) for v in values]``, decoded in one call when all are plain."""
    if type(values) is list:
        try:
            joined = "".join(values)
            raw = bytes.fromhex(joined)
        except (TypeError, ValueError):
            pass
        else:
            if set(map(len, values)) <= {64} and raw.hex() == joined:
                return [raw[start : start + 32] for start in range(0, len(raw), 32)]
    return [_hex32(value, what) for value in values]


def _b64(value: str, what: str) -> bytes:
    """Standard base64 with padding, canonical only (one spelling per byte string)."""
    if type(value) is str and value.isascii():
        try:
            raw = binascii.a2b_base64(value)
        except (binascii.Error, ValueError):
            pass
        else:
            if binascii.b2a_base64(raw, newline=False) == value.encode("ascii"):
                return raw  # canonical, so the careful decoding below gives the same bytes
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        _fail("bundle_format", f"{what} is not base64")
    if base64.b64encode(raw).decode("ascii") != value:
        _fail("bundle_format", f"{what} is not canonical base64")
    return raw


def _fail(step: str, message: str, version: int | None = None) -> NoReturn:
    raise BundleError(step, message, version)
