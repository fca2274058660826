"""Screenshots of the buyer's page in each state, for docs/verifier.md.

    uv run python -m bench.browser_shots [--out docs/verifier] [--icons]

Builds a store with the real ledger and anchor (tests/server/passports.py: a flagged bag,
a genuine one, a stolen one, one never authenticated), runs `assay serve --pinned-key` on
it, and opens each item's QR link in headless Chromium as a buyer would (360 × 740 phone,
1280 × 800 laptop; English, Simplified Chinese, Japanese; each in a matching time zone).
The states the verifier cannot produce yet (bundle v2: complete history, proven names,
absence; witnesses) are rendered from a real verified result with the contract's fields
added, and their file names say so (``contract-…``). Prints how long each verdict took
from navigation. ``--icons`` also renders server/static/icon.svg into the PNG icons.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import runtime
from tests.server.conftest import CHROMIUM, CHROMIUM_ARGS, STATIC, serving
from tests.server.pages import VIEWPORTS, open_everything, open_item, verdict, wait_until
from tests.server.passports import FLAGGED, GENUINE, STOLEN, UNKNOWN, build_passports
from tests.server.test_browser import tampered

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.server.stores import Store

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "verifier"
ZONES = {"en": "Europe/London", "zh-Hans": "Asia/Shanghai", "ja": "Asia/Tokyo"}
LOCALES = {"en": "en-GB", "zh-Hans": "zh-CN", "ja": "ja-JP"}


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class Shots:
    def __init__(self, browser: Browser, base: str, store: Store, out: Path) -> None:
        self.browser, self.base, self.store, self.out = browser, base, store, out

    def page(self, lang: str, viewport: str, **options: Any) -> Page:
        context = self.browser.new_context(
            viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
            locale=LOCALES[lang],
            timezone_id=ZONES[lang],
            service_workers="block",
            **options,
        )
        return context.new_page()

    def item(self, name: str, item: str, lang: str = "en", viewport: str = "phone") -> Page:
        page = self.page(lang, viewport)
        ms = open_item(page, self.base, item)
        self.save(page, name, f"{verdict(page)['state']}, verdict {ms} ms after navigation")
        return page

    def save(self, page: Page, name: str, note: str = "") -> None:
        path = self.out / f"{name}.png"
        page.screenshot(path=str(path))
        print(f"{_shown(path)}  {note}")

    def contract(self, name: str, item: str, result: dict[str, Any], lang: str = "en") -> None:
        page = self.page(lang, "phone")
        page.goto(f"{self.base}/verify")
        page.evaluate(
            """async ([text, key, extra]) => {
                const o = await AssayVerifier.verifyText(text, key, "");
                Object.assign(o.result, extra);
                AssayPage.show(o, {}, { itemId: o.result.item_id });
                document.getElementById("manual").open = false;
            }""",
            [json.dumps(self.store.bundle(item)), self.store.key_text, result],
        )
        self.save(page, f"contract-{name}", f"{verdict(page)['state']} (contract fields added)")
        page.context.close()


def take(shots: Shots) -> None:
    for lang in ("en", "zh-Hans", "ja"):
        shots.item(f"flagged-phone-{lang}", FLAGGED, lang).context.close()
    shots.item("genuine-phone-en", GENUINE).context.close()
    shots.item("genuine-desktop-en", GENUINE, viewport="desktop").context.close()
    shots.item("stolen-phone-en", STOLEN).context.close()
    shots.item("absent-phone-en", UNKNOWN).context.close()  # the API's absence proof
    # The API proves an unknown id absent (a version 2 head); "no record" is what a server
    # with no head map yet answers: a plain 404.
    page = shots.page("en", "phone")
    page.route("**/items/*/proof", lambda r: r.fulfill(status=404, body="{}"))
    open_item(page, shots.base, UNKNOWN)
    shots.save(page, "no-record-phone-en", "no_record: a plain 404, no absence proof")
    page.context.close()

    page = shots.page("en", "phone")
    body = json.dumps(tampered(shots.store, FLAGGED))
    page.route("**/items/*/proof", lambda r: r.fulfill(status=200, body=body))
    open_item(page, shots.base, FLAGGED)
    shots.save(page, "tampered-phone-en", "failed: a byte of event 4 changed in transit")
    page.context.close()

    page = shots.page("en", "phone")
    open_item(page, shots.base, FLAGGED)
    open_everything(page)
    page.locator("#manual").evaluate("d => { d.open = false; }")
    page.locator("#trust").evaluate("d => { d.open = false; }")
    box = page.locator("#how").bounding_box()
    assert box is not None
    clip = {"x": 0, "y": box["y"] - 8, "width": 360, "height": min(box["height"] + 16, 1400)}
    page.screenshot(path=str(shots.out / "how-checked-phone-en.png"), clip=clip, full_page=True)  # type: ignore[arg-type]
    print(f"{_shown(shots.out / 'how-checked-phone-en.png')}  the folded details")
    page.context.close()

    page = shots.page("ja", "desktop")
    open_item(page, shots.base, GENUINE)
    page.emulate_media(media="print")
    wait_until(page, "() => document.getElementById('cert-qr').naturalWidth > 0")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    shots.save(page, "certificate-ja", "the printed certificate (print media)")
    page.context.close()

    fresh = (datetime.now(UTC) - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    names = {"lab": {"name": "Certa Lab", "role": "appraiser", "proven": True},
             "ginza": {"name": "Maison Aurel Ginza", "role": "store", "proven": True}}  # fmt: skip
    witnesses = {"required": 2, "total": 3, "quorum_met": True,
                 "cosigned": [{"name": "aurel.example/witness", "time": fresh},
                              {"name": "lumen.example/witness", "time": fresh}]}  # fmt: skip
    shots.contract("complete-witnessed-phone-en", GENUINE, {
        "bundle_version": 2, "completeness": "complete", "checkpoint_time": fresh,
        "parties": names, "witnesses": witnesses})  # fmt: skip


def offline(browser: Browser, store: Store, out: Path, work: Path) -> None:
    """The same link again with the server stopped: the saved proof, checked again."""
    key = runtime.platform_verifier_path(store.settings)
    context = browser.new_context(
        viewport=VIEWPORTS["phone"],  # type: ignore[arg-type]
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
    )
    page = context.new_page()
    with serving(store.settings.data_dir, work, "--pinned-key", str(key)) as base:
        open_item(page, base, FLAGGED)
        wait_until(page, "() => navigator.serviceWorker.controller !== null")
        wait_until(page, "async () => (await (await caches.open('assay-page')).keys()).length > 15")
    page.reload()
    page.wait_for_selector("#verdict[data-verdict=flagged]", timeout=15_000)
    page.screenshot(path=str(out / "offline-phone-ja.png"))
    print(f"{_shown(out / 'offline-phone-ja.png')}  offline, server stopped")
    context.close()


def icons(browser: Browser) -> None:
    svg = (STATIC / "icon.svg").read_text()
    for size in (192, 512):
        page = browser.new_page(viewport={"width": size, "height": size})
        page.set_content(
            "<style>html,body{margin:0;background:transparent}"
            f"svg{{display:block;width:{size}px;height:{size}px}}</style>{svg}"
        )
        page.screenshot(path=str(STATIC / f"icon-{size}.png"), omit_background=True)
        page.close()
        print(f"server/static/icon-{size}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser_shots")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT.relative_to(ROOT)}")
    parser.add_argument("--icons", action="store_true", help="also render the page's icons")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="assay-shots-") as work:
        store = build_passports(Path(work) / "assay-data")
        key = runtime.platform_verifier_path(store.settings)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            if args.icons:
                icons(browser)
            with serving(store.settings.data_dir, Path(work), "--pinned-key", str(key)) as base:
                take(Shots(browser, base, store, args.out))
            offline(browser, store, args.out, Path(work))
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
