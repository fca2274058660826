"""The texts of C2SP tlog-witness ``add-checkpoint``: request, 409 size body, 200 lines.

Request body (every line ends in a newline)::

    old <size the witness last cosigned, decimal, no leading zeros>
    <0..63 lines: the RFC 6962 consistency proof, one base64 hash each>
    <empty line>
    <the signed checkpoint note>

    >>> note = "example.com/log\\n1\\n" + "A" * 43 + "=\\n\\n— example.com/log AAAAAAAA\\n"
    >>> request = AddCheckpoint(0, (), note)
    >>> parse_add_checkpoint(request.encode()) == request
    True
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from anchoring.checkpoint import HASH_SIZE, b64decode
from witness.note import MAX_NOTE_BYTES, MAX_TREE_SIZE

MAX_PROOF_LINES = 63
#: A request is its old-size line, at most 63 proof lines and one note.
MAX_REQUEST_BYTES = MAX_NOTE_BYTES + 4096
#: Content type of a 409's body: the witness's size, decimal, newline.
SIZE_CONTENT_TYPE = "text/x.tlog.size"
ADD_CHECKPOINT_PATH = "/add-checkpoint"

_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,19})")
_SIZE_BODY = re.compile(rb"(0|[1-9][0-9]{0,19})\n")


class ProtocolError(ValueError):
    """A request or response is not in the tlog-witness format (a 400 for a request)."""


@dataclass(frozen=True)
class AddCheckpoint:
    """One ``add-checkpoint`` request: old size, consistency proof, signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}\n"]
        lines += [base64.b64encode(node).decode("ascii") + "\n" for node in self.proof]
        return ("".join(lines) + "\n" + self.note).encode("utf-8")


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body strictly; :class:`ProtocolError` says what is wrong."""
    if len(body) > MAX_REQUEST_BYTES:
        raise ProtocolError(f"request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("request is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise ProtocolError("request has no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD_LINE.fullmatch(lines[0])
    if match is None or int(match.group(1)) > MAX_TREE_SIZE:
        raise ProtocolError("first line must be 'old <size>', decimal without leading zeros")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for number, line in enumerate(lines[1:], 1):
        node = b64decode(line)
        if node is None or len(node) != HASH_SIZE:
            raise ProtocolError(f"proof line {number} is not base64 of a {HASH_SIZE}-byte hash")
        proof.append(node)
    if not note:
        raise ProtocolError("request has no checkpoint after the empty line")
    return AddCheckpoint(int(match.group(1)), tuple(proof), note)


def encode_size(size: int) -> bytes:
    """A 409 body: the size the witness last cosigned."""
    return b"%d\n" % size


def parse_size(body: bytes) -> int:
    """Read a 409 body; :class:`ProtocolError` if it is not ``<decimal>\\n``."""
    match = _SIZE_BODY.fullmatch(body)
    if match is None:
        raise ProtocolError(f"409 body {body[:40]!r} is not a tree size")
    return int(match.group(1))


def parse_cosignature_lines(body: bytes) -> list[str]:
    """Split a 200 body into its signature lines (each kept with its newline)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("response is not UTF-8") from None
    if not text.endswith("\n"):
        raise ProtocolError("response must be newline-terminated signature lines")
    lines = [line + "\n" for line in text[:-1].split("\n")]
    if not all(line.startswith("\u2014 ") for line in lines):
        raise ProtocolError("response has a line that is not a note signature")
    return lines
