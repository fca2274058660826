"""C2SP tlog-cosignature, Ed25519 ``cosignature/v1``: witness keys, lines, verification.

A witness states "as of time T, the largest consistent tree I have seen for this origin
has this root" by signing::

    cosignature/v1\\n
    time <T, decimal, no leading zeros>\\n
    <the whole checkpoint body, final newline included>

and publishing the note signature line
``— <witness name> base64(key id || u64 big-endian T || 64-byte Ed25519 signature)``.
The key id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``, and the witness's
verifier key (vkey) is ``<name>+<8 hex key id>+base64(0x04 || public key)``.

The private key file is the ordinary signed-note signer key of
:mod:`anchoring.checkpoint` (``PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)``), as Go's
``note.GenerateKey`` writes it and transparency-dev's witness reads it: the algorithm
byte of the *cosignature* is chosen by the verifier key, not by the key file.

    >>> signer = WitnessSigner.from_seed("witness.example/w1", bytes(32))
    >>> body = "example.com/log\\n1\\n" + "A" * 43 + "=\\n"
    >>> line = signer.cosign(body, 1700000000)
    >>> signer.verifier().verify(body, line)
    1700000000
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from anchoring.checkpoint import KEY_ID_SIZE, Signer, b64decode, valid_key_name
from anchoring.errors import KeyFileError
from streams.ed25519 import PublicKey, UnusableKey
from witness.errors import CosignatureError, NoteError
from witness.note import SignatureLine, parse_signature_line

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
HEADER = b"cosignature/v1\n"
TIMESTAMP_SIZE = 8
ED25519_SIGNATURE_SIZE = 64
#: The spec caps timestamps at 2**63 - 1 (they are POSIX seconds).
MAX_TIMESTAMP = 2**63 - 1

#: Seconds a cosignature's timestamp may be ahead of the verifier's clock (clock skew).
FUTURE_TOLERANCE_SECONDS = 300

_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
    material = name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs for checkpoint ``body`` at ``timestamp``."""
    return HEADER + b"time %d\n" % timestamp + body.encode("utf-8")


