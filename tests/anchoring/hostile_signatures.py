"""Bundle vectors for Ed25519 keys and signatures that libraries decide differently.

``make_bundle_vectors.py`` adds these to the vectors it writes. Each is a forged or real
bundle whose device key, pinned key, platform key or checkpoint signature is one that Go,
OpenSSL or BoringSSL (WebCrypto in Chromium) accept and the rules of docs/proof-bundle.md
§4.8 refuse (the identity point, other points of small order, a non-canonical y, an
identity R, S >= L), or, for the keys with a torsion component, one whose answer depends
on the cofactorless equation. The book arithmetic is ``tests/streams/edwards.py``.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from anchoring.checkpoint import ALG_ED25519, Verifier, key_id
from streams.keys import DeviceKey
from tests.anchoring.hostile_bundles import ITEM, Vector, forged, item_event, make_vector
from tests.server import forge
from tests.streams import edwards

IDENTITY = edwards.encode(edwards.IDENTITY)  # 01 00 … 00
ZERO_S = bytes(32)


def _with_key(bundle: Vector, device: str, key: bytes) -> Vector:
    out = copy.deepcopy(bundle)
    out["devices"][device]["public_key"] = key.hex()
    return out


def _signed_bundle(
    brand: DeviceKey, sign: Callable[[bytes], bytes], accept: Callable[[bytes, bytes], bool]
) -> Vector:
    """Item H's commissioning, its body signed by ``sign``: the first of a few bodies for
    which ``accept(body, signature)`` holds (a condition on the signature's hash)."""
    for n in range(1, 200):
        body = forge.body_bytes(item_event(n))
        signature = sign(body)
        if accept(body, signature):
            envelope = forge.envelope(body, brand, signature=signature)
            return forge.forge(ITEM, [forge.Forged("E", envelope)], [brand])
    raise AssertionError("no body met the condition")


def signature_vectors(
    brand: DeviceKey, happy: Vector, platform_key: str, platform_seed: bytes
) -> dict[str, Vector]:
    a = edwards.secret_scalar(bytes(brand.signing_key))
    honest = bytes.fromhex(brand.public_key_hex)
    assert edwards.T8 is not None
    order8 = edwards.encode(edwards.T8)
    mixed = edwards.encode(edwards.add(edwards.decode(honest) or edwards.IDENTITY, edwards.T8))
    # y + p still fits in 255 bits for y < 19; y = 0, 1 are of small order.
    y = next(y for y in range(2, 19) if edwards.recover_x(y, 0) is not None)
    non_canonical = (y + edwards.P).to_bytes(32, "little")
    device = "brand/brand-d1"
    any_signature = lambda body: IDENTITY + ZERO_S  # noqa: E731
    always = lambda body, signature: True  # noqa: E731

    def k_of(key: bytes) -> Callable[[bytes, bytes], int]:
        return lambda body, signature: edwards.challenge(signature[:32], key, body)

    nonce = lambda body: int.from_bytes(body[-8:], "little") % edwards.L or 1  # noqa: E731
    out: dict[str, Vector] = {}

    def add(name: str, desc: str, want: str | None, bundle: Vector, **kw: Any) -> None:
        out[name] = make_vector(desc, want, **forged(bundle), **kw)

    k_order8 = k_of(order8)
    add(
        "small-order-device-key",
        "brand/brand-d1 is listed with a point of order 8 as its key, and the envelope "
        "carries R = identity, S = 0 over a body whose hash k is a multiple of 8 (so "
        "[S]B = R + [k]A holds: Go, OpenSSL and BoringSSL accept it)",
        "device_key",
        _with_key(
            _signed_bundle(brand, any_signature, lambda b, s: k_order8(b, s) % 8 == 0),
            device,
            order8,
        ),
    )
    add(
        "identity-key-identity-r-zero-s",
        "brand/brand-d1 is listed with the identity point (01 00…00) as its key and the "
        "envelope's signature is R = identity, S = 0: valid for any message under the "
        "cofactorless equation (accepted by Go, OpenSSL and BoringSSL, not by libsodium)",
        "device_key",
        _with_key(_signed_bundle(brand, any_signature, always), device, IDENTITY),
    )
    add(
        "non-canonical-identity-key",
        "brand/brand-d1 is listed with the identity written non-canonically (y = p + 1, "
        "EE FF…7F) and the signature is R = identity, S = 0",
        "device_key",
        _with_key(
            _signed_bundle(brand, any_signature, always),
            device,
            (edwards.P + 1).to_bytes(32, "little"),
        ),
    )
    add(
        "non-canonical-device-key",
        "brand/brand-d1 is listed with a key whose y is written as y + p (a point of large "
        "order, not canonical)",
        "device_key",
        _with_key(_signed_bundle(brand, brand.sign, always), device, non_canonical),
    )
    add(
        "small-order-pinned-key",
        "the identity point is pinned as brand/brand-d1's key; the envelope's signature is "
        "R = identity, S = 0",
        "device_key",
        _signed_bundle(brand, any_signature, always),
        device_keys={device: IDENTITY.hex()},
    )

    def identity_r(body: bytes) -> bytes:
        s = edwards.challenge(IDENTITY, honest, body) * a % edwards.L
        return IDENTITY + s.to_bytes(32, "little")

    add(
        "small-order-r",
        "the brand's real key signs with R = identity and S = k·a (the cofactorless "
        "equation holds; BoringSSL accepts it, libsodium refuses a small-order R)",
        "device_signature",
        _signed_bundle(brand, identity_r, always),
    )

    def big_s(body: bytes) -> bytes:
        signature = brand.sign(body)
        s = int.from_bytes(signature[32:], "little") + edwards.L
        return signature[:32] + s.to_bytes(32, "little")

    add(
        "non-canonical-s",
        "the brand's valid signature with L added to S (S >= L: the same equation holds)",
        "device_signature",
        _signed_bundle(brand, big_s, always),
    )
    k_mixed = k_of(mixed)

    def sign_mixed(body: bytes) -> bytes:
        return edwards.sign_as(a, mixed, body, nonce(body))

    add(
        "mixed-order-device-key",
        "valid: brand/brand-d1 is listed with its key plus a point of order 8 (never "
        "enrollable, but not of small order), and the signature by its secret holds in the "
        "cofactorless equation because k is a multiple of 8",
        None,
        _with_key(
            _signed_bundle(brand, sign_mixed, lambda b, s: k_mixed(b, s) % 8 == 0), device, mixed
        ),
    )
    add(
        "mixed-order-key-cofactored-only",
        "brand/brand-d1 listed with its key plus a point of order 8; the signature holds "
        "only in the cofactored equation ([8S]B = [8]R + [8k]A), k not a multiple of 8",
        "device_signature",
        _with_key(
            _signed_bundle(brand, sign_mixed, lambda b, s: k_mixed(b, s) % 8 != 0), device, mixed
        ),
    )
    out.update(_checkpoint_vectors(happy, platform_key, platform_seed))
    return out


def _checkpoint_vectors(happy: Vector, platform_key: str, seed: bytes) -> dict[str, Vector]:
    """The platform key and the checkpoint's signature line, in item A's valid bundle."""
    platform = Verifier.from_text(platform_key)
    note = happy["checkpoint"]
    text, _, block = note.rpartition("\n\n")
    message = (text + "\n").encode()
    line_key = platform.key_id
    scalar = edwards.secret_scalar(seed)
    out: dict[str, Vector] = {}

    def with_signature(signature: bytes, key_id_bytes: bytes = line_key) -> Vector:
        bundle = copy.deepcopy(happy)
        encoded = base64.b64encode(key_id_bytes + signature).decode()
        bundle["checkpoint"] = f"{text}\n\n\u2014 {platform.name} {encoded}\n"
        return bundle

    s = edwards.challenge(IDENTITY, platform.public_key, message) * scalar % edwards.L
    out["checkpoint-small-order-r"] = make_vector(
        "the checkpoint signed by the platform's real key with R = identity, S = k·a "
        "(BoringSSL accepts it, libsodium does not)",
        "checkpoint_signature",
        bundle=with_signature(IDENTITY + s.to_bytes(32, "little")),
        platform_key=platform_key,
    )
    valid = base64.b64decode(block.strip().split(" ")[-1])[4:]
    big_s = int.from_bytes(valid[32:], "little") + edwards.L
    out["checkpoint-non-canonical-s"] = make_vector(
        "the checkpoint's valid signature with L added to S",
        "checkpoint_signature",
        bundle=with_signature(valid[:32] + big_s.to_bytes(32, "little")),
        platform_key=platform_key,
    )
    identity_id = key_id(platform.name, IDENTITY)
    identity_key = base64.b64encode(ALG_ED25519 + IDENTITY).decode()
    lenient = copy.deepcopy(happy)
    extra = base64.b64encode(identity_id + IDENTITY + ZERO_S).decode()
    lenient["checkpoint"] = note + f"\u2014 {platform.name} {extra}\n"
    out["identity-platform-key"] = make_vector(
        "the identity point pinned as the platform key; the checkpoint carries a line by it "
        "with R = identity, S = 0, which verifies any note under the cofactorless equation",
        "key_file",
        bundle=lenient,
        platform_key=f"{platform.name}+{identity_id.hex()}+{identity_key}",
    )
    return out
