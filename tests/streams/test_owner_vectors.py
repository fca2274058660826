"""The owner-signed envelope vectors (docs/owner-statements.md): every reader finds the same
statement and fingerprint in each envelope, or refuses it with the same code; the files are
what the generator writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from anchoring.leaves import read_envelope
from streams.errors import SerializationError
from streams.owner_envelope import open_statement

FOLDER = Path(__file__).parent / "vectors" / "owner_statement"
VECTORS = sorted(FOLDER.glob("*.json"))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_owner_vectors", FOLDER / "make_owner_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_kind_and_refusal_has_a_vector() -> None:
    found = [json.loads(p.read_text()) for p in VECTORS]
    kinds = {v["want_statement"]["kind"] for v in found if v["want_statement"]}
    assert kinds == {"claim", "transfer", "report_missing", "withdraw_report", "consign"}
    codes = {v["want_err"] for v in found if v["want_err"]}
    assert codes == {"bad_signature", "envelope_mismatch", "invalid_owner_key", "invalid_statement"}


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_owner_vector(path: Path) -> None:
    vector: dict[str, Any] = json.loads(path.read_text())
    message = bytes.fromhex(vector["envelope_hex"])
    if vector["want_err"] is not None:
        with pytest.raises(SerializationError) as refused:
            open_statement(read_envelope(message))
        assert refused.value.code == vector["want_err"]
        return
    statement = open_statement(read_envelope(message))
    assert statement.to_primitive() == vector["want_statement"]
    assert statement.fingerprint == vector["want_fingerprint"]


def test_the_files_are_what_the_generator_writes() -> None:
    generated = load_generator().vectors()
    assert sorted(generated) == sorted(p.stem for p in VECTORS)
    for name, vector in generated.items():
        text = json.dumps(vector, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        assert (FOLDER / f"{name}.json").read_text() == text, name
