"""Personal data as salted commitments: the ledger keeps a digest, never the value.

A field that can identify a person (``PERSONAL_FIELDS``) is written into a custody event as
its commitment: ``digest = SHA-256(salt ‖ UTF-8(value))`` with a fresh random salt of 16
bytes (128 bits) per field, as lowercase hex. The *disclosure* — salt, field name and
value — lives apart, in a deletable store (``ledger/disclosures.py``); it is encoded in the
style of RFC 9901's disclosures, ``base64url(JSON [salt_b64url, name, value])`` without
padding. Whoever holds a disclosure can show that it matches the anchored digest; once it
is erased the digest reveals nothing (docs/privacy.md is the normative text).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

#: Fields of a custody event that may name a person: only ever committed on new events.
PERSONAL_FIELDS = frozenset({"buyer_ref", "owner_label", "contact"})
SALT_BYTES = 16
_DIGEST = re.compile(r"[0-9a-f]{64}")


def digest_of(salt: bytes, value: str) -> str:
    if len(salt) < SALT_BYTES:
        raise ValueError(f"a salt is at least {SALT_BYTES} bytes")
    return hashlib.sha256(salt + value.encode("utf-8")).hexdigest()


def check_digest(name: str, digest: str) -> None:
    if name not in PERSONAL_FIELDS:
        raise ValueError(f"{name!r} is not a personal field ({', '.join(sorted(PERSONAL_FIELDS))})")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"the commitment to {name} is 64 lowercase hex digits (SHA-256)")


_SALT_HEX = re.compile(r"(?:[0-9a-f]{2}){16,64}")


def check_claim_commitment(kind: str, salt: str | None, digest: str | None) -> None:
    """A sale's claim-code commitment: salt (16 to 64 bytes) and digest, in lowercase hex,
    both or neither, on a ``retail_selling`` only."""
    if kind != "retail_selling":
        raise ValueError(f"a claim-code commitment belongs to a retail_selling, not {kind}")
    if salt is None or not _SALT_HEX.fullmatch(salt):
        raise ValueError("claim_salt is 16 to 64 bytes in lowercase hex")
    if digest is None or not _DIGEST.fullmatch(digest):
        raise ValueError("claim_digest is 64 lowercase hex digits (SHA-256)")


def claim_commitment(code: str) -> tuple[str, str]:
    """``(salt hex, digest hex)`` committing to a claim code, with a fresh salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    return salt.hex(), digest_of(salt, code)


#: RFC 4648 base32: no 0, 1, 8 or 9, so a code read aloud or typed has none to confuse.
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
#: What a typed digit most likely meant (docs/custody-rules.md, "the claim code").
_TYPED = str.maketrans({"0": "O", "1": "I", "8": "B"})
_SPACE = " \t\n\r\f\v"
_CODE_CHARS = 26  # ceil(128 / 5)
_GROUP = 4


def new_claim_code() -> str:
    """A one-time claim code for a receipt: 128 random bits in base32 (RFC 4648, no
    padding), 26 characters in groups of four joined by ``-``, e.g. ``MFRG-GZDF-…-QA``.
    It never begins with ``-`` (a command line takes it as a value) and reads aloud."""
    chars = base64.b32encode(secrets.token_bytes(SALT_BYTES)).decode("ascii").rstrip("=")
    return _grouped(chars)


def typed_claim_code(typed: str) -> str:
    """The claim code a buyer meant. A code of :func:`new_claim_code`'s form typed in any
    case, with or without its dashes, with ASCII spaces, or with 0/1/8 for O/I/B, is
    written back in its printed form; anything else (a code of an earlier version: 22
    characters of base64url) is kept as typed, less ASCII space at either end. The code is
    committed as printed, so a claim must carry it so. The page's copy of this rule is
    ``typedClaimCode`` in server/static/page-owner.js, held to this one by
    tests/server/test_page_owner_actions.py."""
    bare = "".join(c for c in typed if c not in _SPACE and c != "-")
    if not bare.isascii():
        return typed.strip(_SPACE)
    bare = bare.upper().translate(_TYPED)
    if len(bare) != _CODE_CHARS or not set(bare) <= _BASE32:
        return typed.strip(_SPACE)
    return _grouped(bare)


def _grouped(chars: str) -> str:
    return "-".join(chars[i : i + _GROUP] for i in range(0, len(chars), _GROUP))


@dataclass(frozen=True)
class Disclosure:
    """What opens one commitment: the salt, the field's name and its value."""

    salt: bytes
    name: str
    value: str

    @classmethod
    def new(cls, name: str, value: str) -> Disclosure:
        check_digest(name, "0" * 64)
        return cls(secrets.token_bytes(SALT_BYTES), name, value)

    @property
    def digest(self) -> str:
        return digest_of(self.salt, self.value)

    def opens(self, digest: str) -> bool:
        return hmac.compare_digest(self.digest, digest)

    def encode(self) -> str:
        """``base64url(JSON [salt, name, value])``, unpadded (RFC 9901 §4.2.1 style)."""
        array = [_b64(self.salt), self.name, self.value]
        text = json.dumps(array, ensure_ascii=False, separators=(",", ":"))
        return _b64(text.encode("utf-8"))

    @classmethod
    def decode(cls, text: str) -> Disclosure:
        try:
            array = json.loads(_unb64(text))
            salt_text, name, value = array
            if not all(isinstance(x, str) for x in array):
                raise ValueError("not three strings")
            salt = _unb64(salt_text)
        except (ValueError, TypeError) as e:
            raise ValueError(f"not a disclosure: {e}") from None
        if len(salt) < SALT_BYTES:
            raise ValueError(f"a disclosure's salt is at least {SALT_BYTES} bytes")
        check_digest(name, "0" * 64)
        return cls(salt, name, value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
