"""Owner keys: an item owner's Ed25519 key pair in a file of mode 0600, and its public half.

An owner key names no one: the ledger knows it only by its public key and fingerprint
(``domain.ownership.fingerprint``). ``assay owner keygen`` makes one; the page makes its own
with WebCrypto and keeps it in the browser.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey

from domain.ownership import fingerprint
from streams.keys import KeyFileError, exposed_secret, write_private

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
        payload = {
            "type": OWNER_KEY_FILE_TYPE,
            "seed": base64.b64encode(bytes(self.signing_key)).decode(),
            "public_key": self.public_key_hex,
        }
        write_private(path, json.dumps(payload, indent=2).encode() + b"\n")

    @classmethod
    def load(cls, path: Path) -> OwnerKey:
        problem = exposed_secret(path)
        if problem:
            raise KeyFileError(problem)
        try:
            data = json.loads(path.read_bytes())
            if data.get("type") != OWNER_KEY_FILE_TYPE:
                raise KeyFileError(f"{path} is not an Assay owner key ({OWNER_KEY_FILE_TYPE})")
            seed = base64.b64decode(data["seed"], validate=True)
            return cls(SigningKey(seed), source=path)
        except (OSError, ValueError, KeyError, TypeError) as e:
            if isinstance(e, KeyFileError):
                raise
            raise KeyFileError(f"cannot read owner key {path}: {e}") from None
