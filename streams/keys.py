"""Device keys: Ed25519 (PyNaCl) key files for scanners, created with mode 0600."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey

from streams.ed25519 import public_key_problem, signature_problem
from streams.ed25519 import verify as ed25519_verify

KEY_FILE_TYPE = "assay-device-key-v1"


class KeyFileError(ValueError):
    pass


class SignatureInvalid(ValueError):
    pass


@dataclass(frozen=True)
class DeviceKey:
    """A scanner's identity: which party's device it is, and its private signing key."""

    party_id: str
    device_id: str
    signing_key: SigningKey
    #: The key file it was loaded from (a scanner keeps its outbox beside it).
    source: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def generate(cls, party_id: str, device_id: str) -> DeviceKey:
        return cls(party_id, device_id, SigningKey.generate())

    @property
    def public_key_hex(self) -> str:
        return bytes(self.signing_key.verify_key).hex()

    def sign(self, message: bytes) -> bytes:
        return self.signing_key.sign(message).signature

    def save(self, path: Path) -> None:
        fields = {"party_id": self.party_id, "device_id": self.device_id}
        write_key_file(path, KEY_FILE_TYPE, self.signing_key, fields)

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        data, key = read_key_file(path, KEY_FILE_TYPE, "device")
        try:
            return cls(str(data["party_id"]), str(data["device_id"]), key, source=path)
        except KeyError as e:
            raise KeyFileError(f"cannot read device key {path}: no {e}") from None


def write_key_file(path: Path, kind: str, key: SigningKey, fields: dict[str, str]) -> None:
    """A key file of type ``kind`` (JSON: type, ``fields``, seed, public key), mode 0600."""
    payload = {
        "type": kind,
        **fields,
        "seed": base64.b64encode(bytes(key)).decode(),
        "public_key": bytes(key.verify_key).hex(),
    }
    write_private(path, json.dumps(payload, indent=2).encode() + b"\n")


def read_key_file(path: Path, kind: str, what: str) -> tuple[dict[str, object], SigningKey]:
    """A key file's fields and its signing key; :class:`KeyFileError` if it is exposed
    (:func:`exposed_secret`), of another type or unreadable."""
    problem = exposed_secret(path)
    if problem:
        raise KeyFileError(problem)
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("type") != kind:
            raise KeyFileError(f"{path} is not an Assay {what} key ({kind})")
        return data, SigningKey(base64.b64decode(data["seed"], validate=True))
    except (OSError, ValueError, KeyError, TypeError) as e:
        if isinstance(e, KeyFileError):
            raise
        raise KeyFileError(f"cannot read {what} key {path}: {e}") from None


def exposed_secret(path: str | os.PathLike[str]) -> str | None:
    """Why a secret key file must not be used (others may read or change it), or None.

    Like ssh, a key file with any group or other permission bit is refused: its secret may
    already be known to someone else.
    """
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None  # reading it reports the real problem
    if mode & 0o077:
        return (
            f"{path} is accessible by other users (mode {mode:04o}); a secret key must be "
            f"private: chmod 600 {path}"
        )
    return None


def write_private(path: Path, content: bytes) -> None:
    """Create a secret file readable by its owner only; never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(content)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Ed25519 under the rules of :mod:`streams.ed25519`; :class:`SignatureInvalid` if not."""
    if not ed25519_verify(public_key, message, signature):
        reason = public_key_problem(public_key) or signature_problem(signature)
        raise SignatureInvalid(reason or "signature does not match")
