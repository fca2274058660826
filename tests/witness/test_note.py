"""Signed-note framing, the C2SP checkpoint body, and merging cosignatures into one note."""

from __future__ import annotations

import base64

import pytest

from anchoring.checkpoint import Signer, open_note, sign_note
from anchoring.errors import VerificationError
from witness.cosignature import WitnessSigner
from witness.errors import NoteError
from witness.note import (
    MAX_SIGNATURES,
    TreeHead,
    merge_signatures,
    parse_note,
    parse_signature_line,
)

ROOT = base64.b64encode(bytes(range(32))).decode()
BODY = f"example.com/log\n7\n{ROOT}\n"


def test_tree_head_round_trips_and_is_strict() -> None:
    head = TreeHead.parse(BODY)
    assert (head.origin, head.size, head.root_hash) == ("example.com/log", 7, bytes(range(32)))
    assert head.body() == BODY
    extended = TreeHead.parse(BODY + "extension line\n")
    assert (
        extended.extensions == ("extension line",) and extended.body() == BODY + "extension line\n"
    )
    empty = TreeHead.parse(f"l\n0\n{ROOT}\n")
    assert empty.size == 0
    assert TreeHead.parse(f"l\n{2**64 - 1}\n{ROOT}\n").size == 2**64 - 1
    bad = [
        BODY[:-1],  # no final newline
        f"l\n07\n{ROOT}\n",
        f"l\n-1\n{ROOT}\n",
        f"l\n{2**64}\n{ROOT}\n",
        f"l\n7\n{ROOT.rstrip('=')}\n",
        f"l\n7\n{base64.b64encode(bytes(31)).decode()}\n",
        "l\n7\n",
        BODY + "\n",  # an empty extension line
    ]
    for text in bad:
        with pytest.raises(NoteError):
            TreeHead.parse(text)


def test_merge_keeps_one_line_per_key_log_first() -> None:
    log = Signer.generate("example.com/log")
    note = sign_note(BODY, log)
    w1, w2 = WitnessSigner.generate("w1.example"), WitnessSigner.generate("w2.example")
    old_w1, new_w1, line_w2 = w1.cosign(BODY, 100), w1.cosign(BODY, 200), w2.cosign(BODY, 150)

    merged = merge_signatures(note, [old_w1, line_w2])
    assert [s.name for s in parse_note(merged).signatures] == [
        "example.com/log",
        "w1.example",
        "w2.example",
    ]
    again = merge_signatures(merged, [new_w1, new_w1, line_w2])  # a fresher w1, duplicates
    lines = [s.text() for s in parse_note(again).signatures]
    assert lines[0].startswith("\u2014 example.com/log ")
    assert lines.count(new_w1) == 1 and old_w1 not in lines and lines.count(line_w2) == 1
    assert len(lines) == 3
    assert open_note(again, log.verifier()) == BODY  # the log's own verifier still opens it


def test_merge_refuses_too_many_signatures() -> None:
    note = sign_note(BODY, Signer.generate("example.com/log"))
    lines = [WitnessSigner.generate(f"w{i}.example").cosign(BODY, 1) for i in range(MAX_SIGNATURES)]
    with pytest.raises(NoteError):
        merge_signatures(note, lines)


def test_parse_note_refuses_what_the_spec_forbids() -> None:
    line = WitnessSigner.generate("w.example").cosign(BODY, 1)
    bad = [
        BODY + line,  # no blank line
        BODY + "\n",  # no signature
        BODY + "\n" + line.rstrip("\n"),  # last line unterminated
        BODY + "\n" + line.replace("\u2014", "-"),
        BODY + "\n" + line.replace("w.example", "w example"),
        BODY.replace("7", "7\r") + "\n" + line,
        BODY + "\n" + line * (MAX_SIGNATURES + 1),
    ]
    for text in bad:
        with pytest.raises(NoteError):
            parse_note(text)
    with pytest.raises(NoteError):
        parse_signature_line("\u2014 w.example AAAA\n")  # no signature after the key id


REFUSED_CHARS = [chr(c) for c in range(0x20) if c != 0x0A] + ["\ud800"]  # lone surrogate
ALLOWED_CHARS = ["\x7f", "\x85", "\u2028", "\u00e9", "\U0001f600"]


@pytest.mark.parametrize("char", REFUSED_CHARS + ALLOWED_CHARS)
def test_both_note_readers_refuse_control_characters_and_lone_surrogates(char: str) -> None:
    signer = Signer.from_seed("example.com/log", bytes([7]) * 32)
    note = sign_note(BODY, signer)
    refused = char in REFUSED_CHARS
    in_text = note.replace("example.com", f"exa{char}mple.com", 1)
    if refused:
        with pytest.raises(NoteError, match="control character"):
            parse_note(in_text)
    else:
        assert parse_note(in_text).text.startswith(f"exa{char}mple.com")
    for spoiled in (in_text, note + char + "\n"):
        with pytest.raises(VerificationError) as caught:
            open_note(spoiled, signer.verifier())  # the framing, or else the signature
        assert ("control character" in str(caught.value)) == refused
        if not refused:
            with pytest.raises(NoteError) as framing:  # a line of its own, not a signature
                parse_note(note + char + "\n")
            assert "control character" not in str(framing.value)
