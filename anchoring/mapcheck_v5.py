"""The version 5 spelling of a head map proof (docs/proof-bundle.md §14.1): the JSON shape
of version 2 with every hash in base64url (RFC 4648 §5, no padding) instead of hex.

A hash in hex takes 64 characters, in base64url 43: measured on a map of a million items
that is most of what any encoding of the proof can save, and it keeps the proof's shape,
so a verifier reads it as before with another decoder. Each value has exactly one
spelling: the unused low bits of its last character are zero.

:func:`read_proof` picks the spelling a bundle version uses; a proof in the other one is
``bundle_format``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, NoReturn

from anchoring.errors import VerificationError
from anchoring.headmap import VALUE, MapProof
from anchoring.mapcheck import parse_proof, proof_shape

#: The first bundle version whose map proofs are spelt in base64url.
COMPACT_VERSION = 5

# 32 bytes are 43 characters, 56 bytes 75: both leave two unused bits in the last one,
# which must be zero (A E I M Q U Y c g k o s w 0 4 8).
_LAST = "[AEIMQUYcgkosw048]"
_B64_32 = re.compile(f"[A-Za-z0-9_-]{{42}}{_LAST}")
_B64_VALUE = re.compile(f"[A-Za-z0-9_-]{{{(VALUE.size * 8 + 5) // 6 - 1}}}{_LAST}")


# base64url's "-_" to the standard alphabet's "+/", and "+/" to "!", which no base64 has.
_STANDARD = bytes.maketrans(b"-_+/", b"+/!!")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def proof_json_v5(proof: MapProof) -> dict[str, Any]:
    """The version 5 spelling of a proof (what :func:`parse_proof_v5` reads)."""
    other = None
    if proof.other_key is not None and proof.other_value is not None:
        other = {"key": b64url(proof.other_key), "value": b64url(proof.other_value)}
    return {
        "siblings": [None if s is None else b64url(s) for s in proof.siblings],
        "other": other,
    }


def respell(proof: dict[str, Any]) -> dict[str, Any]:
    """A proof in the version 2 spelling (as the prover's parts write it) in version 5's."""
    return proof_json_v5(parse_proof(proof, "map_proof"))


def parse_proof_v5(data: Any, where: str) -> MapProof:
    """``{"siblings": [b64url32 | null, …], "other": null | {"key", "value"}}``."""
    siblings, other = proof_shape(data, where)
    parsed = _siblings(siblings, where)
    if other is None:
        return MapProof(parsed)
    key, value = other["key"], other["value"]
    if type(key) is not str or not _B64_32.fullmatch(key):
        _format(f"{where}: other.key must be 43 canonical base64url characters")
    if type(value) is not str or not _B64_VALUE.fullmatch(value):
        _format(f"{where}: other.value must be 75 canonical base64url characters")
    return MapProof(parsed, _decode(key), _decode(value))


def _siblings(siblings: list[Any], where: str) -> tuple[bytes | None, ...]:
    """The siblings decoded in one call: each present one is 43 characters, and each
    followed by ``A`` (six zero bits) decodes to its 32 bytes and one more, which is zero
    exactly when the spare bits of its last character are (the rule of the pattern
    ``_B64_32``, checked without matching each sibling on its own)."""
    gaps = None in siblings
    present = [s for s in siblings if s is not None] if gaps else siblings
    if not present:
        return tuple(siblings)
    try:
        ok = list(map(len, present)).count(43) == len(present)
        joined = "A".join(present).encode("ascii") + b"A"
    except (TypeError, UnicodeEncodeError):  # not all strings, or not all ASCII
        _bad_sibling(where)
    try:
        raw = binascii.a2b_base64(joined.translate(_STANDARD), strict_mode=True)
    except binascii.Error:  # a character outside base64url's alphabet, or padding
        _bad_sibling(where)
    if not ok or len(raw) != 33 * len(present) or raw[32::33].count(0) != len(present):
        _bad_sibling(where)
    hashes = [raw[at : at + 32] for at in range(0, len(raw), 33)]
    if not gaps:
        return tuple(hashes)
    each = iter(hashes)
    return tuple([None if s is None else next(each) for s in siblings])


def _bad_sibling(where: str) -> NoReturn:
    _format(f"{where}: a sibling is neither 43 canonical base64url characters nor null")


def read_proof(data: Any, where: str, version: int) -> MapProof:
    """A map proof in the spelling of bundle ``version``."""
    if version >= COMPACT_VERSION:
        return parse_proof_v5(data, where)
    return parse_proof(data, where)


def _format(message: str) -> NoReturn:
    raise VerificationError("bundle_format", message)
