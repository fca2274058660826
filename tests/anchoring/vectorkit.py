"""What the bundle-vector generators share (tests/anchoring/vectors/*/make_*.py).

The world they seal is ``vectors/bundles/make_bundle_vectors.py``'s (:func:`base`); this
module holds the rest: running a vector through the reference verifier, checking the
outcome a scenario claims, the one rendering of a file, and the checkpoint an anchor
before checkpoint version 2 published for a head (so vectors of bundle versions 1 and 2
stay byte for byte what they were on a chain of version 2 blocks).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from anchoring.checkpoint import Checkpoint, Signer, Verifier, sign_checkpoint
from anchoring.errors import VerificationError
from anchoring.sealer import Anchor
from anchoring.verify import read_bundle, verify_bundle
from tests.anchoring.hostile_bundles import vector_input

VECTORS = Path(__file__).parent / "vectors"
Vector = dict[str, Any]


def load_script(path: Path) -> ModuleType:
    """A generator script as a module (they live beside their vectors, not in a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def base() -> ModuleType:
    """``make_bundle_vectors``: the world (parties, keys, stories, seal times) all share."""
    return load_script(VECTORS / "bundles" / "make_bundle_vectors.py")


def v1_note(anchor: Anchor, signer: Signer) -> str:
    """The version 1 checkpoint of the anchor's head: its root is the head block's hash."""
    head = anchor.head
    assert head is not None
    return sign_checkpoint(Checkpoint(anchor.origin, head.height + 1, head.block_hash()), signer)


def as_received(doc: dict[str, Any]) -> Vector:
    """Through JSON, as a consumer receives it."""
    out: Vector = json.loads(json.dumps(doc))
    return out


def mutated(doc: Vector, change: Callable[[Vector], None]) -> Vector:
    out = json.loads(json.dumps(doc))
    change(out)
    assert isinstance(out, dict)
    return out


def flip_hex(text: str) -> str:
    """The hex string with the lowest bit of its last byte flipped."""
    raw = bytearray.fromhex(text)
    raw[-1] ^= 0x01
    return raw.hex()


def run(vector: Vector) -> tuple[str | None, Any]:
    """The step the reference fails at (None: valid) and its result: the pinned keys, then
    the bundle's bytes, then the bundle, with the maximum age and clock a vector gives."""
    keys = vector["device_keys"]
    max_age, now = vector.get("max_age"), vector.get("now")
    try:
        key = Verifier.from_text(vector["platform_key"])
        pinned = {k: bytes.fromhex(v) for k, v in keys.items()} if keys else None
        when = datetime.fromisoformat(now) if now is not None else None
        bundle = read_bundle(vector_input(vector))
        result = verify_bundle(bundle, key, pinned, max_age=max_age, now=when)
    except VerificationError as e:
        return e.step, None
    return None, result


def check(name: str, vector: Vector) -> None:
    """Fail generation loudly if a scenario does not end as it claims."""
    got, result = run(vector)
    assert got == vector["want_err"], f"{name}: want {vector['want_err']}, got {got}"
    if result is not None and "want_absent" in vector:
        assert result.absent == vector["want_absent"], name
        assert result.completeness == vector["want_completeness"], name


def render(vector: Vector) -> str:
    return json.dumps(vector, indent=2, sort_keys=True) + "\n"


def write(folder: Path, vectors: dict[str, Vector]) -> None:
    """Replace the folder's vectors with ``vectors``, one ``<name>.json`` each."""
    for old in folder.glob("*.json"):
        old.unlink()
    for name, vector in vectors.items():
        (folder / f"{name}.json").write_text(render(vector))


#: The fields every vector of a completeness folder (bundle versions 2 and 3) has.
COMPLETE_FIELDS = {"desc", "want_err", "bundle", "platform_key", "device_keys", "want_absent",
                   "want_completeness"}  # fmt: skip


def complete_vector(
    desc: str,
    bundle: Vector,
    want: str | None,
    platform_key: str,
    absent: bool = False,
    completeness: str | None = "complete",
    **extra: Any,
) -> Vector:
    """One vector of a completeness folder: a valid one states its absence and completeness,
    a refused one its step (and no completeness)."""
    return {
        "desc": desc,
        "want_err": want,
        "bundle": bundle,
        "platform_key": platform_key,
        "device_keys": None,
        "want_absent": absent if want is None else False,
        "want_completeness": completeness if want is None else None,
        **extra,
    }


def read(folder: Path) -> dict[str, Vector]:
    """A folder's vectors by scenario name."""
    return {f.stem: json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))}


def assert_each_ends_as_it_says(folder: Path, required: dict[str, str | None]) -> None:
    """Every required scenario is there with its step; every vector ends as it says, and a
    valid one with the absence, completeness and bundle version it claims."""
    found = read(folder)
    assert {name: found[name]["want_err"] for name in required if name in found} == required
    for name, vector in found.items():
        fields = set(vector)
        assert fields in (COMPLETE_FIELDS, COMPLETE_FIELDS | {"max_age", "now"}), name
        step, result = run(vector)
        assert step == vector["want_err"], name
        if step is None:
            got = (result.absent, result.completeness, result.bundle_version)
            want = (vector["want_absent"], vector["want_completeness"], vector["bundle"]["version"])
            assert got == want, name


def assert_generated(folder: Path, generator: ModuleType) -> None:
    """The folder holds exactly what its generator writes today."""
    built = generator.build_vectors()
    on_disk = {f.stem: f.read_text() for f in folder.glob("*.json")}
    script = Path(generator.__file__ or "its generator").name
    assert sorted(on_disk) == sorted(built), f"run {script} to regenerate"
    for name, vector in built.items():
        assert on_disk[name] == render(vector), f"{name}.json is stale"
