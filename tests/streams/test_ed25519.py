"""Ed25519 under Assay's rules (streams/ed25519.py, docs/proof-bundle.md §4.8).

The rules are checked here before libsodium is asked; these tests pin them against the
book arithmetic of ``tests/streams/edwards.py`` and against libsodium itself, which must
agree on every case (the page's WebCrypto is held to the same cases in
tests/server/test_parity.py).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from assay_headmap import Ed25519Batch, Ed25519Key, ed25519_threads
from nacl.bindings import crypto_sign_open
from nacl.signing import SigningKey

from domain.errors import InvalidDeviceKey
from ledger.application import check_device_key
from streams import ed25519
from streams.keys import SignatureInvalid, verify_signature
from tests.streams import edwards

CASES = edwards.signature_cases()


def test_the_small_order_set_is_the_torsion_subgroup_and_its_non_canonical_spellings() -> None:
    torsion = {y for _, y in edwards.small_order_points()}
    assert len(edwards.small_order_points()) == 8 and len(torsion) == 5
    assert all(edwards.mul(8, point) == edwards.IDENTITY for point in edwards.small_order_points())
    # y = 0 and 1 are the only ones below 19, whose y + p still fits in 255 bits.
    assert torsion | {edwards.P, edwards.P + 1} == ed25519.SMALL_ORDER_Y


def test_the_base_point_and_constants_are_the_rfc_ones() -> None:
    assert edwards.mul(edwards.L, edwards.B) == edwards.IDENTITY
    assert (ed25519.FIELD_PRIME, ed25519.GROUP_ORDER) == (edwards.P, edwards.L)
    seed = bytes(range(32))
    expected = bytes(SigningKey(seed).verify_key)
    assert edwards.encode(edwards.mul(edwards.secret_scalar(seed), edwards.B)) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_decided_as_the_rules_say_and_libsodium_agrees(name: str) -> None:
    key, signature, message, valid = CASES[name]
    assert ed25519.verify(key, message, signature) is valid
    try:
        crypto_sign_open(signature + message, key)
        libsodium = True
    except Exception:
        libsodium = False
    assert libsodium is valid, "libsodium applies the same rules"


def _libsodium(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        crypto_sign_open(signature + message, key)
    except Exception:
        return False
    return True


def test_the_native_equation_agrees_with_libsodium_on_mutated_cases() -> None:
    """The equation is the native extension's for message bytes (the key decompressed once):
    on every case, honest signatures of random keys and thousands of one-bit or one-byte
    changes to a key, a signature or a message, the verdict is libsodium's."""
    rng = random.Random(20261203)
    honest = []
    for n in range(40):
        signing = SigningKey(rng.randbytes(32))
        message = rng.randbytes(n * 7)
        honest.append((bytes(signing.verify_key), signing.sign(message).signature, message))
    cases = [(key, signature, message) for key, signature, message, _ in CASES.values()]
    seen = {True: 0, False: 0}
    for key, signature, message in cases + honest:
        for n in range(80):
            parts = [bytearray(key), bytearray(signature), bytearray(message)]
            if n:
                part = parts[rng.randrange(3 if message else 2)]
                at = rng.randrange(len(part))
                if rng.random() < 0.5:
                    part[at] ^= 1 << rng.randrange(8)
                else:
                    part[at] = rng.randrange(256)
            k, s, m = (bytes(x) for x in parts)
            verdict = ed25519.verify(k, m, s)
            assert verdict is _libsodium(k, m, s), (k.hex(), s.hex(), m.hex())
            seen[verdict] += 1
    assert seen[True] > 40 and seen[False] > 1000
    key, signature, message = honest[3]
    assert ed25519.PublicKey(key).verify(bytearray(message), signature)  # (PyNaCl's path)


def test_keys_are_refused_for_what_they_are() -> None:
    honest = bytes(SigningKey(bytes(32)).verify_key)
    assert ed25519.public_key_problem(honest) is None
    identity = (1).to_bytes(32, "little")
    assert "small order" in (ed25519.public_key_problem(identity) or "")
    assert "small order" in (ed25519.public_key_problem(identity[:31] + b"\x80") or "")
    not_canonical = (edwards.P + 3).to_bytes(32, "little")
    assert "canonical" in (ed25519.public_key_problem(not_canonical) or "")
    assert "32 bytes" in (ed25519.public_key_problem(honest[:31]) or "")
    with pytest.raises(ed25519.UnusableKey):
        ed25519.PublicKey(identity)


def test_signatures_are_refused_for_what_they_are() -> None:
    good = CASES["honest"][1]
    assert ed25519.signature_problem(good) is None
    s = int.from_bytes(good[32:], "little")
    assert "S >= L" in (
        ed25519.signature_problem(good[:32] + (s + edwards.L).to_bytes(32, "little")) or ""
    )
    assert "R is a point of small order" in (
        ed25519.signature_problem((1).to_bytes(32, "little") + good[32:]) or ""
    )
    assert "64 bytes" in (ed25519.signature_problem(good + b"\x00") or "")


def test_enrolment_also_refuses_keys_with_a_torsion_component() -> None:
    key, _, _, valid = CASES["mixed-order key, k ≡ 0 (mod 8)"]
    assert valid and ed25519.public_key_problem(key) is None
    assert "prime-order subgroup" in (ed25519.enrolment_key_problem(key) or "")
    honest, *_ = CASES["honest"]
    assert ed25519.enrolment_key_problem(honest) is None


