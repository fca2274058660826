"""The page's verifier on the version 2 and 3 vectors (docs/proof-bundle.md §10.8, §11.6),
in headless Chromium: every vector in tests/anchoring/vectors/complete/ and bundles-v3/
fails at the step its `want_err` names, or verifies with its `want_absent` and
`want_completeness`, exactly as the reference (tests/anchoring/test_complete_vectors.py,
test_v3_vectors.py) decides them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.server.conftest import ROOT, STATIC

if TYPE_CHECKING:
    from playwright.sync_api import Page

VECTORS = ROOT / "tests" / "anchoring" / "vectors" / "complete"
VECTORS_V3 = ROOT / "tests" / "anchoring" / "vectors" / "bundles-v3"

_RUN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    const o = await AssayVerifier.verifyText(c.text, c.key, c.devices, c.options);
    const r = o.result || {};
    out.push({ok: o.ok, step: o.step, message: o.message, ms: o.ms, absent: r.absent,
              completeness: r.completeness, checkpoint_size: r.checkpoint_size,
              checkpoint_time: r.checkpoint_time, bundle_version: r.bundle_version});
  }
  return out;
}"""


def _options(vector: dict[str, Any]) -> dict[str, Any]:
    """H22's inputs: `max_age` in seconds, `now` (RFC 3339) as the page's ms since 1970."""
    if "max_age" not in vector:
        return {}
    now = datetime.fromisoformat(vector["now"])
    return {"maxAgeSeconds": vector["max_age"], "now": now.timestamp() * 1000}


def _cases(folder: Path = VECTORS) -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


def _page_agrees(page: Page, cases: list[tuple[str, dict[str, Any]]]) -> None:
    payload = [
        {
            "text": json.dumps(v["bundle"], ensure_ascii=False),
            "key": v["platform_key"],
            "devices": json.dumps(v["device_keys"]) if v["device_keys"] is not None else "",
            "options": _options(v),
        }
        for _, v in cases
    ]
    results = page.evaluate(_RUN, payload)
    rows, wrong = [], []
    for (name, v), got in zip(cases, results, strict=True):
        step = None if got["ok"] else got["step"]
        want = (v["want_err"], v["want_absent"], v["want_completeness"])
        said = (step, bool(got["absent"]) if got["ok"] else False, got["completeness"])
        rows.append(f"{name:42} want {want!s:44} page {said!s:44} {got['ms']:6.1f} ms")
        if said != want or (got["ok"] and got["bundle_version"] != v["bundle"]["version"]):
            wrong.append(f"{rows[-1]}  {got['message'][:90]}")
    print("\n".join(rows))
    assert not wrong, "the page disagrees with the vectors:\n" + "\n".join(wrong)


def test_every_version_2_vector(offline_page: Page) -> None:
    cases = _cases()
    # The vectors are committed; none found is a missing piece, never a reason to skip.
    assert len(cases) >= 20, f"no version 2 vectors in {VECTORS.relative_to(ROOT)}"
    _page_agrees(offline_page, cases)
    assert {v["want_err"] for _, v in cases} >= {
        None, "history_incomplete", "newer_events", "checkpoint_consistency", "map_proof",
        "map_root", "absence_proof", "absence_refuted", "checkpoint_stale", "bundle_format",
    }  # fmt: skip


def test_every_version_3_vector(offline_page: Page) -> None:
    cases = _cases(VECTORS_V3)
    assert len(cases) >= 20, f"no version 3 vectors in {VECTORS_V3.relative_to(ROOT)}"
    _page_agrees(offline_page, cases)
    assert {v["want_err"] for _, v in cases} >= {
        None, "checkpoint_inclusion", "checkpoint_version", "checkpoint_head",
        "history_incomplete", "newer_events", "checkpoint_stale", "bundle_format",
    }  # fmt: skip


def test_completeness_holds_at_the_newer_checkpoint(offline_page: Page) -> None:
    """The result's checkpoint_size and checkpoint_time are the newer checkpoint's."""
    vector = json.loads((VECTORS / "old-bundle-newer-checkpoint-unchanged.json").read_text())
    payload = [{"text": json.dumps(vector["bundle"]), "key": vector["platform_key"],
                "devices": "", "options": {}}]  # fmt: skip
    (got,) = offline_page.evaluate(_RUN, payload)
    newer = vector["bundle"]["newer"]
    assert got["ok"], got["message"]
    assert got["checkpoint_size"] == int(newer["checkpoint"].split("\n")[1])
    assert got["checkpoint_time"] == newer["head"]["sealed_at"]
