"""Owner keys: an item owner's Ed25519 key pair in a file of mode 0600, and its public half.

An owner key names no one: the ledger knows it only by its public key and fingerprint
(``domain.ownership.fingerprint``). ``assay owner keygen`` makes one; the page makes its own
with WebCrypto and keeps it in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey

from domain.owner_statement import fingerprint
from streams.keys import read_key_file, write_key_file

OWNER_KEY_FILE_TYPE = "assay-owner-key-v1"


@dataclass(frozen=True)
class OwnerKey:
    signing_key: SigningKey
    source: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def generate(cls) -> OwnerKey:
        return cls(SigningKey.generate())

    @property
    def public_key_hex(self) -> str:
        return bytes(self.signing_key.verify_key).hex()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key_hex)

    def sign(self, message: bytes) -> bytes:
        return self.signing_key.sign(message).signature

    def save(self, path: Path) -> None:
        write_key_file(path, OWNER_KEY_FILE_TYPE, self.signing_key, {})

    @classmethod
    def load(cls, path: Path) -> OwnerKey:
        return cls(read_key_file(path, OWNER_KEY_FILE_TYPE, "owner")[1], source=path)
