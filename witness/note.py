"""C2SP signed notes with several signature lines, and the tlog-checkpoint body they carry.

:mod:`anchoring.checkpoint` opens a note against one pinned key. A witness and a policy
verifier see notes signed by a log *and* cosigned by witnesses, and must keep, compare,
drop and merge individual lines, so this module gives the note as data::

    >>> note = parse_note("example.com/log\\n1\\n" + "A" * 43 + "=\\n\\n— k AAAAAAAA\\n")
    >>> note.signatures[0].name, note.signatures[0].key_id.hex()
    ('k', '00000000')

The framing is :func:`anchoring.checkpoint.split_note`'s (one reading of every note):
UTF-8 without control characters but newline, at most :data:`MAX_NOTE_BYTES` here and
``MAX_SIGNATURES`` lines, canonical padded base64, key names without spaces or ``+``.

:class:`TreeHead` is the C2SP tlog-checkpoint body of a log of opaque entries: origin,
size (0 allowed: the empty tree), RFC 6962 root hash, then optional extension lines.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from anchoring.checkpoint import (
    HASH_SIZE,
    MAX_SIGNATURES,
    SIGNATURE_PREFIX,
    b64decode,
    signature_line,
    split_note,
)
from anchoring.errors import CheckpointError
from witness.errors import NoteError

#: A witness takes notes of any log, up to this size (the platform's own may be larger).
MAX_NOTE_BYTES = 64 * 1024
MAX_TREE_SIZE = 2**64 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # control characters but newline


@dataclass(frozen=True)
class SignatureLine:
    """One ``— <name> base64(key id || signature)`` line, without its newline."""

    name: str
    key_id: bytes
    signature: bytes

    def text(self) -> str:
        """The line as it appears in a note, ending in a newline."""
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"

    @property
    def key(self) -> tuple[str, bytes]:
        """(name, key id): what identifies the signing key and its algorithm."""
        return (self.name, self.key_id)


@dataclass(frozen=True)
class Note:
    """A signed note: ``text`` (ending in a newline) and its signature lines, in order."""

    text: str
    signatures: tuple[SignatureLine, ...]

    def to_text(self) -> str:
        return self.text + "\n" + "".join(line.text() for line in self.signatures)


def parse_note(note: object) -> Note:
    """Split a signed note into its text and signature lines; :class:`NoteError` if malformed."""
    try:
        text, lines = split_note(note, MAX_NOTE_BYTES)
    except CheckpointError as e:
        raise NoteError(e.message) from None
    return Note(text, tuple(SignatureLine(*line) for line in lines))


def parse_signature_line(line: str) -> SignatureLine:
    """One signature line, with or without its final newline."""
    try:
        return SignatureLine(*signature_line(line[:-1] if line.endswith("\n") else line))
    except CheckpointError as e:
        raise NoteError(e.message) from None


def merge_signatures(note_text: str, lines: list[str] | tuple[str, ...]) -> str:
    """``note_text`` with the signature ``lines`` added: one note, one line per key.

    Lines keep the note's order, new ones after (as Go's ``note.Sign`` writes them). A new
    line from a key already present replaces the old one (a fresher cosignature); among
    the new lines the first per key wins; an identical line is never repeated. Nothing is
    verified here: verify with :func:`witness.policy.evaluate` or a witness key.

    >>> merge_signatures("a\\n\\n— log AAAAAAAA\\n", ["— w1 AQIDBAU=\\n"])
    'a\\n\\n— log AAAAAAAA\\n— w1 AQIDBAU=\\n'
    """
    note = parse_note(note_text)
    added: dict[tuple[str, bytes], SignatureLine] = {}
    for line in lines:
        parsed = parse_signature_line(line)
        added.setdefault(parsed.key, parsed)
    kept = [line for line in note.signatures if line.key not in added]
    merged = kept + list(added.values())
    if len(merged) > MAX_SIGNATURES:
        raise NoteError(f"a merged note would have more than {MAX_SIGNATURES} signatures")
    return Note(note.text, tuple(merged)).to_text()


@dataclass(frozen=True)
class TreeHead:
    """A C2SP tlog-checkpoint body: ``origin``, ``size``, ``root_hash``, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or _CONTROL.search(self.origin) or "\n" in self.origin:
            raise NoteError("origin must be a non-empty line")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"tree size {self.size!r} is outside 0..2**64-1")
        if len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"root hash must be {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("extension lines must be non-empty single lines")

    def body(self) -> str:
        """The note text: origin, size, base64 root hash, extensions; each line ends in \\n."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, text: str) -> TreeHead:
        """Strictly parse a checkpoint body (the note text, final newline included)."""
        if not text.endswith("\n"):
            raise NoteError("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"checkpoint body must have at least 3 lines, has {len(lines)}")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
            raise NoteError(f"tree size {size_text!r} is not a decimal without leading zeros")
        root = b64decode(root_text)
        if root is None or len(root) != HASH_SIZE:
            raise NoteError("root hash line is not canonical base64 of 32 bytes")
        return cls(origin, int(size_text), root, tuple(extensions))


def note_origin(note_text: str) -> str:
    """The first line of a note: the log's origin, read before any signature is checked."""
    return note_text.partition("\n")[0]
