from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from anchoring.checkpoint import (
    Checkpoint,
    Signer,
    Verifier,
    key_id,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)
from anchoring.errors import CheckpointError, KeyFileError, VerificationError
from anchoring.keyfiles import (
    read_signer_key,
    read_verifier_key,
    write_signer_key,
    write_verifier_key,
)

ORIGIN = "assay.example/custody-log"
HEAD = hashlib.sha256(b"head block").digest()
SEED = bytes(range(32))

# golang.org/x/mod/sumdb/note note_test.go: a key pair and the note Go signs with it.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture
def signer() -> Signer:
    return Signer.from_seed(ORIGIN, SEED)


@pytest.fixture
def note(signer: Signer) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, 42, HEAD), signer)


def step_of(note_text: str, verifier: Verifier, origin: str | None = None) -> str:
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(note_text, verifier, origin)
    return caught.value.step


# ----- format --------------------------------------------------------------------------------


def test_body_is_origin_size_and_base64_head(signer: Signer) -> None:
    body = Checkpoint(ORIGIN, 42, HEAD).body()
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(HEAD).decode()}\n".encode()


def test_signed_note_layout(signer: Signer, note: str) -> None:
    body, signature_block = note.split("\n\n")
    assert body + "\n" == Checkpoint(ORIGIN, 42, HEAD).body().decode()
    assert signature_block.startswith("\u2014 " + ORIGIN + " ")
    assert signature_block.endswith("\n") and signature_block.count("\n") == 1
    raw = base64.b64decode(signature_block.split(" ")[2])
    assert len(raw) == 4 + 64 and raw[:4] == signer.key_id


def test_round_trip(signer: Signer, note: str) -> None:
    checkpoint = open_checkpoint(note, signer.verifier(), origin=ORIGIN)
    assert checkpoint == Checkpoint(ORIGIN, 42, HEAD)


def test_key_id_is_sha256_of_name_newline_type_and_key(signer: Signer) -> None:
    material = ORIGIN.encode() + b"\n\x01" + signer.public_key
    assert signer.key_id == hashlib.sha256(material).digest()[:4]
    assert key_id(ORIGIN, signer.public_key) == signer.key_id
    assert signer.verifier().key_id == signer.key_id
    assert key_id("other.example/log", signer.public_key) != signer.key_id


def test_reproduces_the_go_sumdb_note_reference_signature() -> None:
    signer = Signer.from_text(GO_SIGNER)
    assert signer.to_text() == GO_SIGNER
    assert signer.verifier_text() == GO_VERIFIER
    assert sign_note(GO_TEXT, signer) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.from_text(GO_VERIFIER)) == GO_TEXT


def test_a_go_note_is_not_a_checkpoint() -> None:
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(GO_NOTE, Verifier.from_text(GO_VERIFIER))
    assert caught.value.step == "checkpoint_format"


# ----- who signed ----------------------------------------------------------------------------


def test_a_checkpoint_signed_by_another_key_is_rejected(note: str) -> None:
    impostor = Signer.generate(ORIGIN)  # same name, different key: a different key id
    forged = sign_checkpoint(Checkpoint(ORIGIN, 42, HEAD), impostor)
    pinned = Signer.from_seed(ORIGIN, SEED).verifier()
    assert step_of(forged, pinned) == "checkpoint_signature"
    assert step_of(note, impostor.verifier()) == "checkpoint_signature"


def test_a_line_claiming_our_key_but_not_verifying_rejects_the_note(
    signer: Signer, note: str
) -> None:
    other_body = Checkpoint(ORIGIN, 43, HEAD).body().decode()
    swapped = other_body + note[note.index("\n\n") + 1 :]  # our signature, another body
    with pytest.raises(CheckpointError, match="does not verify") as caught:
        open_checkpoint(swapped, signer.verifier())
    assert caught.value.step == "checkpoint_signature"


def test_signatures_by_unknown_keys_are_ignored(signer: Signer, note: str) -> None:
    witness = Signer.generate("witness.example/w1")
    body = Checkpoint(ORIGIN, 42, HEAD).body().decode()
    witness_line = sign_note(body, witness).split("\n\n")[1]
    for cosigned in (note + witness_line, body + "\n" + witness_line + note.split("\n\n")[1]):
        assert open_checkpoint(cosigned, signer.verifier()).size == 42
    only_witness = body + "\n" + witness_line
    with pytest.raises(CheckpointError, match="no signature by") as caught:
        open_checkpoint(only_witness, signer.verifier())
    assert caught.value.step == "checkpoint_signature"


