"""The installed page offline, its accessibility and its keyboard use, in headless Chromium.

Use case: a buyer checks a bag in the shop, then later, with no network (the server is
stopped), opens the same link again: the page, its pinned key and the proof saved on the
first visit are still there, and the proof is checked again on the device. An
accessibility audit (axe-core) of every state finds no serious or critical violation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assay import runtime
from tests.server.conftest import serving
from tests.server.pages import (
    buyer,
    catalogue,
    open_everything,
    open_item,
    says,
    serious_violations,
    verdict,
    wait_until,
)
from tests.server.passports import FLAGGED, GENUINE, UNKNOWN
from tests.server.test_browser import tampered

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.server.stores import Store

EN = catalogue("en")


def _wait_offline_ready(page: Page) -> None:
    """The service worker controls the page and holds the page and every file it needs."""
    wait_until(page, "() => navigator.serviceWorker.controller !== null")
    wait_until(
        page,
        """async () => {
            const cache = await caches.open("assay-page");
            const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
            return ["/", "/page.js", "/i18n-ja.js", "/manifest.webmanifest"]
                .every((p) => keys.includes(p));
        }""",
    )


def test_after_one_visit_the_page_verifies_offline(
    chromium: Browser, passports: Store, tmp_path: Path
) -> None:
    key = runtime.platform_verifier_path(passports.settings)
    saved = tmp_path / "saved-bundle.json"
    saved.write_text(json.dumps(passports.bundle(GENUINE)))
    with buyer(chromium, locale="ja-JP", expect_offline=True) as page:
        with serving(passports.settings.data_dir, tmp_path, "--pinned-key", str(key)) as base:
            open_item(page, base, FLAGGED)
            assert verdict(page)["state"] == "flagged"
            manifest = page.evaluate(
                "async () => (await fetch(document.querySelector('link[rel=manifest]').href))"
                ".json()"
            )
            assert manifest["display"] == "standalone" and len(manifest["icons"]) >= 2
            _wait_offline_ready(page)
        # The server is stopped: nothing answers on its port any more.
        page.reload()
        page.wait_for_selector("#verdict[data-verdict=flagged]", timeout=15_000)
        v = verdict(page)
        assert v["title"] == catalogue("ja")["verdict.flagged"]
        assert any(says("ja", "line.offline", line) for line in v["lines"]), v["lines"]
        assert catalogue("ja")["line.tofu"] not in v["lines"]  # the pinned key came along

        # A proof saved as a file, checked by hand on the offline page.
        page.goto(f"{base}/verify")
        assert page.locator("#manual").evaluate("d => d.open")  # nothing to check: the form
        page.set_input_files("#bundle-file", str(saved))
        assert page.input_value("#key-text") == passports.key_text  # pinned in the page
        page.click("#verify")
        page.wait_for_selector("#verdict[data-verdict=genuine]", timeout=15_000)

        # An item never checked on this device: nothing to fall back on, and it says so.
        open_item(page, base, UNKNOWN)
        assert verdict(page)["state"] == "unreachable"


@pytest.mark.parametrize(
    ("state", "viewport", "lang"),
    [("flagged", "phone", "en"), ("genuine", "desktop", "ja"), ("failed", "phone", "zh-Hans"),
     ("no_record", "desktop", "en"), ("absent", "phone", "zh-Hans"), ("idle", "phone", "ja")],
)  # fmt: skip
def test_no_serious_accessibility_violations(
    chromium: Browser, pinned: str, passports: Store, state: str, viewport: Any, lang: str
) -> None:
    with buyer(
        chromium, viewport=viewport, locale=f"{lang}", service_workers="block",
        expect_404=state in ("no_record", "absent"),
    ) as page:  # fmt: skip
        if state == "no_record":  # a server with no head map yet: a plain 404
            page.route("**/items/*/proof", lambda r: r.fulfill(status=404, body="{}"))
        if state == "failed":
            body = json.dumps(tampered(passports, FLAGGED))
            page.route("**/items/*/proof", lambda r: r.fulfill(status=200, body=body))
        if state == "idle":
            page.goto(f"{pinned}/verify")
        else:
            item = {"flagged": FLAGGED, "genuine": GENUINE, "failed": FLAGGED}.get(state, UNKNOWN)
            open_item(page, pinned, item)
        assert verdict(page)["state"] == state
        assert serious_violations(page) == []
        open_everything(page)  # the folded details too
        assert serious_violations(page) == []


def test_the_page_works_with_the_keyboard(chromium: Browser, pinned: str) -> None:
    with buyer(chromium) as page:
        open_item(page, pinned, GENUINE)
        focused: list[str] = []
        for _ in range(40):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("document.activeElement.id || document.activeElement"
                                         ".closest('[id]').id"))  # fmt: skip
            if focused[-1] == "how":
                break
        assert "lang" in focused and "print" in focused and focused[-1] == "how", focused
        assert any(f == "facts" for f in focused)  # the copy button of the item id
        page.keyboard.press("Enter")
        assert page.locator("#how").evaluate("d => d.open")
        assert page.locator("#timeline").is_visible()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")  # the copy button of the item id
        page.locator("#copied", has_text=EN["action.copied"]).or_(
            page.locator("#copied", has_text=EN["action.copy_failed"])
        ).wait_for()
        if page.inner_text("#copied") == EN["action.copy_failed"]:  # no clipboard: selected
            assert page.evaluate("String(getSelection())") == GENUINE


def test_the_audit_finds_what_it_should(chromium: Browser, pinned: str) -> None:
    """The audit is live: grey-on-grey text and an unlabelled field are reported."""
    with buyer(chromium) as page:
        open_item(page, pinned, GENUINE)
        page.evaluate(
            """() => {
                const p = document.createElement("p");
                p.textContent = "barely readable";
                p.style.cssText = "color: #bbb; background: #ccc";
                const input = document.createElement("input");
                document.querySelector("main").append(p, input);
            }"""
        )
        found = {v["id"] for v in serious_violations(page)}
        assert {"color-contrast", "label"} <= found, found


def test_an_exported_page_checks_a_file_with_its_pinned_key(
    chromium: Browser, passports: Store, tmp_path: Path
) -> None:
    """`assay page --pinned-key` for a brand hosting the page: from disk, no server."""
    from assay.cli import main

    key = runtime.platform_verifier_path(passports.settings)
    assert main(["page", "--out", str(tmp_path / "site"), "--pinned-key", str(key)]) == 0
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(passports.bundle(GENUINE)))
    with buyer(chromium) as page:
        page.goto((tmp_path / "site" / "verifier.html").as_uri())
        assert page.input_value("#key-text") == passports.key_text
        assert page.inner_text("#key-status") == EN["manual.key_pinned"]
        page.set_input_files("#bundle-file", str(bundle))
        page.click("#verify")
        page.wait_for_selector("#verdict[data-verdict=genuine]")
        open_everything(page)
        assert EN["key.deployment"] in page.inner_text("#technical")
