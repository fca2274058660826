"""The page's verifier on the version 4 vectors (docs/proof-bundle.md §12.6), in headless
Chromium: every vector in tests/anchoring/vectors/bundles-v4/ fails at the step its
`want_err` names, or verifies with the bundle version and exactly the proven parties
(`want_parties`) the reference reports (tests/anchoring/test_v4_vectors.py); and the page's
sentences name a party only by its proven name, never by the listed one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.server.conftest import ROOT, STATIC

if TYPE_CHECKING:
    from playwright.sync_api import Page

VECTORS = ROOT / "tests" / "anchoring" / "vectors" / "bundles-v4"

_RUN = """async (cases) => {
  const out = [];
  const w = new AssayI18n.Words("en");
  for (const c of cases) {
    const o = await AssayVerifier.verifyText(c.text, c.key, c.devices, {});
    const r = o.result || {};
    const inspection = (r.story || []).find(
      (e) => e.kind === "E" && e.summary.kind === "inspecting");
    out.push({ok: o.ok, step: o.step, message: o.message, ms: o.ms,
              bundle_version: r.bundle_version, completeness: r.completeness,
              parties: r.parties === undefined ? null : r.parties,
              lab: o.ok ? AssayPassport.party(r, "lab") : null,
              sentence: inspection
                ? AssayPassport.eventSentence(w, inspection.summary, r, r.story) : null,
              key_sources: (r.story || []).map((e) => e.keySource || null)});
  }
  return out;
}"""


def _cases() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted(VECTORS.glob("*.json"))]


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


def _run(page: Page, cases: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    payload = [
        {
            "text": json.dumps(v["bundle"], ensure_ascii=False),
            "key": v["platform_key"],
            "devices": json.dumps(v["device_keys"]) if v["device_keys"] is not None else "",
        }
        for _, v in cases
    ]
    results: list[dict[str, Any]] = page.evaluate(_RUN, payload)
    return results


def test_every_version_4_vector(offline_page: Page) -> None:
    cases = _cases()
    # The vectors are committed; none found is a missing piece, never a reason to skip.
    assert len(cases) >= 15, f"no version 4 vectors in {VECTORS.relative_to(ROOT)}"
    rows, wrong = [], []
    for (name, v), got in zip(cases, _run(offline_page, cases), strict=True):
        step = None if got["ok"] else got["step"]
        want = (v["want_err"], v["want_parties"])
        said = (step, got["parties"] if got["ok"] else None)
        rows.append(f"{name:32} want {v['want_err']!s:20} page {step!s:20} {got['ms']:6.1f} ms")
        ok_version = not got["ok"] or got["bundle_version"] == v["bundle"]["version"]
        if said != want or not ok_version:
            wrong.append(f"{rows[-1]}  {got['message'][:90]}")
    print("\n".join(rows))
    assert not wrong, "the page disagrees with the vectors:\n" + "\n".join(wrong)
    assert {v["want_err"] for _, v in cases} >= {
        None, "party_proof", "device_proof", "device_revoked", "device_key", "bundle_format",
    }  # fmt: skip


def test_the_page_names_a_party_only_by_its_proven_name(offline_page: Page) -> None:
    names = ["complete-history", "listed-party-name-relabelled", "relabelled-v3"]
    cases = [(n, json.loads((VECTORS / f"{n}.json").read_text())) for n in names]
    proven, listed, v3 = _run(offline_page, cases)
    lab = cases[0][1]["want_parties"]["lab"]["name"]
    assert proven["lab"] == listed["lab"] == lab
    assert proven["sentence"].startswith(lab) and listed["sentence"] == proven["sentence"]
    assert "Fake Lab" not in json.dumps(listed)
    # Version 3 proves no name: the page says the id, never the listing's name.
    assert v3["ok"] and v3["parties"] is None and v3["lab"] == "lab"
    assert v3["sentence"].startswith("lab ")
    assert set(proven["key_sources"]) == {"proven"} and "proven" not in v3["key_sources"]


_WINDOW = """async (bundle) => {
  const P = AssayVerifierParts;
  const head = await P.parseHeader(bundle.head);
  const registry = await P.checkRegistry(bundle, head);
  const record = registry.deviceRecords.get("lab/lab-d1").record;
  const iso = (micros) => new Date(micros / 1000).toISOString().replace("Z", "+00:00")
    .replace(".000+", "+");
  const at = (micros) => {
    try {
      registry.checkWindow({party_id: "lab", device_id: "lab-d1", occurred_at: iso(micros)});
      return null;
    } catch (e) {
      return e.step;
    }
  };
  const enrolled = record.enrolled_at;
  const out = [at(enrolled), at(enrolled - 1000000)];
  record.effective_from = enrolled - 2 * 86400000000;  // a backdated key speaks earlier
  out.push(at(enrolled - 1000000));
  record.revoked_at = enrolled + 1000000;
  out.push(at(enrolled + 1000000), at(enrolled));
  return out;
}"""


def test_the_window_check_agrees_with_the_reference(offline_page: Page) -> None:
    """Step D17a's both halves in the page, as tests/anchoring/test_v4_vectors.py checks
    the reference's (no ledger accepts an event before its key speaks, so no vector has one)."""
    bundle = json.loads((VECTORS / "complete-history.json").read_text())["bundle"]
    got = offline_page.evaluate(_WINDOW, bundle)
    assert got == [None, "device_not_enrolled", None, "device_revoked", None]
