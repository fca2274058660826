"""The buyer's passport in headless Chromium, against `assay serve --pinned-key` on a real store.

Use case: a buyer scans the tag of a bag on a phone (360 × 740) or opens the link on a
laptop (1280 × 800), in English, Simplified Chinese or Japanese. With no click the page
fetches the proof and the current checkpoint, checks them with the key the deployment
pinned, and answers on top in plain words: genuine, a red warning for a flagged or stolen
bag, a plain-words failure for a tampered proof, no record for an unknown tag.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.server.pages import (
    LANGUAGES,
    VIEWPORTS,
    buyer,
    catalogue,
    horizontal_overflow,
    open_everything,
    open_item,
    says,
    verdict,
    wait_until,
)
from tests.server.passports import (
    BUYER_REFS,
    CORRECTED,
    FLAGGED,
    GENUINE,
    STOLEN,
    UNINSPECTED,
    UNKNOWN,
)
from tests.server.test_browser import tampered

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

    from tests.server.stores import Store

EVERY = [(v, lang) for v in VIEWPORTS for lang in LANGUAGES]


def _fits_and_keeps_secrets(page: Page) -> None:
    """No horizontal scroll with every fold open; no buyer reference anywhere in the page."""
    open_everything(page)
    assert horizontal_overflow(page) <= 0, f"{horizontal_overflow(page)} px of horizontal scroll"
    html = page.content()
    for ref in BUYER_REFS:
        assert ref not in html


def _above(page: Page, upper: str, lower: str) -> bool:
    a, b = page.locator(upper).bounding_box(), page.locator(lower).bounding_box()
    assert a is not None and b is not None
    return bool(a["y"] + a["height"] <= b["y"])


@pytest.mark.parametrize(("viewport", "lang"), EVERY)
def test_a_flagged_bag_shows_the_warning_above_the_product(
    chromium: Browser, pinned: str, viewport: Any, lang: str
) -> None:
    words = catalogue(lang)
    with buyer(chromium, viewport=viewport, locale=LANGUAGES[lang]) as page:
        shown = open_item(page, pinned, FLAGGED)
        print(f"\n{viewport} {lang}: verdict {shown} ms after navigation, no click")
        v = verdict(page)
        assert (v["state"], v["tone"]) == ("flagged", "bad")
        assert page.evaluate("document.documentElement.lang") == lang
        assert v["title"] == words["verdict.flagged"]
        assert v["lines"][0] == words["flag.scan_after_sale"]  # the signal, first, in words
        # The server writes bundle v2: the history is proven complete, as of a time.
        assert any(says(lang, "line.complete", line) for line in v["lines"]), v["lines"]
        assert words["line.inclusion_only"] not in v["lines"]
        assert words["line.tofu"] not in v["lines"]  # the key is pinned by the deployment
        assert page.locator("#passport").is_visible()
        assert _above(page, "#verdict", "#passport")
        facts = page.inner_text("#facts")
        assert "Maison Aurel Lune 28" in facts and "2017" in facts
        assert page.locator("#how").evaluate("d => !d.open")  # technical details folded
        _fits_and_keeps_secrets(page)


@pytest.mark.parametrize(("viewport", "lang"), EVERY)
def test_a_clean_bag_is_genuine(chromium: Browser, pinned: str, viewport: Any, lang: str) -> None:
    words = catalogue(lang)
    with buyer(chromium, viewport=viewport, locale=LANGUAGES[lang]) as page:
        open_item(page, pinned, GENUINE)
        v = verdict(page)
        assert (v["state"], v["tone"], v["title"]) == ("genuine", "ok", words["verdict.genuine"])
        # The bundle (version 4) proves the appraiser's registered name, so the page says it.
        assert says(lang, "line.authenticated", v["lines"][0], who="Lab")
        _fits_and_keeps_secrets(page)


def _serve_tampered(page: Page, store: Store) -> None:
    bundle = json.dumps(tampered(store, FLAGGED))

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=bundle)

    page.route("**/items/*/proof", answer)


@pytest.mark.parametrize(("viewport", "lang"), EVERY)
def test_a_tampered_proof_is_refused_in_plain_words(
    chromium: Browser, pinned: str, passports: Store, viewport: Any, lang: str
) -> None:
    """A dishonest server (or anyone between) changes a signed byte of event 4."""
    words = catalogue(lang)
    with buyer(
        chromium, viewport=viewport, locale=LANGUAGES[lang], service_workers="block"
    ) as page:
        _serve_tampered(page, passports)
        open_item(page, pinned, FLAGGED)
        v = verdict(page)
        assert (v["state"], v["tone"], v["step"]) == ("failed", "bad", "leaf_hash")
        assert v["title"] == words["verdict.failed"]
        assert v["lines"][0] == words["failure.tampered"]
        assert says(lang, "line.failed_at", v["lines"][1], version=4)
        assert page.locator("#passport").is_hidden()  # no product facts from a failed proof
        assert "leaf_hash" not in page.inner_text("#verdict")  # step codes stay folded
        open_everything(page)
        assert page.locator("#timeline > li").count() == 4  # v1-v3 passed, v4 failed
        assert "leaf_hash" in page.inner_text("#technical")
        _fits_and_keeps_secrets(page)


@pytest.mark.parametrize(("viewport", "lang"), EVERY)
def test_an_unknown_tag_without_an_absence_proof_has_no_record(
    chromium: Browser, pinned: str, viewport: Any, lang: str
) -> None:
    """A server whose checkpoint has no head map yet (a version 1 head) answers an unknown
    id with a plain 404: the page says there is no record, and never 'not registered',
    which only an absence proof may say (tests/server/test_page_complete.py has those)."""
    words = catalogue(lang)
    body = json.dumps({"error": "not_found", "message": "no item"})
    with buyer(chromium, viewport=viewport, locale=LANGUAGES[lang], expect_404=True) as page:
        page.route("**/items/*/proof", lambda r: r.fulfill(status=404, body=body))
        open_item(page, pinned, UNKNOWN)
        v = verdict(page)
        assert (v["state"], v["tone"]) == ("no_record", "bad")
        assert v["lines"] == [words["line.no_record"]]
        assert words["verdict.absent"] not in page.inner_text("body")
        _fits_and_keeps_secrets(page)


def test_a_stolen_bag_and_a_bag_never_authenticated(chromium: Browser, pinned: str) -> None:
    words = catalogue("en")
    with buyer(chromium) as page:
        open_item(page, pinned, STOLEN)
        v = verdict(page)
        assert (v["state"], v["tone"]) == ("retired", "bad")
        assert says("en", "retired.stolen", v["lines"][0], who="Ginza")
        assert "Out of circulation (stolen)" in page.inner_text("#facts")

        open_item(page, pinned, UNINSPECTED)
        v = verdict(page)
        assert (v["state"], v["tone"]) == ("registered", "ok")
        assert words["line.not_authenticated"] in v["lines"]
        assert words["line.pending.one"] in v["lines"]  # recorded after the checkpoint
        assert "Held by Dc at urn:epc:id:sgln:dc.0" in page.inner_text("#facts")
        open_everything(page)
        pending = page.locator("#timeline > li.pending")
        assert pending.count() == 1 and "Dc scanned it" in pending.inner_text()
        assert "not checked" in pending.inner_text()


@pytest.mark.parametrize(
    ("locale", "lang"), [("ja-JP", "ja"), ("zh-TW", "zh-Hans"), ("zh-CN", "zh-Hans"),
                         ("fr-FR", "en"), ("en-GB", "en")],
)  # fmt: skip
def test_the_browser_language_chooses_the_page_language(
    chromium: Browser, pinned: str, locale: str, lang: str
) -> None:
    with buyer(chromium, locale=locale) as page:
        open_item(page, pinned, GENUINE)
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.input_value("#lang") == lang
        assert verdict(page)["title"] == catalogue(lang)["verdict.genuine"]


def test_the_language_switch_is_remembered(chromium: Browser, pinned: str) -> None:
    with buyer(chromium, locale="en-US") as page:
        open_item(page, pinned, FLAGGED)
        page.select_option("#lang", "ja")
        ja = catalogue("ja")
        assert verdict(page)["title"] == ja["verdict.flagged"]
        assert page.inner_text("#passport-title") == ja["card.title"]
        assert page.title() == ja["app.title"]
        open_item(page, pinned, GENUINE)  # a new page load: no ?lang, the choice is kept
        assert verdict(page)["title"] == ja["verdict.genuine"]


@pytest.mark.parametrize(
    ("locale", "timezone", "when"),
    [("ja-JP", "Asia/Tokyo", "10:00"), ("en-GB", "Europe/London", "01:00"),
     ("en-US", "America/New_York", "8:00 PM")],
)  # fmt: skip
def test_dates_are_in_the_buyers_locale_and_time_zone(
    chromium: Browser, pinned: str, locale: str, timezone: str, when: str
) -> None:
    """The bag was registered at 2026-01-01 01:00 UTC."""
    with buyer(chromium, locale=locale, timezone=timezone) as page:
        open_item(page, pinned, FLAGGED)
        open_everything(page)
        first = page.inner_text("#timeline > li:first-child .when")
        assert when in first, first
        if timezone == "America/New_York":
            assert "Dec 31, 2025" in first


def test_the_certificate_prints_on_one_page(chromium: Browser, pinned: str) -> None:
    with buyer(chromium, viewport="desktop", locale="ja-JP") as page:
        open_item(page, pinned, FLAGGED)
        page.emulate_media(media="print")
        assert page.locator("main").is_hidden() and page.locator("#certificate").is_visible()
        certificate = page.inner_text("#certificate")
        ja = catalogue("ja")
        for text in (
            ja["cert.title"],
            ja["verdict.flagged"],
            ja["flag.scan_after_sale"],
            "Maison Aurel Lune 28",
            "assay.example/custody-log",
        ):
            assert text in certificate, text
        assert page.inner_text("#cert-link") == f"{pinned}/verify?item={quote(FLAGGED, safe='')}"
        wait_until(page, "() => document.getElementById('cert-qr').naturalWidth > 0")
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1


def test_print_is_offered_only_for_a_checked_item(chromium: Browser, pinned: str) -> None:
    with buyer(chromium, service_workers="block") as page:
        open_item(page, pinned, GENUINE)
        assert page.locator("#print").is_visible()
        page.route("**/items/*/proof", lambda r: r.fulfill(status=200, body='{"format": 1}'))
        open_item(page, pinned, GENUINE)
        assert verdict(page)["state"] == "failed"
        assert verdict(page)["lines"] == [catalogue("en")["failure.format"]]
        assert page.locator("#print").is_hidden()


def test_an_event_declared_in_error_is_shown_but_left_out_of_the_state(
    chromium: Browser, pinned: str
) -> None:
    """The brand keyed a shipping to dc by mistake and declared it in error; it then shipped
    the bag to Ginza. The item is held by Ginza, not in transit to dc."""
    words = catalogue("en")
    with buyer(chromium) as page:
        open_item(page, pinned, CORRECTED)
        v = verdict(page)
        assert (v["state"], v["tone"]) == ("genuine", "ok")
        assert words["line.corrected.one"] in v["lines"]
        assert "Held by Ginza at urn:epc:id:sgln:ginza.0" in page.inner_text("#facts")
        open_everything(page)
        entries = page.locator("#timeline > li")
        assert entries.count() == 6
        assert "withdrawn" in (entries.nth(2).get_attribute("class") or "")
        assert says("en", "timeline.declared", entries.nth(2).locator(".meta").first.inner_text(),
                    who="Brand", reason=words["error_reason.did_not_occur"])  # fmt: skip
        assert entries.nth(3).locator(".what").inner_text() == (
            f"Brand declared event 3 in error: {words['error_reason.did_not_occur']}"
        )


def test_a_proof_sent_with_a_404_is_checked_never_trusted(
    chromium: Browser, pinned: str, passports: Store
) -> None:
    """The API answers an unknown id with an absence proof (404, JSON body): the page
    verifies whatever comes, here a forged one, before saying anything."""
    body = json.dumps({"error": "not_found", "message": "no item", "proof": tampered(passports)})
    with buyer(chromium, service_workers="block", expect_404=True) as page:
        page.route("**/items/*/proof", lambda r: r.fulfill(status=404, body=body))
        open_item(page, pinned, UNKNOWN)
        v = verdict(page)
        assert (v["state"], v["step"]) == ("failed", "leaf_hash")
        assert catalogue("en")["verdict.absent"] not in page.inner_text("body")
