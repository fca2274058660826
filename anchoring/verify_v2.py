"""What version 2 adds (docs/proof-bundle.md §10): the head map entry, completeness, a
newer checkpoint, absence bundles and the checkpoint's age.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from anchoring.accumulator import acc_leaf, root_from_inclusion_proof
from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.headmap import MapEntry
from anchoring.mapcheck import check_absence, check_membership, parse_entry
from anchoring.mapcheck_v5 import read_proof
from anchoring.verify_fields import (
    ABSENCE_FIELDS,
    NEWER_EXACT,
    NEWER_FIELDS,
    V3_FIELDS,
    check_fields,
    hex32_list,
    is_unicode,
    plain_fields,
)
from anchoring.verify_result import (
    ABSENCE_FORMAT,
    BUNDLE_VERSION_2,
    BUNDLE_VERSION_3,
    BUNDLE_VERSION_5,
    Verified,
    fail,
)
from anchoring.verify_v1 import Block
from anchoring.verify_v3 import checkpoint_and_head

_ABSENCE_VERSIONS = (BUNDLE_VERSION_2, BUNDLE_VERSION_3, BUNDLE_VERSION_5)

# ----- version 2: the head map, completeness, a newer checkpoint, absence ------------------


def map_entry_at(
    doc: Mapping[str, Any], head: Block, item_id: str, where: str, version: int
) -> MapEntry:
    """Steps 5b-5c: the item's entry, proven at ``head.map_root`` (the proof spelt as bundle
    ``version`` spells it)."""
    try:
        entry = parse_entry(doc["map_entry"], f"{where}map_entry")
        proof = read_proof(doc["map_proof"], f"{where}map_proof", version)
        assert head.map_root is not None
        check_membership(head.map_root, item_id, entry, proof)
    except VerificationError as e:
        fail(e.step, f"{where}{e}")
    return entry


def check_complete(entry: MapEntry, events: list[Any]) -> None:
    """Step F20: the map entry is the last listed event."""
    last = events[-1]
    if (
        entry.version != len(events)
        or entry.leaf.hex() != last["leaf"]
        or entry.height != last["height"]
        or entry.leaf_index != last["leaf_index"]
    ):
        fail(
            "history_incomplete",
            f"the item's latest anchored event is version {entry.version} (block "
            f"{entry.height}), the bundle ends at version {len(events)}: events were left out",
        )


def check_newer(
    bundle: Mapping[str, Any],
    head: Block,
    entry: MapEntry,
    platform_key: Verifier,
    origin: str | None,
) -> tuple[int, str]:
    """Step G21: the bundle against a newer checkpoint; its size and time."""
    newer = bundle["newer"]
    if not plain_fields(newer, NEWER_EXACT):
        check_fields(newer, NEWER_FIELDS, "newer")
    proof = hex32_list(newer["acc_proof"], "newer acc_proof")
    checkpoint, top = checkpoint_and_head(newer, platform_key, origin, "newer ")
    if top.height < head.height:
        fail("checkpoint_consistency", "the newer checkpoint is older than the bundle's")
    if top.height == head.height:
        if proof or not hmac.compare_digest(top.block_hash, head.block_hash):
            fail("checkpoint_consistency", "the newer head is another block at the same height")
    else:
        try:
            computed = root_from_inclusion_proof(
                acc_leaf(head.block_hash), head.height, top.acc_size, proof
            )
        except VerificationError as e:
            fail("checkpoint_consistency", f"the bundle's head in the newer one: {e}")
        if not hmac.compare_digest(computed, top.acc_root):
            fail("checkpoint_consistency", "the bundle's head is not in the newer chain")
    later = map_entry_at(newer, top, bundle["item_id"], "newer ", bundle["version"])
    if later != entry:
        fail(
            "newer_events",
            f"as of checkpoint {checkpoint.size} the item's latest event is version "
            f"{later.version}; the bundle shows up to version {entry.version}",
        )
    return checkpoint.size, top.sealed_at


def verify_absence(doc: Mapping[str, Any], platform_key: Verifier, origin: str | None) -> Verified:
    """§10.6, absence bundle: the id has no entry in the map the checkpoint's head commits
    (§14.2: version 5 is version 3 with the proof spelt in base64url)."""
    version = doc.get("version")
    if type(version) is not int or version not in _ABSENCE_VERSIONS:
        fail("bundle_format", f"not an {ABSENCE_FORMAT} version 2, 3 or 5 document")
    check_fields(doc, ABSENCE_FIELDS, "absence bundle")
    if version != BUNDLE_VERSION_2:
        check_fields(doc, V3_FIELDS, "absence bundle")
    item_id = doc["item_id"]
    if not item_id or not is_unicode(item_id):
        fail("bundle_format", "item_id is empty or not valid Unicode")
    checkpoint, head = checkpoint_and_head(doc, platform_key, origin, "")
    try:
        proof = read_proof(doc["map_proof"], "map_proof", version)
        assert head.map_root is not None
        check_absence(head.map_root, item_id, proof)
    except VerificationError as e:
        fail(e.step, str(e))
    return Verified(
        item_id,
        checkpoint.origin,
        checkpoint.size,
        0,
        0,
        bundle_version=version,
        completeness="complete",
        checkpoint_time=head.sealed_at,
        absent=True,
    )


def check_age(sealed_at: str, max_age: float, now: datetime | None) -> None:
    """Step H22."""
    when = datetime.fromisoformat(sealed_at.removesuffix("Z")).replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - when).total_seconds()
    if age > max_age:
        fail(
            "checkpoint_stale",
            f"the checkpoint was sealed {age:.0f} s ago ({sealed_at}), more than {max_age:g} s",
        )