def test_a_corrupt_signature_by_our_key_id_is_rejected_even_with_a_good_one(
    signer: Signer, note: str
) -> None:
    line = note.split("\n\n")[1]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[10] ^= 1
    bad_line = f"\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    assert step_of(note + bad_line, signer.verifier()) == "checkpoint_signature"


# ----- tampering and strictness --------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n42\n", "\n43\n"),
        ("\n42\n", "\n042\n"),
        (ORIGIN + "\n", "assay.example/other-log\n"),
        (base64.b64encode(HEAD).decode(), base64.b64encode(bytes(32)).decode()),
    ],
)
def test_a_modified_body_is_rejected(note: str, signer: Signer, old: str, new: str) -> None:
    assert old in note
    assert step_of(note.replace(old, new, 1), signer.verifier()) == "checkpoint_signature"


def whitespace_variants(note: str) -> dict[str, tuple[str, str]]:
    body, block = note.split("\n\n")
    return {
        "trailing space after the signature": (note[:-1] + " \n", "checkpoint_format"),
        "extra newline at the end": (note + "\n", "checkpoint_format"),
        "no final newline": (note[:-1], "checkpoint_format"),
        "two spaces after the em dash": (
            body + "\n\n" + block.replace("\u2014 ", "\u2014  ", 1),
            "checkpoint_format",
        ),
        "tab instead of space": (
            body + "\n\n" + block.replace(" ", "\t", 1),
            "checkpoint_format",
        ),
        "CRLF line endings": (note.replace("\n", "\r\n"), "checkpoint_format"),
        "space before the origin": (" " + note, "checkpoint_signature"),
        "space after the size": (note.replace("\n42\n", "\n42 \n", 1), "checkpoint_signature"),
        # The note splits at its last blank line, so the signed text changes.
        "blank line inside the body": (
            note.replace("\n42\n", "\n\n42\n", 1),
            "checkpoint_signature",
        ),
        "hyphen instead of em dash": (note.replace("\u2014", "-"), "checkpoint_format"),
    }


def test_extra_whitespace_is_rejected(note: str, signer: Signer) -> None:
    for name, (variant, expected) in whitespace_variants(note).items():
        assert step_of(variant, signer.verifier()) == expected, name


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n042\n{base64.b64encode(HEAD).decode()}\n",
        f"{ORIGIN}\n+42\n{base64.b64encode(HEAD).decode()}\n",
        f"{ORIGIN}\n0\n{base64.b64encode(HEAD).decode()}\n",
        f"{ORIGIN}\n{2**64}\n{base64.b64encode(HEAD).decode()}\n",
        f"{ORIGIN}\n42\n{base64.b64encode(HEAD).decode().rstrip('=')}\n",
        f"{ORIGIN}\n42\n{base64.b64encode(HEAD[:31]).decode()}\n",
        f"{ORIGIN}\n42\n{base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()}\n",
        f"{ORIGIN}\n42\n{base64.b64encode(HEAD).decode()}\nextension line\n",
        f"{ORIGIN}\n42\n",
    ],
)
def test_signed_but_malformed_bodies_are_rejected(signer: Signer, body: str) -> None:
    assert step_of(sign_note(body, signer), signer.verifier()) == "checkpoint_format"


def test_non_canonical_base64_root_is_rejected(signer: Signer) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    canonical = base64.b64encode(HEAD).decode()
    # 32 bytes leave two unused low bits in the last character; setting one keeps the
    # decoded bytes but changes the spelling.
    twin = canonical[:-2] + alphabet[alphabet.index(canonical[-2]) | 1] + "="
    assert twin != canonical and base64.b64decode(twin) == HEAD
    body = f"{ORIGIN}\n42\n{twin}\n"
    assert step_of(sign_note(body, signer), signer.verifier()) == "checkpoint_format"


def test_origin_must_match_when_given(note: str, signer: Signer) -> None:
    assert step_of(note, signer.verifier(), origin="assay.example/other") == "checkpoint_origin"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "no signatures at all\n",
        "body\n\n",
        "body\n\nnot a signature line\n",
        "body\n\n\u2014 name\n",
        "body\n\n\u2014 name !!!!\n",
        "body\n\n\u2014 name AAAA\n",  # 3 bytes: not even a key id and a signature
        "body\x00\n\n\u2014 name AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_format_errors(signer: Signer, garbage: str) -> None:
    assert step_of(garbage, signer.verifier()) == "checkpoint_format"


