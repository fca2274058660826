"""Reading and checking the head map parts of a version 2 bundle (docs/proof-bundle.md §10):
``map_entry`` and ``map_proof`` in their JSON spelling, membership at a header's
``map_root``, and the non-membership an absence bundle claims.

Every failure is a :class:`VerificationError` with its step code: ``bundle_format`` for a
JSON shape other than §10.2's, ``map_proof`` / ``map_root`` for a membership proof,
``absence_proof`` / ``absence_refuted`` for an absence bundle's.
"""

from __future__ import annotations

import hmac
import re
from typing import Any, NoReturn

from anchoring.errors import VerificationError
from anchoring.headmap import DEPTH, VALUE, MapEntry, MapProof, item_key, root_of

MAX_INT = 2**53 - 1
_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX_VALUE = re.compile(f"[0-9a-f]{{{2 * VALUE.size}}}")


def parse_entry(data: Any, where: str) -> MapEntry:
    """``{"version", "leaf", "height", "leaf_index"}`` as a :class:`MapEntry`."""
    if type(data) is not dict:
        _format(f"{where} must be a JSON object")
    for name in ("version", "height", "leaf_index"):
        value = data.get(name)
        if type(value) is not int or not 0 <= value <= MAX_INT:
            _format(f"{where}: {name!r} must be an integer in 0..2**53-1")
    if data["version"] < 1:
        _format(f"{where}: version must be at least 1")
    leaf = data.get("leaf")
    if type(leaf) is not str or not _HEX32.fullmatch(leaf):
        _format(f"{where}: 'leaf' must be 64 lowercase hex characters")
    return MapEntry(data["version"], bytes.fromhex(leaf), data["height"], data["leaf_index"])


def proof_shape(data: Any, where: str) -> tuple[list[Any], dict[str, Any] | None]:
    """A map proof's shape, the same in every spelling: its siblings array (at most
    ``DEPTH`` elements) and ``other`` (null or an object with ``key`` and ``value``),
    their strings not yet read."""
    if type(data) is not dict or "siblings" not in data or "other" not in data:
        _format(f"{where} must be an object with 'siblings' and 'other'")
    siblings = data["siblings"]
    if type(siblings) is not list or len(siblings) > DEPTH:
        _format(f"{where}: 'siblings' must be an array of at most {DEPTH} elements")
    other = data["other"]
    if other is not None and (
        type(other) is not dict or "key" not in other or "value" not in other
    ):
        _format(f"{where}: 'other' must be null or an object with 'key' and 'value'")
    return siblings, other


def parse_proof(data: Any, where: str) -> MapProof:
    """``{"siblings": [hex32 | null, …], "other": null | {"key", "value"}}``."""
    siblings, other = proof_shape(data, where)
    parsed: list[bytes | None] = []
    for sibling in siblings:
        if sibling is None:
            parsed.append(None)
        elif type(sibling) is str and _HEX32.fullmatch(sibling):
            parsed.append(bytes.fromhex(sibling))
        else:
            _format(f"{where}: a sibling is neither 64 lowercase hex characters nor null")
    if other is None:
        return MapProof(tuple(parsed))
    key, value = other["key"], other["value"]
    if type(key) is not str or not _HEX32.fullmatch(key):
        _format(f"{where}: other.key must be 64 lowercase hex characters")
    if type(value) is not str or not _HEX_VALUE.fullmatch(value):
        _format(f"{where}: other.value must be {2 * VALUE.size} lowercase hex characters")
    return MapProof(tuple(parsed), bytes.fromhex(key), bytes.fromhex(value))


def proof_json(proof: MapProof) -> dict[str, Any]:
    """The JSON spelling of a proof (what :func:`parse_proof` reads)."""
    other = None
    if proof.other_key is not None and proof.other_value is not None:
        other = {"key": proof.other_key.hex(), "value": proof.other_value.hex()}
    return {
        "siblings": [None if s is None else s.hex() for s in proof.siblings],
        "other": other,
    }


def check_membership(root: bytes, item_id: str, entry: MapEntry, proof: MapProof) -> None:
    """The item has ``entry`` in the map with ``root``: ``map_proof``, ``map_root``."""
    computed = root_of(item_key(item_id), entry, proof)  # ProofError("map_proof") if not canonical
    if not hmac.compare_digest(computed, root):
        raise VerificationError(
            "map_root",
            f"the item's map proof leads to {computed.hex()}, the header commits to {root.hex()}",
        )


def check_absence(root: bytes, item_id: str, proof: MapProof) -> None:
    """The item has no entry in the map with ``root``: ``absence_proof``, ``absence_refuted``."""
    key = item_key(item_id)
    if proof.other_key is not None and hmac.compare_digest(proof.other_key, key):
        raise VerificationError("absence_refuted", "the proof names the item's own entry")
    try:
        computed = root_of(key, None, proof)
    except VerificationError as e:
        raise VerificationError("absence_proof", f"the non-membership proof: {e}") from None
    if not hmac.compare_digest(computed, root):
        raise VerificationError(
            "absence_refuted",
            f"the non-membership proof leads to {computed.hex()}, the head's map root is "
            f"{root.hex()}: the map does not show the item absent",
        )


def _format(message: str) -> NoReturn:
    raise VerificationError("bundle_format", message)