@pytest.mark.parametrize(
    "text",
    [
        "01" + "00" * 31,  # the identity
        "00" * 32,  # a point of order 4
        "ee" + "ff" * 30 + "7f",  # the identity as y = p + 1
        (edwards.P + 3).to_bytes(32, "little").hex(),  # not canonical
        CASES["mixed-order key, k ≡ 0 (mod 8)"][0].hex(),  # a torsion component
        "3B6A27BCCEB6A42D62A3A8D02A6F0D73653215771DE243A63AC048A18B59DA29",  # upper case
        "3b6a",  # short
        "not hex at all, but 64 characters long.........................",
    ],
)
def test_the_ledger_refuses_to_enrol_an_unusable_key(text: str) -> None:
    with pytest.raises(InvalidDeviceKey) as e:
        check_device_key(text)
    assert e.value.rule == "invalid_device_key"


def test_the_ingest_signature_check_applies_the_rules() -> None:
    key, signature, message, _ = CASES["honest"]
    verify_signature(key, message, signature)
    identity_key, identity_signature, any_message, _ = CASES["identity key, identity R, S = 0"]
    with pytest.raises(SignatureInvalid, match="small order"):
        verify_signature(identity_key, any_message, identity_signature)


def test_the_spec_states_the_same_constants() -> None:
    spec = (Path(__file__).resolve().parents[2] / "docs" / "proof-bundle.md").read_text()
    y8 = min(y for y in ed25519.SMALL_ORDER_Y if 1 < y < edwards.P - 1 and y < edwards.P // 2)
    assert f"y₈ = {y8}" in spec
    assert f"L = 2^252 + {edwards.L - 2**252}" in spec


def test_the_native_batch_agrees_with_the_single_check_on_every_case() -> None:
    """``Ed25519Batch`` (many signatures on the verifier threads) gives, signature by
    signature, the single check's verdict, on raw keys the rules would refuse too (small
    order, non-canonical, off the curve), non-canonical S and mutated cases; and
    ``PendingVerdicts`` gives ``PublicKey.verify``'s (the rules, then the equation)."""
    rng = random.Random(20261204)
    triples = [(key, message, signature) for key, signature, message, _ in CASES.values()]
    for n in range(20):
        signing = SigningKey(rng.randbytes(32))
        message = rng.randbytes(n * 11)
        triples.append((bytes(signing.verify_key), message, signing.sign(message).signature))
    for key, message, signature in list(triples):
        for _ in range(30):
            parts = [bytearray(key), bytearray(signature), bytearray(message + b"m")]
            part = parts[rng.randrange(3)]
            part[rng.randrange(len(part))] ^= 1 << rng.randrange(8)
            triples.append((bytes(parts[0]), bytes(parts[2]), bytes(parts[1])))
    keys, messages, signatures = (list(column) for column in zip(*triples, strict=True))
    for threads in (0, 1, 2, 7):  # 0: all on the thread that waits
        verdicts = Ed25519Batch(keys, messages, signatures, threads).wait()
        single = [Ed25519Key(k).verify(m, s) for k, m, s in triples]
        assert [v == 1 for v in verdicts] == single
    assert Ed25519Batch([], [], [], 2).wait() == b""
    with pytest.raises(ValueError, match="32 bytes"):
        Ed25519Batch([bytes(31)], [b""], [bytes(64)], 1)
    usable = [
        (ed25519.PublicKey(k), m, s) for k, m, s in triples if not ed25519.public_key_problem(k)
    ]
    pending = ed25519.PendingVerdicts(usable, 2)
    expected = [key.verify(message, signature) for key, message, signature in usable]
    assert [pending.verdict(i) for i in range(len(usable))] == expected
    assert expected.count(True) == 22 and expected.count(False) > 100
    assert all(v is _libsodium(k.raw, m, s) for (k, m, s), v in zip(usable, expected, strict=True))


def test_a_forked_child_verifies_without_the_parents_threads() -> None:
    """The verifier threads belong to the process that started them: a child forked
    after they started (its copy of the pool has no threads) verifies its batches on
    the thread that waits, and gets every verdict."""
    signing = SigningKey(bytes(range(32)))
    triples = [(bytes(signing.verify_key), m, signing.sign(m).signature) for m in (b"a", b"b")]
    triples.append((triples[0][0], b"c", triples[0][2]))
    keys, messages, signatures = (list(column) for column in zip(*triples, strict=True))
    assert Ed25519Batch(keys, messages, signatures, 2).wait() == b"\x01\x01\x00"
    child = os.fork()
    if child == 0:  # (no pytest machinery in the child: its exit status is the verdict)
        copied = ed25519_threads()[2]  # offers the parent's threads had not taken yet
        ok = all(
            Ed25519Batch(keys * 50, messages * 50, signatures * 50, 2).wait()
            == b"\x01\x01\x00" * 50
            for _ in range(5)
        )
        # It offered nothing to the pool it copied (no thread there would ever take it).
        os._exit(0 if ok and ed25519_threads()[2] == copied else 1)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked child hung verifying")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(done[1]) == 0
