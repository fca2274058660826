"""Ed25519 under Assay's rules: which public keys and signatures are accepted, everywhere.

Ed25519 libraries disagree on edge cases that RFC 8032 leaves open: Go's crypto/ed25519,
OpenSSL and BoringSSL (WebCrypto in Chromium) accept the identity point as a public key
with an identity-R, S = 0 signature of *any* message; libsodium refuses it. So that every
verifier (this one, the page, a second implementation) gives the same answer, the rules
are stated in docs/proof-bundle.md §4.8 and checked here explicitly, before the library
is asked, whatever its version or build options:

* a **public key** is 32 bytes whose y coordinate (the low 255 bits) is below p
  (canonical) and which does not encode a point of small order (order 1, 2, 4 or 8), with
  either sign bit;
* a **signature** is 64 bytes ``R ‖ S`` with ``S < L`` (canonical) and ``R`` not the
  encoding of a small-order point;
* then the cofactorless equation ``encode([S]B − [k]A) == R`` (libsodium's
  ``crypto_sign_verify_detached``, which applies the same rules). The native extension
  (``assay_headmap.Ed25519Key``, ed25519-dalek) computes it for message bytes, with the
  key decompressed once per :class:`PublicKey`; PyNaCl for anything else.
  :class:`PendingVerdicts` asks it for many signatures at once, on the extension's
  verifier threads (``assay_headmap.Ed25519Batch``; at most one per core, kept for the
  process), each still checked alone: a batch equation would
  accept a different set.

Enrolment is stricter: a device key must also decode to a point of the prime-order
subgroup, which every key derived from a seed is (:func:`enrolment_key_problem`).
"""

from __future__ import annotations

from collections.abc import Sequence

from assay_headmap import Ed25519Batch, Ed25519Key
from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import BadSignatureError

__all__ = [
    "FIELD_PRIME",
    "GROUP_ORDER",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "SMALL_ORDER_Y",
    "PendingVerdicts",
    "PublicKey",
    "UnusableKey",
    "enrolment_key_problem",
    "public_key_problem",
    "signature_problem",
    "verify",
]

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
FIELD_PRIME = 2**255 - 19
#: L, the order of the base point's subgroup.
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
_Y8 = 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
#: The y coordinates of the eight points of small order, and the two non-canonical
#: spellings (p, p + 1) of y = 0 and y = 1 that fit in 255 bits. With the sign bit
#: ignored, an encoding whose low 255 bits are one of these is a small-order point.
SMALL_ORDER_Y = frozenset(
    {0, 1, _Y8, FIELD_PRIME - _Y8, FIELD_PRIME - 1, FIELD_PRIME, FIELD_PRIME + 1}
)
_LOW_255 = (1 << 255) - 1


class UnusableKey(ValueError):
    """A byte string that is not an acceptable Ed25519 public key; ``str()`` says why."""


def public_key_problem(key: bytes) -> str | None:
    """Why ``key`` is not an acceptable public key for verification, or None."""
    if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_SIZE:
        return "an Ed25519 public key is 32 bytes"
    y = int.from_bytes(key, "little") & _LOW_255
    if y in SMALL_ORDER_Y:
        return "the public key is a point of small order"
    if y >= FIELD_PRIME:
        return "the public key is not canonically encoded (y >= 2**255 - 19)"
    return None


def enrolment_key_problem(key: bytes) -> str | None:
    """Why ``key`` may not be enrolled as a device key, or None: the verification rules,
    and a point of the prime-order subgroup (as every key made from a seed is)."""
    problem = public_key_problem(key)
    if problem is None and not crypto_core_ed25519_is_valid_point(key):
        problem = "the public key is not a point of the prime-order subgroup"
    return problem


def signature_problem(signature: bytes) -> str | None:
    """Why ``signature`` can never verify under these rules, or None."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        return "an Ed25519 signature is 64 bytes"
    if int.from_bytes(signature[32:], "little") >= GROUP_ORDER:
        return "the signature's S is not canonical (S >= L)"
    if int.from_bytes(signature[:32], "little") & _LOW_255 in SMALL_ORDER_Y:
        return "the signature's R is a point of small order"
    return None


class PublicKey:
    """A public key that passed :func:`public_key_problem`; verifies signatures by it."""

    __slots__ = ("_point", "raw")

    def __init__(self, raw: bytes) -> None:
        problem = public_key_problem(raw)
        if problem is not None:
            raise UnusableKey(problem)
        self.raw = bytes(raw)
        self._point = Ed25519Key(self.raw)  # (a key off the curve verifies nothing)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a valid signature of ``message`` under these rules."""
        if signature_problem(signature) is not None:
            return False
        if type(message) is bytes and type(signature) is bytes:
            return self._point.verify(message, signature)
        try:
            crypto_sign_open(signature + message, self.raw)
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"PublicKey({self.raw.hex()!r})"


class PendingVerdicts:
    """:meth:`PublicKey.verify` of each ``(key, message, signature)``, the equations
    computed by up to ``threads`` of the native extension's verifier threads (without the
    GIL; at most one per core in all) while the caller goes on; :meth:`verdict` waits
    for them, verifying what is left itself."""

    __slots__ = ("_batch", "_checks", "_verdicts")

    def __init__(self, checks: Sequence[tuple[PublicKey, bytes, bytes]], threads: int = 1) -> None:
        self._checks = checks
        self._verdicts: bytes | None = None
        plain = all(type(m) is bytes and type(s) is bytes for _, m, s in checks)
        self._batch = (
            Ed25519Batch(
                [key.raw for key, _, _ in checks],
                [message for _, message, _ in checks],
                [signature for _, _, signature in checks],
                threads,
            )
            if plain
            else None
        )

    def verdict(self, index: int) -> bool:
        """``PublicKey.verify`` of the check at ``index``."""
        key, message, signature = self._checks[index]
        if self._batch is None or signature_problem(signature) is not None:
            return key.verify(message, signature)
        if self._verdicts is None:
            self._verdicts = self._batch.wait()
        return self._verdicts[index] == 1


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """:meth:`PublicKey.verify` for a raw key; False also when the key is unusable."""
    try:
        return PublicKey(public_key).verify(message, signature)
    except UnusableKey:
        return False