def test_too_many_signature_lines_are_refused(note: str, signer: Signer) -> None:
    witness = Signer.generate("witness.example/w")
    body = Checkpoint(ORIGIN, 42, HEAD).body().decode()
    line = sign_note(body, witness).split("\n\n")[1]
    assert step_of(note + line * 100, signer.verifier()) == "checkpoint_format"
    assert open_checkpoint(note + line * 15, signer.verifier()).size == 42


@pytest.mark.parametrize(
    ("origin", "size", "head"),
    [
        ("", 1, HEAD),
        ("bad\norigin", 1, HEAD),
        (ORIGIN, 0, HEAD),
        (ORIGIN, -1, HEAD),
        (ORIGIN, True, HEAD),
        (ORIGIN, 1, HEAD[:31]),
        (ORIGIN, 1, HEAD.hex()),
    ],
)
def test_checkpoint_fields_are_validated(origin: str, size: int, head: bytes) -> None:
    with pytest.raises(CheckpointError) as caught:
        Checkpoint(origin, size, head)
    assert caught.value.step == "checkpoint_format"


# ----- key texts -----------------------------------------------------------------------------


def test_key_texts_round_trip(signer: Signer) -> None:
    assert Signer.from_text(signer.to_text()).public_key == signer.public_key
    verifier = Verifier.from_text(signer.verifier_text())
    assert verifier == signer.verifier()
    assert verifier.to_text() == signer.verifier_text()
    assert signer.verifier_text().startswith(f"{ORIGIN}+{signer.key_id.hex()}+")
    assert signer.to_text().startswith(f"PRIVATE+KEY+{ORIGIN}+{signer.key_id.hex()}+")


def test_base64_key_material_may_contain_a_plus() -> None:
    # transparency-dev/formats note tests: the key's base64 contains '+'.
    verifier = Verifier.from_text("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert verifier.name == "TEST"


def test_mangled_verifier_keys_are_rejected() -> None:
    # As Go's TestNewVerifier: every proper substring and every single-byte bump fails.
    text = GO_VERIFIER
    for i in range(len(text)):
        for j in range(i + 1, len(text) + 1):
            if (i, j) != (0, len(text)):
                with pytest.raises(KeyFileError):
                    Verifier.from_text(text[i:j])
        with pytest.raises(KeyFileError):
            Verifier.from_text(text[:i] + chr(ord(text[i]) + 1) + text[i + 1 :])


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys(text: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        Verifier.from_text(text)
    assert caught.value.step == "key_file"


def test_bad_signer_keys() -> None:
    for text in (
        GO_SIGNER.replace("PRIVATE+KEY+", ""),
        GO_SIGNER.replace("c74f20a3", "c74f20a4"),
        GO_SIGNER[:-4],
        GO_VERIFIER,
    ):
        with pytest.raises(KeyFileError):
            Signer.from_text(text)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\there", "nbsp\u00a0"])
def test_key_names_follow_the_note_rules(name: str) -> None:
    with pytest.raises(KeyFileError):
        Signer.from_seed(name, SEED)


def test_signer_repr_hides_the_seed(signer: Signer) -> None:
    seed_text = signer.to_text().rsplit("+", 1)[1]
    assert seed_text not in repr(signer) and SEED.hex() not in repr(signer)


# ----- key files -----------------------------------------------------------------------------


def test_signer_key_file_is_0600_and_round_trips(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "keys" / "platform.key"
    old_umask = os.umask(0)  # the mode must not depend on the caller's umask
    try:
        write_signer_key(path, signer)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == signer.to_text() + "\n"
    assert read_signer_key(path).public_key == signer.public_key


def test_signer_key_file_is_never_overwritten(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "platform.key"
    write_signer_key(path, signer)
    before = path.read_bytes()
    with pytest.raises(KeyFileError) as caught:
        write_signer_key(path, Signer.generate(ORIGIN))
    assert caught.value.step == "key_file"
    assert path.read_bytes() == before


def test_signer_key_file_refuses_a_planted_symlink(tmp_path: Path, signer: Signer) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "platform.key"
    link.symlink_to(target)
    with pytest.raises(KeyFileError):
        write_signer_key(link, signer)
    assert not target.exists()


def test_verifier_key_file_round_trips(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "platform.pub"
    write_verifier_key(path, signer.verifier())
    assert path.read_text() == signer.verifier_text() + "\n"
    assert read_verifier_key(path) == signer.verifier()
    assert Verifier.from_text(path.read_text().strip()) == signer.verifier()


def test_unreadable_key_files_are_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        read_signer_key(tmp_path / "missing.key")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\xff\xfe not a key")
    with pytest.raises(KeyFileError):
        read_signer_key(garbage)
    with pytest.raises(VerificationError):
        read_verifier_key(garbage)
