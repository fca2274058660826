"""``verify_bundle(bundle, key)``: check a proof bundle offline, trusting only pinned keys.

docs/proof-bundle.md is the normative description (fields, record and header bytes, every
step); this module implements it in that order and reports the first failure as a
:class:`BundleError` whose ``step`` is one of:

==================  ====================================================================
``bundle_format``   not a bundle of a known version, a field missing or of the wrong type
``checkpoint_*``    the note is malformed / not signed by the pinned key / other origin
``header_*``        a block header is malformed or breaks a rule checkable on its own
``checkpoint_head`` the bundle's head header is not the block the checkpoint signs
``checkpoint_version`` a version 1 checkpoint where a version 2 one belongs (bundle v3)
``checkpoint_inclusion`` head_proof does not prove the head into the log's tree head
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
``party_proof``     version 4: a party record is not the one the head map holds
``device_proof``    version 4: a device record is not in the head map, or not in the bundle
``device_revoked``  version 4: the event occurred after its device's proven revocation
``device_not_enrolled`` version 4: the event occurred before its device's key speaks
==================  ====================================================================

The steps live by format version: :mod:`anchoring.verify_v1` (checkpoint, blocks, events),
:mod:`anchoring.verify_v2` (head map, completeness, newer checkpoint, absence, age),
:mod:`anchoring.verify_v3` (which checkpoint version a document carries, and the head in
the log's tree head) and :mod:`anchoring.verify_registry` (version 4: the parties and device
keys proven); :mod:`anchoring.verify_fields` checks structure and encodings and
:mod:`anchoring.verify_result` holds the result, the error and the format names. This
module is the public surface.

Speed. Each structure is parsed once, in one pass where it is in the plain spelling writers emit (a
header's hash from its JSON values, a path folded while its shape is checked, hex and
base64 decoded in one call, the envelope and its Avro body read directly by
:mod:`anchoring.fastread`). Anything not plainly valid goes to the careful check it
replaces, which decides: so every refusal keeps its step and message, and nothing is
accepted that the careful check refuses. The commonest of these plain readings run natively
first (native/src/verifyplain.rs: a header and its hash, a block's accumulator proof, an
event's Merkle path; native/src/verifybody.rs: the envelope, the body's summary); each
answers exactly what its Python reading answers, else None and the Python reading decides
(tests/anchoring/test_verifyplain.py, test_verifybody.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from anchoring import strictjson
from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.headmap import MapEntry
from anchoring.leaves import ZERO_HASH, flag_summary, read_signed, signed_fields
from anchoring.verify_fields import (
    b64,
    check_entry_fields,
    check_pending,
    check_top_level,
    same_json,
)
from anchoring.verify_owner import OwnerChain, is_owner_leaf
from anchoring.verify_registry import check_registry
from anchoring.verify_result import (
    ABSENCE_FORMAT,
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BUNDLE_VERSION_4,
    BUNDLE_VERSION_5,
    BundleError,
    Verified,
    fail,
)
from anchoring.verify_v1 import (
    DeviceKeys,
    check_anchoring,
    check_blocks,
    check_content,
)
from anchoring.verify_v2 import check_age, check_complete, check_newer, map_entry_at, verify_absence
from anchoring.verify_v3 import checkpoint_and_head

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


_REGISTRY_VERSIONS = (BUNDLE_VERSION_4, BUNDLE_VERSION_5)


def read_bundle(data: bytes | str) -> Any:
    """The bundle as strict JSON reads it (docs/proof-bundle.md §2.1): the input of
    :func:`verify_bundle`. Bytes as they came (a file, a response body) let the check
    cover UTF-8 and the byte-order mark; :class:`BundleError` ``bundle_format`` if not."""
    try:
        return strictjson.loads(data)
    except strictjson.JsonInputError as e:
        fail("bundle_format", f"the bundle is not strict JSON: {e}")


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

    A proof bundle of version 1 to 5, or an absence bundle (§10.5). With ``max_age``
    (seconds), a checkpoint older than that at ``now`` fails with ``checkpoint_stale``.
    """
    if not isinstance(bundle, Mapping):
        fail("bundle_format", "a bundle is a JSON object")
    if bundle.get("format") == ABSENCE_FORMAT:
        result = verify_absence(bundle, platform_key, origin)
    else:
        result = _verify_proof(bundle, platform_key, device_keys, origin)
    if max_age is not None:
        check_age(result.checkpoint_time, max_age, now)
    return result


def _verify_proof(
    bundle: Mapping[str, Any],
    platform_key: Verifier,
    device_keys: Mapping[str, bytes] | None,
    origin: str | None,
) -> Verified:
    check_top_level(bundle)
    version = bundle["version"]
    complete = version != BUNDLE_VERSION  # versions 2 on carry the head map
    checkpoint, head = checkpoint_and_head(bundle, platform_key, origin, "")
    map_entry: MapEntry | None = None
    if complete:
        map_entry = map_entry_at(bundle, head, bundle["item_id"], "", version)
    registry = check_registry(bundle, head) if version in _REGISTRY_VERSIONS else None
    blocks = check_blocks(bundle["blocks"], head)
    keys = registry.keys(device_keys) if registry else DeviceKeys(bundle["devices"], device_keys)
    item_id: str = bundle["item_id"]
    prev = ZERO_HASH
    summaries = []
    owners = OwnerChain()  # owner-signed events: anchoring/verify_owner.py
    for expected, entry in enumerate(bundle["events"], 1):
        version = check_entry_fields(entry, expected)
        try:
            payload = b64(entry["payload_b64"], "payload_b64")
            prev = check_anchoring(entry, payload, item_id, prev, blocks)
            if is_owner_leaf(entry, payload):
                summaries.append(owners.check(entry, payload, item_id, version))
            else:
                summaries.append(check_content(entry, payload, item_id, keys))
                owners.note_custody(summaries[-1])
                if registry is not None and entry["leaf_kind"] == "E":
                    registry.check_window(summaries[-1])  # step D17a
        except VerificationError as e:
            raise BundleError(e.step, e.message, version) from None
    check_pending(bundle["pending"], len(bundle["events"]))
    size, sealed_at = checkpoint.size, head.sealed_at
    if map_entry is not None:
        check_complete(map_entry, bundle["events"])
        if "newer" in bundle:
            size, sealed_at = check_newer(bundle, head, map_entry, platform_key, origin)
    return Verified(
        item_id,
        checkpoint.origin,
        size,
        len(bundle["events"]),
        len(bundle["pending"]),
        summaries,
        bundle_version=bundle["version"],
        completeness="complete" if complete else "inclusion_only",
        checkpoint_time=sealed_at,
        parties=registry.parties if registry else None,
    )
