"""``evaluate(..., verified_log=key)``: a caller that opened the note with a log key need not
have its signature checked again; any other key, or a note without its line, still fails
``log_signature``."""

from __future__ import annotations

from anchoring.checkpoint import Signer, open_note, sign_note
from witness.cosignature import WitnessSigner
from witness.note import Note, SignatureLine, merge_signatures, parse_note
from witness.policy import Policy, evaluate, parse_policy

ORIGIN = "example.com/log"
BODY = f"{ORIGIN}\n5\n{'A' * 43}=\n"
NOW = 1_700_000_000
LOG = Signer.from_seed(ORIGIN, bytes([1]) * 32)
OTHER = Signer.from_seed(ORIGIN, bytes([2]) * 32)  # same name, another key
WITNESSES = [WitnessSigner.from_seed(f"w{i}.example/witness", bytes([i + 10]) * 32) for i in (1, 2)]


def policy_of(log: Signer) -> Policy:
    lines = [f"log {log.verifier_text()}"]
    lines += [f"witness X{i} {w.verifier().to_text()}" for i, w in enumerate(WITNESSES, 1)]
    return parse_policy("\n".join([*lines, "group both all X1 X2", "quorum both", ""]))


def cosigned(signer: Signer) -> str:
    return merge_signatures(sign_note(BODY, signer), [w.cosign(BODY, NOW) for w in WITNESSES])


def test_told_of_the_key_it_was_opened_with_the_verdict_is_the_same() -> None:
    note, policy = cosigned(LOG), policy_of(LOG)
    open_note(note, LOG.verifier())
    told = evaluate(note, policy, NOW, verified_log=LOG.verifier())
    assert told == evaluate(note, policy, NOW)
    assert told.failure is None and told.cosigned_by == ["X1", "X2"]


def test_the_told_key_is_trusted_without_checking_its_signature_again() -> None:
    # What the caller vouches for is not re-checked: a note open_note would refuse passes.
    # (assay verify tells only the key verify_bundle opened this very note with.)
    note = parse_note(cosigned(LOG))
    log_line = note.signatures[0]
    flipped = bytes([log_line.signature[0] ^ 1]) + log_line.signature[1:]
    lines = (SignatureLine(log_line.name, log_line.key_id, flipped), *note.signatures[1:])
    broken = Note(note.text, lines).to_text()
    policy = policy_of(LOG)
    assert evaluate(broken, policy, NOW).failure == "log_signature"
    assert evaluate(broken, policy, NOW, verified_log=LOG.verifier()).failure is None


def test_another_key_still_fails_log_signature() -> None:
    # The note is signed by OTHER (which the caller verified), the policy names LOG.
    note, policy = cosigned(OTHER), policy_of(LOG)
    for told in (None, OTHER.verifier()):
        verdict = evaluate(note, policy, NOW, verified_log=told)
        assert (verdict.failure, verdict.quorum_met) == ("log_signature", False)


def test_a_note_without_a_line_by_the_told_key_fails_log_signature() -> None:
    verdict = evaluate(cosigned(OTHER), policy_of(LOG), NOW, verified_log=LOG.verifier())
    assert verdict.failure == "log_signature"
