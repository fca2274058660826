"""The custody_event body vectors (docs/proof-bundle.md §4.7): every reader shows the same
summary for each body, or finds it unreadable; the files are what the generator writes.

The browser verifier reads the same vectors in tests/server/test_parity.py.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from anchoring.fastread import plain_body
from anchoring.leaves import signed_fields
from streams.avro import default_registry
from streams.envelope import EVENT_SCHEMA
from streams.errors import SerializationError

FOLDER = Path(__file__).parent / "vectors" / "custody_event"
VECTORS = sorted(FOLDER.glob("*.json"))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_body_vectors", FOLDER / "make_body_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_version_and_the_array_spellings_have_vectors() -> None:
    names = {p.stem for p in VECTORS}
    assert {"v1-shipping", "v2-shipping-with-position", "v3-error-declaration",
            "v3-array-blocks-with-byte-sizes", "v3-array-cut-short"} <= names  # fmt: skip
    versions = {json.loads(p.read_text())["version"] for p in VECTORS}
    assert versions == {1, 2, 3, 4}


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_body_vector(path: Path) -> None:
    vector: dict[str, Any] = json.loads(path.read_text())
    raw = bytes.fromhex(vector["body_hex"])
    registry = default_registry()
    assert registry.by_fingerprint[raw[2:10]].version == vector["version"]
    if vector["want_err"] is not None:
        assert vector["want_err"] == "envelope_format"
        with pytest.raises(SerializationError):
            registry.decode(EVENT_SCHEMA, raw)
        assert plain_body(raw) is None
        return
    record = registry.decode(EVENT_SCHEMA, raw)
    assert signed_fields(record) == vector["want_summary"]
    fast = plain_body(raw)
    assert fast is None or fast == record


def test_the_files_are_what_the_generator_writes() -> None:
    generated = load_generator().vectors()
    assert sorted(generated) == [p.stem for p in VECTORS]
    for name, vector in generated.items():
        text = json.dumps(vector, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        assert (FOLDER / f"{name}.json").read_text() == text, name
