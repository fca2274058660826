"""The proof-bundle vectors: every bad bundle is rejected at the step it claims.

The vectors under ``vectors/bundles/`` are shared with the browser verifier; this test
runs them through ``verify_bundle``, and checks that they are exactly what the generator
script writes, so they cannot drift from the code.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.verify import read_bundle, verify_bundle
from tests.anchoring.hostile_bundles import vector_input
from tests.anchoring.vectorkit import render

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # merkletools warns that the optional pysha3 is missing
    import merkletools

FOLDER = Path(__file__).parent / "vectors" / "bundles"
REQUIRED = {
    "happy-path",
    "flipped-bit-in-path",
    "wrong-leaf-index",
    "truncated-path",
    "swapped-block",
    "wrong-checkpoint-key",
    "second-preimage-interior-node",
    "dropped-middle-event",
    "tampered-envelope",
    "tampered-summary",
    "forged-device-signature",
    # strict JSON (docs/proof-bundle.md §2.1)
    "nan-latitude",
    "lone-surrogate",
    "duplicate-key",
    "version-float",
    "version-bool",
    "bom",
    "trailing-garbage",
    "invalid-utf8",
    "deep-nesting",
    "nesting-at-limit",
    # canonical Avro (§4.7)
    "negative-union-index",
    "overlong-varint",
    "non-minimal-varint",
    # Ed25519 (§4.8)
    "small-order-device-key",
    "identity-key-identity-r-zero-s",
    "non-canonical-s",
    "small-order-r",
    "identity-platform-key",
}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_bundle_vectors", FOLDER / "make_bundle_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(vector: dict[str, Any]) -> str | None:
    """The step ``assay verify`` fails at: reading the pinned keys, the bundle, checking it."""
    keys = vector["device_keys"]
    pinned = {k: bytes.fromhex(v) for k, v in keys.items()} if keys is not None else None
    try:
        key = Verifier.from_text(vector["platform_key"])
        verify_bundle(read_bundle(vector_input(vector)), key, pinned)
    except VerificationError as e:
        return e.step
    return None


def test_every_vector_fails_at_the_step_it_names() -> None:
    files = sorted(FOLDER.glob("*.json"))
    assert {f.stem for f in files} >= REQUIRED
    outcomes = {}
    common = {"desc", "want_err", "platform_key", "device_keys"}
    for file in files:
        vector = json.loads(file.read_text())
        assert set(vector) in (common | {"bundle"}, common | {"bundle_b64"}), file.name
        outcomes[file.stem] = (run(vector), vector["want_err"])
    assert {name: got for name, (got, _) in outcomes.items()} == {
        name: want for name, (_, want) in outcomes.items()
    }
    assert outcomes["happy-path"] == (None, None)
    assert sum(want is not None for _, want in outcomes.values()) >= len(REQUIRED) - 1


def test_paths_of_valid_vectors_also_validate_with_merkletools() -> None:
    for file in sorted(FOLDER.glob("*.json")):
        vector = json.loads(file.read_text())
        if vector["want_err"] is not None:
            continue
        bundle = read_bundle(vector_input(vector))
        roots = {b["header"]["height"]: b["header"]["merkle_root"] for b in bundle["blocks"]}
        for event in bundle["events"]:
            assert merkletools.MerkleTools().validate_proof(
                event["path"], event["leaf"], roots[event["height"]]
            ), (file.name, event["version"])


def test_vectors_are_what_the_generator_writes() -> None:
    generator = load_generator()
    built = generator.build_vectors()
    on_disk = {f.stem: f.read_text() for f in FOLDER.glob("*.json")}
    assert sorted(on_disk) == sorted(built), "run make_bundle_vectors.py to regenerate"
    for name, vector in built.items():
        assert on_disk[name] == render(vector), f"{name}.json is stale"


@pytest.mark.parametrize("name", ["happy-path", "flag-with-evidence", "pending-events"])
def test_valid_vectors_pass_with_the_device_keys_pinned(name: str) -> None:
    vector = json.loads((FOLDER / f"{name}.json").read_text())
    pinned = {k: bytes.fromhex(v["public_key"]) for k, v in vector["bundle"]["devices"].items()}
    result = verify_bundle(vector["bundle"], Verifier.from_text(vector["platform_key"]), pinned)
    assert result.events == len(vector["bundle"]["events"])
    assert result.pending == len(vector["bundle"]["pending"])


FROZEN = Path(__file__).parent / "vectors" / "bundles-2026-12-02"


def test_bundles_written_by_an_earlier_version_still_give_what_they_gave() -> None:
    """The vectors as committed on 2026-12-02, before the fixture world declared its brand
    (which moved notification ids, so the generator rewrote every file): kept byte for byte
    and never regenerated, so a verifier change that stops reading bundles already in
    buyers' hands fails here (docs/proof-bundle.md §7)."""
    files = sorted(FROZEN.glob("*.json"))
    assert len(files) == 56
    got = {f.stem: run(json.loads(f.read_text())) for f in files}
    assert got == {f.stem: json.loads(f.read_text())["want_err"] for f in files}
    assert got["happy-path"] is None and sum(v is None for v in got.values()) >= 5
