"""Key files: the platform's signer and verifier keys on disk.

The signer key file holds the ``PRIVATE+KEY+...`` text of ``Signer.to_text`` and is created
once, mode 0600, never overwritten (nor written through a symlink), and refused on reading
if other users can get at it (``streams.keys.exposed_secret``). The verifier key file holds
the public ``Verifier.to_text`` and is replaced atomically. Every failure is a
``KeyFileError`` with step ``key_file``; the key text formats live in
``anchoring.checkpoint``.
"""

from __future__ import annotations

import os
from pathlib import Path

from anchoring.checkpoint import Signer, Verifier
from anchoring.errors import KeyFileError


def write_signer_key(path: str | os.PathLike[str], signer: Signer) -> None:
    """Create ``path`` (mode 0600) holding the signer key text; never overwrite a file."""
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL also refuses a symlink planted at the path.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError("key_file", f"{target} exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # exact mode whatever the umask
        f.write(signer.to_text() + "\n")


def read_signer_key(path: str | os.PathLike[str]) -> Signer:
    from streams.keys import exposed_secret

    problem = exposed_secret(path)
    if problem:
        raise KeyFileError("key_file", problem)
    return Signer.from_text(_read_key_text(path))


def write_verifier_key(path: str | os.PathLike[str], verifier: Verifier) -> None:
    """Write the public verifier key text (replacing any previous one atomically)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(verifier.to_text() + "\n", encoding="utf-8")
    tmp.replace(target)


def read_verifier_key(path: str | os.PathLike[str]) -> Verifier:
    return Verifier.from_text(_read_key_text(path))


def _read_key_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError("key_file", f"cannot read key file {path}: {e}") from None