@dataclass(frozen=True, repr=False)
class WitnessVerifier:
    """A witness's public key for ``cosignature/v1``: its name, key id and Ed25519 key."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)
    _verify_key: PublicKey = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not valid_key_name(self.name):
            raise CosignatureError("cosignature_key", f"{self.name!r} is not a valid key name")
        try:  # 32 bytes, canonical, not of small order (docs/proof-bundle.md §4.8)
            key = PublicKey(self.public_key)
        except UnusableKey as e:
            raise CosignatureError("cosignature_key", f"unusable witness key: {e}") from None
        object.__setattr__(self, "key_id", cosignature_key_id(self.name, self.public_key))
        object.__setattr__(self, "_verify_key", key)

    @classmethod
    def from_text(cls, vkey: str) -> WitnessVerifier:
        """Parse ``<name>+<8 hex key id>+base64(0x04 || 32-byte public key)``."""
        parts = vkey.strip().split("+", 2)  # base64 may contain '+': only two separators
        if len(parts) != 3:
            raise CosignatureError("cosignature_key", "a vkey is <name>+<key id>+<key>")
        name, id_hex, key_text = parts
        raw = b64decode(key_text)
        if raw is None or len(raw) != 33:
            raise CosignatureError("cosignature_key", "vkey material is not base64 of 33 bytes")
        if raw[0] != ALG_COSIGNATURE_V1:
            raise CosignatureError(
                "cosignature_key",
                f"vkey type {raw[0]:#04x} is not cosignature/v1 (0x04)",
            )
        verifier = cls(name, raw[1:])
        if not _KEY_ID_HEX.fullmatch(id_hex) or bytes.fromhex(id_hex) != verifier.key_id:
            raise CosignatureError(
                "cosignature_key",
                f"vkey id {id_hex!r} does not match the key (expected {verifier.key_id.hex()})",
            )
        return verifier

    def to_text(self) -> str:
        material = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def matches(self, line: SignatureLine) -> bool:
        """Whether ``line`` claims this key (same name *and* key id)."""
        return line.name == self.name and line.key_id == self.key_id

    def verify(self, body: str, line: SignatureLine | str) -> int:
        """Check ``line`` cosigns checkpoint ``body``; return its timestamp.

        Raises :class:`CosignatureError`: ``cosignature_key`` if the line is by another
        key, ``cosignature_format`` if it cannot be a cosignature/v1 (length, timestamp
        above 2**63-1), ``cosignature_signature`` if the signature does not verify.
        """
        if isinstance(line, str):
            try:
                line = parse_signature_line(line)
            except NoteError as e:
                raise CosignatureError("cosignature_format", str(e)) from None
        if not self.matches(line):
            raise CosignatureError(
                "cosignature_key",
                f"line by {line.name} ({line.key_id.hex()}) is not by "
                f"{self.name} ({self.key_id.hex()})",
            )
        raw = line.signature
        if len(raw) != TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
            raise CosignatureError(
                "cosignature_format",
                f"a cosignature/v1 is {TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE} bytes "
                f"after the key id, this one {len(raw)}",
            )
        (timestamp,) = struct.unpack(">Q", raw[:TIMESTAMP_SIZE])
        if timestamp > MAX_TIMESTAMP:
            raise CosignatureError("cosignature_format", f"timestamp {timestamp} exceeds 2**63-1")
        if not self._verify_key.verify(signed_message(body, timestamp), raw[TIMESTAMP_SIZE:]):
            raise CosignatureError(
                "cosignature_signature",
                f"cosignature by {self.name} at time {timestamp} does not verify",
            )
        return int(timestamp)

    def __repr__(self) -> str:
        return f"WitnessVerifier({self.to_text()!r})"


def check_cosignature(
    verifier: WitnessVerifier,
    body: str,
    line: SignatureLine | str,
    *,
    now: float,
    future_tolerance: float = FUTURE_TOLERANCE_SECONDS,
) -> int:
    """:meth:`WitnessVerifier.verify`, and refuse a timestamp after ``now + future_tolerance``.

    Raises :class:`CosignatureError` as ``verify`` does, or ``cosignature_future``.
    """
    timestamp = verifier.verify(body, line)
    if timestamp > now + future_tolerance:
        raise CosignatureError(
            "cosignature_future",
            f"cosignature by {verifier.name} is dated {timestamp}, "
            f"{timestamp - int(now)} s after now (tolerance {future_tolerance:g} s)",
        )
    return timestamp


class WitnessSigner:
    """A witness's signing key; its repr never shows the seed."""

    __slots__ = ("_key", "_name", "_verifier")

    def __init__(self, name: str, signing_key: SigningKey) -> None:
        if not isinstance(name, str) or not valid_key_name(name):
            raise KeyFileError("key_file", f"{name!r} is not a valid key name")
        self._name = name
        self._key = signing_key
        self._verifier = WitnessVerifier(name, bytes(signing_key.verify_key))

    @classmethod
    def from_text(cls, skey: str) -> WitnessSigner:
        """Parse a signed-note signer key, ``PRIVATE+KEY+<name>+<id>+base64(alg || seed)``.

        The algorithm byte may be 0x01 (Go's ``note.GenerateKey``) or 0x04, as
        transparency-dev's ``NewSignerForCosignatureV1`` accepts both.
        """
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFileError("key_file", "signer key must be PRIVATE+KEY+<name>+<id>+<seed>")
        _, _, name, id_hex, seed_text = parts
        raw = b64decode(seed_text)
        if raw is None or len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise KeyFileError("key_file", "signer key material is not base64(0x01|0x04 || seed)")
        signer = Signer.from_seed(name, raw[1:])
        if id_hex not in (signer.key_id.hex(), cosignature_key_id(name, signer.public_key).hex()):
            raise KeyFileError("key_file", f"key id {id_hex!r} does not match the key")
        return cls(name, SigningKey(raw[1:]))

    @classmethod
    def from_signer(cls, signer: Signer) -> WitnessSigner:
        """The cosigning view of a signed-note key (e.g. one read by ``read_signer_key``)."""
        return cls.from_text(signer.to_text())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> WitnessSigner:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise KeyFileError("key_file", "an Ed25519 seed is 32 bytes")
        return cls(name, SigningKey(seed))

    @classmethod
    def generate(cls, name: str) -> WitnessSigner:
        return cls(name, SigningKey.generate())

    @property
    def name(self) -> str:
        return self._name

    def verifier(self) -> WitnessVerifier:
        return self._verifier

    def key_file_signer(self) -> Signer:
        """The same key as a signed-note signer, to write with ``write_signer_key``."""
        return Signer(self._name, self._key)

    def cosign(self, body: str, timestamp: int) -> str:
        """The cosignature line (newline-terminated) over checkpoint ``body`` at ``timestamp``.

        ``timestamp`` is POSIX seconds, 1..2**63-1 (tlog-witness forbids zero).
        """
        if isinstance(timestamp, bool) or not 0 < timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"timestamp {timestamp!r} is outside 1..2**63-1")
        signature = self._key.sign(signed_message(body, timestamp)).signature
        raw = struct.pack(">Q", timestamp) + bytes(signature)
        return SignatureLine(self._name, self._verifier.key_id, raw).text()

    def __repr__(self) -> str:
        return f"WitnessSigner({self._name!r}, key_id={self._verifier.key_id.hex()})"
