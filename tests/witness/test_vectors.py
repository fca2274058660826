"""Walk the witness vectors: every cosignature line and policy file with its expected outcome.

The files are reproducible from fixed seeds (tests/witness/vectors/generate.py); the first
test proves they still are, so a change of format cannot hide behind stale vectors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anchoring.checkpoint import open_note
from anchoring.errors import VerificationError
from witness.cosignature import WitnessSigner, WitnessVerifier, check_cosignature
from witness.errors import CosignatureError, PolicyError
from witness.policy import evaluate, load_policy, parse_policy

from .vectors.generate import write_all

VECTORS = Path(__file__).resolve().parent / "vectors"


def load(folder: str) -> list[tuple[str, dict[str, Any]]]:
    paths = sorted((VECTORS / folder).glob("*.json"))
    return [(p.stem, json.loads(p.read_text())) for p in paths]


def test_the_vectors_are_what_the_generator_writes(tmp_path: Path) -> None:
    for path in write_all(tmp_path):
        checked_in = VECTORS / path.relative_to(tmp_path)
        assert checked_in.read_text() == path.read_text(), checked_in.name
    assert len(load("cosignature")) >= 10 and len(load("policy")) >= 25


def test_a_fixed_key_and_time_reproduce_the_known_line() -> None:
    vector = dict(load("cosignature"))["happy-path"]
    signer = WitnessSigner.from_seed(vector["name"], bytes.fromhex(vector["seed"]))
    assert signer.verifier().to_text() == vector["vkey"]
    assert signer.key_file_signer().verifier_text() == vector["standard_vkey"]
    assert signer.cosign(vector["body"], vector["timestamp"]) == vector["line"]


@pytest.mark.parametrize(("name", "vector"), load("cosignature"))
def test_cosignature_vector(name: str, vector: dict[str, Any]) -> None:
    verifier = WitnessVerifier.from_text(vector["vkey"])
    if "want_err" in vector:
        with pytest.raises(CosignatureError) as caught:
            check_cosignature(verifier, vector["body"], vector["line"], now=vector["now"])
        assert caught.value.step == vector["want_err"], caught.value.message
    else:
        got = check_cosignature(verifier, vector["body"], vector["line"], now=vector["now"])
        assert got == vector["want"]["timestamp"]


@pytest.mark.parametrize(("name", "vector"), load("policy"))
def test_policy_vector(name: str, vector: dict[str, Any]) -> None:
    if "want_err" in vector:
        with pytest.raises(PolicyError) as caught:
            parse_policy(vector["policy"])
        assert caught.value.step == vector["want_err"]
        assert caught.value.line == vector["line"], caught.value.message
        return
    policy = parse_policy(vector["policy"])
    verdict = evaluate(vector["note"], policy, vector["now"])
    for log in policy.logs:  # told of a log key the note was opened with: the same verdict
        try:
            open_note(vector["note"], log.verifier)
        except VerificationError:
            continue
        told = evaluate(vector["note"], policy, vector["now"], verified_log=log.verifier)
        assert told == verdict
    want = vector["want"]
    assert verdict.quorum_met == want["quorum_met"], verdict.message
    assert verdict.failure == want["failure"], verdict.message
    assert verdict.cosigned_by == want["cosigned"]
    assert [[r.witness, r.reason] for r in verdict.refused] == want["refused"]
    assert verdict.ignored_lines == want["ignored_lines"]
    if verdict.failure:
        with pytest.raises(Exception) as caught:
            verdict.check()
        assert getattr(caught.value, "step", None) == verdict.failure
    else:
        verdict.check()


def test_policy_files_are_read_as_utf8(tmp_path: Path) -> None:
    vector = dict(load("policy"))["quorum-2-of-3-met"]
    path = tmp_path / "policy.txt"
    path.write_text(vector["policy"])
    assert load_policy(path).quorum == "partners"
    for bad in (tmp_path / "absent.txt", tmp_path):
        with pytest.raises(PolicyError) as caught:
            load_policy(bad)
        assert caught.value.step == "witness_policy"
    path.write_bytes(b"quorum none\n# \xff\n")
    with pytest.raises(PolicyError):
        load_policy(path)
