"""Signed checkpoints: the chain head as a C2SP signed note (c2sp.org/signed-note).

A checkpoint note looks like::

    assay.example/custody-log
    42
    <base64 of the 32-byte root hash>

    — assay.example/custody-log <base64(4-byte key id || 64-byte Ed25519 signature)>

The body is the C2SP tlog-checkpoint layout with *size* the number of blocks (head height
+ 1). The *root hash* of a version 2 checkpoint is the block log's tree head, the RFC 9162
MTH of block hashes 0..size-1 (:mod:`anchoring.logtree`), so C2SP witnesses can check
consistency between checkpoints; that of a version 1 checkpoint, which chains of version 1
blocks still sign and bundle versions 1 and 2 carry, is the head block's hash. The note
does not say which: the document carrying it does (docs/proof-bundle.md §11). In this
module ``Checkpoint.head_hash`` is the root line either way. The Ed25519 signature covers
the body bytes including their final newline. The key id is
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``. Witnesses' cosignature lines
follow the log's own in the same note; opening it ignores them.

Key texts use the Go ``golang.org/x/mod/sumdb/note`` formats, so its tools interoperate:

* verifier key: ``<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>``
* signer key:   ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>``

(``anchoring.keyfiles`` reads and writes them as files.)

Opening is strict: the body is exactly three lines (no extension lines), the size is
decimal without sign or leading zeros, base64 must be canonical standard base64 with
padding, and nothing may follow the last signature line. Signature lines from other keys
are ignored, as the spec requires; a line that claims the pinned key's name and id but
does not verify rejects the whole note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import NoReturn

from nacl.signing import SigningKey

from anchoring.errors import CheckpointError, KeyFileError
from streams.ed25519 import PublicKey, UnusableKey

ALG_ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
KEY_ID_SIZE = 4
HASH_SIZE = 32
MAX_NOTE_BYTES = 1 << 20
# The spec asks verifiers to accept at least 16; Go's note package stops at 100.
MAX_SIGNATURES = 100
MAX_SIZE = 2**53 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,15}")
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_ORIGIN_CONTROL = re.compile("[\x00-\x1f]")
# Every byte but the control characters other than newline: what translate deletes from a
# note's UTF-8 to leave those (in UTF-8 these bytes stand only for themselves).
_NOT_NOTE_CONTROL = bytes(b for b in range(256) if not 0x00 <= b <= 0x1F or b == 0x0A)


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], the C2SP recommended key id."""
    material = name.encode("utf-8") + b"\n" + ALG_ED25519 + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space, no ``+`` and (our addition) no control character."""
    if name.isascii() and name.isprintable():  # 0x20..0x7E: only the space is to refuse
        return bool(name) and "+" not in name and " " not in name
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in name)
        and _is_utf8(name)
    )


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    #: The root line: the head block's hash (version 1) or the log's tree head (version 2).
    head_hash: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not _valid_origin(self.origin):
            _bad_format(f"origin {self.origin!r} must be non-empty text without control chars")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            _bad_format(f"size must be an integer, got {type(self.size).__name__}")
        if not 1 <= self.size <= MAX_SIZE:
            # A checkpoint names a head block, so there is at least one.
            _bad_format(f"size {self.size} is outside 1..2**53-1")
        if not isinstance(self.head_hash, bytes) or len(self.head_hash) != HASH_SIZE:
            _bad_format(f"head hash must be {HASH_SIZE} bytes")

    def body(self) -> bytes:
        """The signed note text: origin, size and base64 head hash, one per line."""
        head = base64.b64encode(self.head_hash).decode("ascii")
        return f"{self.origin}\n{self.size}\n{head}\n".encode()

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Strictly parse ``body()`` output back; ``checkpoint_format`` otherwise."""
        if not text.endswith("\n"):
            _bad_format("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) != 3:
            _bad_format(f"checkpoint body must have 3 lines, has {len(lines)}")
        origin, size_text, head_text = lines
        if not _DECIMAL.fullmatch(size_text):
            _bad_format(f"size {size_text!r} is not a decimal without sign or leading zeros")
        head = b64decode(head_text)
        if head is None or len(head) != HASH_SIZE:
            _bad_format("root hash line is not canonical base64 of 32 bytes")
        return cls(origin, int(size_text), head)


@dataclass(frozen=True, repr=False)
class Verifier:
    """A pinned public key: the name, key id and Ed25519 key a signature must match."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not valid_key_name(self.name):
            raise KeyFileError("key_file", f"{self.name!r} is not a valid key name")
        try:  # the rules of docs/proof-bundle.md §4.8: 32 bytes, canonical, not small order
            PublicKey(self.public_key)
        except UnusableKey as e:
            raise KeyFileError("key_file", f"unusable platform key: {e}") from None

    @cached_property  # (frozen: computed from the fields, once)
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @cached_property
    def _key(self) -> PublicKey:
        return PublicKey(self.public_key)

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        """Parse ``<name>+<8 hex key id>+<base64(0x01 || public key)>``."""
        # Only the first two '+' separate fields: base64 key material may contain '+'.
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise KeyFileError("key_file", "verifier key must be <name>+<key id>+<key>")
        name, id_hex, key_text = parts
        verifier = cls(name, _decode_key(key_text, "verifier"))
        _check_key_id(id_hex, verifier.key_id)
        return verifier

    def to_text(self) -> str:
        key = base64.b64encode(ALG_ED25519 + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{key}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        return self._key.verify(message, signature)

    def __repr__(self) -> str:
        return f"Verifier({self.to_text()!r})"


class Signer:
    """The platform's checkpoint signing key; its repr never shows the seed."""

    __slots__ = ("_key_id", "_name", "_public_key", "_signing_key")

    def __init__(self, name: str, signing_key: SigningKey) -> None:
        if not isinstance(name, str) or not valid_key_name(name):
            raise KeyFileError("key_file", f"{name!r} is not a valid key name")
        self._name = name
        self._signing_key = signing_key
        self._public_key = bytes(signing_key.verify_key)
        self._key_id = key_id(name, self._public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise KeyFileError("key_file", "an Ed25519 seed is 32 bytes")
        return cls(name, SigningKey(seed))

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, SigningKey.generate())

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``."""
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise KeyFileError("key_file", f"signer key must start with {PRIVATE_KEY_PREFIX}")
        parts = text[len(PRIVATE_KEY_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise KeyFileError("key_file", "signer key must be PRIVATE+KEY+<name>+<key id>+<seed>")
        name, id_hex, seed_text = parts
        signer = cls.from_seed(name, _decode_key(seed_text, "signer"))
        _check_key_id(id_hex, signer.key_id)
        return signer

    def to_text(self) -> str:
        seed = base64.b64encode(ALG_ED25519 + bytes(self._signing_key)).decode("ascii")
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{seed}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def verifier_text(self) -> str:
        return self.verifier().to_text()

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signing_key.sign(message).signature)

    def __repr__(self) -> str:
        return f"Signer({self.name!r}, key_id={self.key_id.hex()})"


def sign_note(text: str, signer: Signer) -> str:
    """A C2SP signed note: ``text``, a blank line, and ``signer``'s signature line."""
    if not text.endswith("\n") or note_bytes(text) is None:
        raise ValueError("note text must be UTF-8 lines without control characters, ending in \\n")
    message = text.encode("utf-8")
    signature = base64.b64encode(signer.key_id + signer.sign(message)).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {signature}\n"


def open_note(note_text: str, verifier: Verifier) -> str:
    """Verify a C2SP signed note against the pinned ``verifier``; return its text.

    Lines by other keys are ignored (witnesses, rotated keys). Raises
    :class:`CheckpointError`: ``checkpoint_format`` for a malformed note,
    ``checkpoint_signature`` when no line by the pinned key (same name *and* key id)
    verifies, or when one of them does not.
    """
    text, signatures = split_note(note_text)
    message = text.encode("utf-8")
    verified = False
    for name, claimed_id, signature in signatures:
        if name != verifier.name or claimed_id != verifier.key_id:
            continue
        if not verifier.verify(message, signature):
            raise CheckpointError(
                "checkpoint_signature",
                f"the signature by {verifier.name} (key {verifier.key_id.hex()}) "
                "does not verify over this note",
            )
        verified = True
    if not verified:
        found = sorted({f"{name} ({claimed.hex()})" for name, claimed, _ in signatures})
        raise CheckpointError(
            "checkpoint_signature",
            f"no signature by {verifier.name} (key {verifier.key_id.hex()}); "
            f"the note is signed by {', '.join(found)}",
        )
    return text


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The full signed note: body, blank line, one signature line."""
    return sign_note(checkpoint.body().decode("utf-8"), signer)


def open_checkpoint(note_text: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify the note against the pinned ``verifier`` and return the checkpoint it signs.

    The body is parsed only once its signature verified. Raises :class:`CheckpointError`
    as :func:`open_note` does, ``checkpoint_format`` for a signed but malformed body, and
    ``checkpoint_origin`` when ``origin`` is given and differs.
    """
    checkpoint = Checkpoint.parse_body(open_note(note_text, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            "checkpoint_origin",
            f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}",
        )
    return checkpoint


def split_note(
    note: object, max_bytes: int = MAX_NOTE_BYTES
) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """C2SP signed-note framing: (text incl. final newline, [(name, key id, signature)]);
    ``checkpoint_format`` if malformed or larger than ``max_bytes`` as UTF-8."""
    if not isinstance(note, str):
        _bad_format(f"a note is text, not {type(note).__name__}")
    raw_note = note_bytes(note)
    if raw_note is None:
        _bad_format("note is not UTF-8 text, or has a control character other than newline")
    if len(raw_note) > max_bytes:
        _bad_format(f"note is larger than {max_bytes} bytes")
    split = note.rfind("\n\n")
    if split < 0:
        _bad_format("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        _bad_format("signature block must be non-empty and end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        _bad_format(f"note has more than {MAX_SIGNATURES} signatures")
    return text, [signature_line(line, number) for number, line in enumerate(lines, 1)]


def signature_line(line: str, number: int = 1) -> tuple[str, bytes, bytes]:
    """(name, key id, signature) of a ``— <name> <base64>`` line (without its newline),
    the ``number``-th of its note; ``checkpoint_format`` if it is not one."""
    if not line.startswith(SIGNATURE_PREFIX):
        _bad_format(f"signature line {number} does not start with an em dash and a space")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    raw = b64decode(encoded)
    if not valid_key_name(name) or raw is None or len(raw) <= KEY_ID_SIZE:
        _bad_format(f"signature line {number} is not '— <name> <base64 signature>'")
    return name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]


def b64decode(text: str) -> bytes | None:
    """Standard padded base64, canonical only (one spelling per byte string); else None."""
    if type(text) is str and text.isascii():
        # Text that is the encoding of what binascii reads from it is canonical: the
        # careful decoding below would give the same bytes.
        try:
            raw = binascii.a2b_base64(text)
        except binascii.Error:
            raw = None
        if raw is not None and text and binascii.b2a_base64(raw, newline=False) == text.encode():
            return raw
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not text or base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _decode_key(text: str, what: str) -> bytes:
    raw = b64decode(text)
    if raw is None or len(raw) != 1 + 32:
        raise KeyFileError("key_file", f"{what} key material is not base64 of 33 bytes")
    if raw[:1] != ALG_ED25519:
        raise KeyFileError("key_file", f"{what} key type {raw[0]:#04x} is not Ed25519 (0x01)")
    return raw[1:]


def _check_key_id(id_hex: str, computed: bytes) -> None:
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise KeyFileError("key_file", f"key id {id_hex!r} is not 8 hex digits")
    if bytes.fromhex(id_hex) != computed:
        raise KeyFileError(
            "key_file", f"key id {id_hex} does not match the key (expected {computed.hex()})"
        )


def _valid_origin(origin: str) -> bool:
    return bool(origin) and _is_utf8(origin) and _ORIGIN_CONTROL.search(origin) is None


def note_bytes(note: str) -> bytes | None:
    """A signed note's UTF-8 bytes, or None if it is not UTF-8 text (a lone surrogate) or
    has a control character other than newline. One pass over the bytes: in UTF-8 the
    bytes of control characters stand only for themselves."""
    try:
        raw = note.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from surrogateescape decoding
        return None
    return None if raw.translate(None, _NOT_NOTE_CONTROL) else raw


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from surrogateescape decoding
        return False
    return True


def _bad_format(message: str) -> NoReturn:
    raise CheckpointError("checkpoint_format", message)
