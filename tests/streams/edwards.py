"""Edwards25519 by the book (RFC 8032 §5.1), slow and plain: for tests and vectors only.

It makes the keys and signatures no honest signer produces (small-order points, keys with
a torsion component, an identity R, S ≥ L), so that tests can check every verifier
refuses or accepts them as docs/proof-bundle.md §4.8 says. Never used to verify anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int]  # affine (x, y)
IDENTITY: Point = (0, 1)


def recover_x(y: int, sign: int) -> int | None:
    """The x with that sign bit on the curve at ``y`` (``0 <= y < p``), or None."""
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    if v * x * x % P != u:
        return None
    if x == 0 and sign:
        return None
    return P - x if x & 1 != sign else x


def decode(encoded: bytes) -> Point | None:
    """RFC 8032 decoding, refusing y >= p."""
    n = int.from_bytes(encoded, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    if y >= P:
        return None
    x = recover_x(y, sign)
    return None if x is None else (x, y)


def encode(point: Point) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x, y


def mul(n: int, point: Point) -> Point:
    out, addend = IDENTITY, point
    while n:
        if n & 1:
            out = add(out, addend)
        addend = add(addend, addend)
        n >>= 1
    return out


B: Point = (recover_x(4 * pow(5, P - 2, P) % P, 0) or 0, 4 * pow(5, P - 2, P) % P)
#: A point of order 8: with its multiples, the whole torsion subgroup.
T8 = decode(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
assert T8 is not None


def small_order_points() -> list[Point]:
    assert T8 is not None
    return [mul(k, T8) for k in range(8)]


def secret_scalar(seed: bytes) -> int:
    """The clamped scalar ``a`` of an Ed25519 seed (its public key is ``[a]B``)."""
    a = int.from_bytes(hashlib.sha512(seed).digest()[:32], "little")
    return (a & ((1 << 254) - 8)) | (1 << 254)


def challenge(r: bytes, public_key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + public_key + message).digest(), "little") % L


def sign_as(a: int, public_key: bytes, message: bytes, nonce: int) -> bytes:
    """``R ‖ S`` with ``R = [nonce]B`` and ``S = nonce + k·a``, under any claimed key."""
    r = encode(mul(nonce, B))
    s = (nonce + challenge(r, public_key, message) * a) % L
    return r + s.to_bytes(32, "little")


def signature_cases() -> dict[str, tuple[bytes, bytes, bytes, bool]]:
    """``name → (public key, signature, message, valid under docs/proof-bundle.md §4.8)``:
    an honest signature and the edge cases libraries disagree on."""
    seed = hashlib.sha256(b"assay ed25519 cases").digest()
    a = secret_scalar(seed)
    honest = encode(mul(a, B))
    assert T8 is not None
    identity, order8 = encode(IDENTITY), encode(T8)
    mixed = encode(add(mul(a, B), T8))
    zero = bytes(32)

    def with_k(
        key: bytes, sign: Callable[[bytes], bytes], k_mod_8: bool | None
    ) -> tuple[bytes, bytes]:
        for n in range(500):  # a message whose challenge k is (not) a multiple of 8
            message = b"message %d" % n
            signature = sign(message)
            k = challenge(signature[:32], key, message)
            if k_mod_8 is None or (k % 8 == 0) == k_mod_8:
                return signature, message
        raise AssertionError("no message found")

    def honest_sign(message: bytes) -> bytes:
        return sign_as(a, honest, message, 1 + int.from_bytes(message, "little") % (L - 1))

    def mixed_sign(message: bytes) -> bytes:
        return sign_as(a, mixed, message, 1 + int.from_bytes(message, "little") % (L - 1))

    def identity_r(message: bytes) -> bytes:
        s = challenge(identity, honest, message) * a % L
        return identity + s.to_bytes(32, "little")

    good, message = with_k(honest, honest_sign, None)
    s = int.from_bytes(good[32:], "little")
    cases: dict[str, tuple[bytes, bytes, bytes, bool]] = {
        "honest": (honest, good, message, True),
        "honest, S + L": (honest, good[:32] + (s + L).to_bytes(32, "little"), message, False),
        "honest, identity R": (honest, *with_k(honest, identity_r, None), False),
        "identity key, identity R, S = 0": (identity, identity + zero, message, False),
        "identity key as y = p + 1": (
            (P + 1).to_bytes(32, "little"),
            identity + zero,
            message,
            False,
        ),
        "order-8 key, identity R, S = 0, k ≡ 0 (mod 8)": (
            order8,
            *with_k(order8, lambda m: identity + zero, True),
            False,
        ),
        "mixed-order key, k ≡ 0 (mod 8)": (mixed, *with_k(mixed, mixed_sign, True), True),
        "mixed-order key, cofactored only": (mixed, *with_k(mixed, mixed_sign, False), False),
        "key with y + p": ((3 + P).to_bytes(32, "little"), good, message, False),
        "short signature": (honest, good[:63], message, False),
    }
    for multiple, point in enumerate(small_order_points()):
        for sign_bit in (0, 1):
            raw = (point[1] | sign_bit << 255).to_bytes(32, "little")
            cases[f"small-order key [{multiple}]T8, sign bit {sign_bit}"] = (
                raw,
                identity + zero,
                message,
                False,
            )
    return cases
