"""The page's verifier on the version 5 vectors (docs/proof-bundle.md §14), in headless
Chromium: every vector in tests/anchoring/vectors/bundles-v5/ fails at the step its
`want_err` names, or verifies with the bundle version, absence, completeness and proven
parties the reference reports (tests/anchoring/test_v5_vectors.py); and the page reads a
map proof's base64url exactly as the reference does, refusing every other spelling.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.errors import VerificationError
from anchoring.mapcheck_v5 import parse_proof_v5
from tests.server.conftest import ROOT, STATIC
from tests.server.test_parity_registry import _run

if TYPE_CHECKING:
    from playwright.sync_api import Page

VECTORS = ROOT / "tests" / "anchoring" / "vectors" / "bundles-v5"


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


def _cases() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted(VECTORS.glob("*.json"))]


def test_every_version_5_vector(offline_page: Page) -> None:
    cases = _cases()
    # The vectors are committed; none found is a missing piece, never a reason to skip.
    assert len(cases) >= 25, f"no version 5 vectors in {VECTORS.relative_to(ROOT)}"
    rows, wrong = [], []
    for (name, v), got in zip(cases, _run(offline_page, cases), strict=True):
        step = None if got["ok"] else got["step"]
        want = (v["want_err"], v["want_parties"], v["want_completeness"])
        said = (
            step,
            got["parties"] if got["ok"] else None,
            got["completeness"] if got["ok"] else None,
        )
        rows.append(f"{name:36} want {v['want_err']!s:20} page {step!s:20} {got['ms']:6.1f} ms")
        ok_version = not got["ok"] or got["bundle_version"] == v["bundle"]["version"] == 5
        if said != want or not ok_version:
            wrong.append(f"{rows[-1]}  {got['message'][:90]}")
    print("\n".join(rows))
    assert not wrong, "the page disagrees with the vectors:\n" + "\n".join(wrong)
    assert {v["want_err"] for _, v in cases} >= {
        None, "bundle_format", "map_root", "map_proof", "party_proof", "device_proof",
        "absence_refuted", "history_incomplete", "newer_events",
    }  # fmt: skip


_READ = """(cases) => cases.map((c) => {
  try {
    const p = AssayVerifierParts.parseMapProofV5(c, "p");
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return {siblings: p.siblings.map((s) => s === null ? null : hex(s)),
            other: p.other === null ? null : {key: hex(p.other.key), value: hex(p.other.value)}};
  } catch (e) {
    return {step: e.step};
  }
})"""


def _spellings() -> list[Any]:
    """Every character in every position class a hash's spelling can take, and near misses."""
    raw = bytes(range(256))
    good = [
        base64.urlsafe_b64encode(raw[i : i + 32]).rstrip(b"=").decode() for i in range(0, 224, 7)
    ]
    out: list[Any] = list(good)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. "
    out += ["A" * 42 + c for c in alphabet]  # each last character: spare bits or not
    out += ["A" * 41 + c + "A" for c in alphabet]
    out += [
        "",
        "A" * 42,
        "A" * 44,
        "A" * 43 + "=",
        good[0].upper(),
        bytes(32).hex(),
        None,
        7,
        ["A" * 43],
    ]
    return out


def _reference(proof: Any) -> dict[str, Any]:
    try:
        p = parse_proof_v5(proof, "p")
    except VerificationError as e:
        return {"step": e.step}
    other = None
    if p.other_key is not None and p.other_value is not None:
        other = {"key": p.other_key.hex(), "value": p.other_value.hex()}
    return {"siblings": [None if s is None else s.hex() for s in p.siblings], "other": other}


def test_the_page_reads_every_spelling_as_the_reference(offline_page: Page) -> None:
    value = base64.urlsafe_b64encode(bytes(range(56))).rstrip(b"=").decode()
    proofs: list[Any] = [{"siblings": [s], "other": None} for s in _spellings()]
    proofs += [
        {"siblings": [], "other": {"key": "A" * 43, "value": value}},
        {"siblings": [], "other": {"key": "A" * 43, "value": value[:-1] + "B"}},
        {"siblings": [], "other": {"key": "A" * 43, "value": value[:-1]}},
        {"siblings": [None] * 257, "other": None},
        {"siblings": []},
    ]
    got = offline_page.evaluate(_READ, proofs)
    want = [_reference(p) for p in proofs]
    assert got == want
    assert sum("step" not in w for w in want) >= 40  # both accepting and refusing are exercised
