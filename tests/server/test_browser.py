"""The verifier page in real headless Chromium, against `assay serve` with nothing pinned.

Use case: the buyer scans the tag; the page fetches the item's proof, takes the server's key
on first use (and says so), checks, and tells the story; a tampered proof chosen from disk
is refused in plain words with the step that failed folded below; the same page works
from a file on disk with no server at all. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anchoring.checkpoint import Signer, Verifier
from tests.server.conftest import STATIC
from tests.server.pages import buyer, catalogue, open_everything, open_item, verdict
from tests.server.stores import ITEM, Store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

EN = catalogue("en")


def _requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


def tampered(store: Store, item: str = ITEM) -> dict[str, Any]:
    """The item's bundle with one byte inside the signed body of event v4 flipped."""
    bundle = copy.deepcopy(store.bundle(item))
    raw = bytearray(base64.b64decode(bundle["events"][3]["payload_b64"]))
    raw[-70] ^= 0x01
    bundle["events"][3]["payload_b64"] = base64.b64encode(bytes(raw)).decode()
    return bundle


def _check_by_hand(page: Page, bundle: Path, key: Path | None = None) -> None:
    if not page.locator("#manual").evaluate("d => d.open"):
        page.click("#manual summary")
    page.set_input_files("#bundle-file", str(bundle))
    page.locator("#bundle-status", has_text=f"Loaded {bundle.name}").wait_for()
    if key is not None:
        page.set_input_files("#key-file", str(key))
        page.locator("#key-status", has_text=EN["manual.key_loaded"]).wait_for()
    page.click("#verify")
    page.wait_for_selector("#verdict:is([data-tone=ok], [data-tone=bad], [data-tone=warn])")


def test_buyer_verifies_the_served_proof_on_first_use(
    chromium: Browser, served: str, store: Store, artifacts: Path
) -> None:
    with buyer(chromium, viewport="desktop") as page:
        requests = _requests(page)
        open_item(page, served, store.item_id)
        v = verdict(page)
        assert v["state"] == "flagged"  # scanned by osaka after the sale
        assert EN["line.tofu"] in v["lines"]  # nothing pinned: the server's key, labelled
        open_everything(page)
        checks = page.inner_text("#checks")
        assert "(10 events)" in checks and "trust on first use" in checks
        timeline = page.locator("#timeline > li")
        assert timeline.count() == 10
        assert "shelf=A3" in timeline.nth(6).inner_text()  # signed attributes are shown
        flag = timeline.nth(8).inner_text()
        assert EN["flag.scan_after_sale"] in flag and "device osaka/osaka-d1" in flag
        assert "observing by osaka after the item was sold" in flag  # the platform's note
        print(f"\nin-page verify (first run, 10 events): {checks.splitlines()[-1]}")
        page.screenshot(path=artifacts / "verifier-verified.png", full_page=True)
        assert EN["trust.key"] in page.inner_text("#trust")
        page.locator("#trust").screenshot(path=artifacts / "verifier-trust-model.png")
        assert all(url.startswith(served) for url in requests), f"left the origin: {requests}"

        open_item(page, served, store.item_id)  # the key was remembered on first use
        assert EN["line.tofu"] not in verdict(page)["lines"]
        open_everything(page)
        assert EN["key.remembered"] in page.inner_text("#technical")


def test_a_changed_server_key_is_flagged_and_refused(
    chromium: Browser, served: str, store: Store
) -> None:
    other = Signer.generate("assay.example/custody-log")  # a key of the same name
    remembered = Verifier(other.name, other.public_key).to_text()
    with buyer(chromium) as page:
        page.goto(f"{served}/verify")
        page.evaluate(
            "k => localStorage.setItem('assay.platformKey', JSON.stringify("
            "{text: k, source: 'tofu', since: '2026-01-01T00:00:00Z'}))",
            remembered,
        )
        open_item(page, served, store.item_id)
        v = verdict(page)
        assert (v["state"], v["step"]) == ("failed", "checkpoint_signature")
        assert v["lines"][0] == EN["line.key_changed"]
        assert EN["failure.platform_key"] in v["lines"]


def test_a_tampered_bundle_from_disk_names_the_failure(
    chromium: Browser, served: str, store: Store, artifacts: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tampered-bundle.json"
    path.write_text(json.dumps(tampered(store), indent=2))
    key = tmp_path / "platform.pub"
    key.write_text(store.key_text + "\n")
    with buyer(chromium) as page:
        page.goto(f"{served}/verify")
        assert verdict(page)["state"] == "idle"
        _check_by_hand(page, path, key)
        v = verdict(page)
        assert (v["state"], v["step"]) == ("failed", "leaf_hash")
        assert v["title"] == EN["verdict.failed"]
        assert v["lines"] == [EN["failure.tampered"], "The check failed at event 4."]
        open_everything(page)
        assert page.locator("#timeline > li").count() == 4  # v1-v3 passed, v4 marked failed
        assert "leaf_hash" in page.inner_text("#technical")
        page.screenshot(path=artifacts / "verifier-tampered.png", full_page=True)


def test_works_offline_from_a_file(
    chromium: Browser, store: Store, artifacts: Path, tmp_path: Path
) -> None:
    """No server: the page opened from disk, the bundle and the key chosen from files."""
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(store.bundle()))
    key = tmp_path / "platform.pub"
    key.write_text(store.key_text + "\n")
    with buyer(chromium) as page:
        requests = _requests(page)
        page.goto((STATIC / "verifier.html").as_uri())
        assert page.locator("#fetch-bundle").is_hidden()  # nothing to fetch from
        assert page.locator("#manual").evaluate("d => d.open")
        _check_by_hand(page, bundle, key)
        v = verdict(page)
        assert v["state"] == "flagged" and EN["line.tofu"] not in v["lines"]
        open_everything(page)
        assert EN["key.manual"] in page.inner_text("#technical")
        page.screenshot(path=artifacts / "verifier-offline.png", full_page=True)
        assert all(url.startswith("file://") for url in requests), requests


def test_verifying_again_gives_the_same_result_and_reports_its_time(
    page: Page, served: str, store: Store
) -> None:
    """The result carries the time the check took (the page shows it; how fast it is, is
    measured by bench/bench_browser_verify.py, never asserted here)."""
    page.goto(f"{served}/verify")
    text = json.dumps(store.bundle())
    outcomes = page.evaluate(
        """async ([text, key]) => {
            const out = [];
            for (let i = 0; i < 5; i++) {
                const o = await AssayVerifier.verifyText(text, key, "");
                out.push({ok: o.ok, step: o.step, ms: o.ms, events: o.result && o.result.events});
            }
            return out;
        }""",
        [text, store.key_text],
    )
    assert [o["ok"] for o in outcomes] == [True] * 5, outcomes
    assert {o["events"] for o in outcomes} == {10}
    assert all(isinstance(o["ms"], (int, float)) and o["ms"] >= 0 for o in outcomes)
