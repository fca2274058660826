"""The owner's statements from the buyer's page, with the key that never leaves the browser.

The buyer claims the bag in the page (headless Chromium, WebCrypto Ed25519 key in
IndexedDB), then, from the page's owner panel, reports it stolen and withdraws the report,
and transfers it: the page shows a new one-time claim code, which a second owner uses with
``assay owner claim``. Every statement travels the real way: the owner endpoint
(``assay owner serve`` on loopback), Kafka, the ingest. A second tab of the first browser,
opened before the transfer, then says in plain words (in Japanese) that its key no longer
speaks for the bag. A second item claimed in the same browser is consigned to the lab with
the panel's consignee field, once the ledger refused a first consignment made stale by a
scan. The panel with its actions, its confirmation and the new code
has no serious accessibility violations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assay.cli import main
from domain.custody import Kind
from domain.privacy import new_claim_code
from streams.owner_keys import OwnerKey
from tests.domain.test_privacy import PRINTED_CODE, TYPED_CODES
from tests.server.conftest import serving
from tests.server.pages import catalogue, serious_violations, verdict
from tests.server.test_owner_endpoint import owner_serving
from tests.server.test_ownership_scenario import GINZA, OSAKA, Site, open_page, owner_panel

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.kafka

BAG = "urn:epc:id:sgtin:0614141.107346.4001"
SCARF = "urn:assay:item:scarf-9"
EN = catalogue("en")
JA = catalogue("ja")
#: What Chromium logs for a request the endpoint answers 409 (the page says why in words).
REFUSED_LOAD = "Failed to load resource: the server responded with a status of 409 (Conflict)"
#: Holds the page's next statement POST until the test calls window.assayRelease().
HOLD_NEXT_POST = """() => {
  const send = window.fetch;
  window.fetch = async (url, init) => {
    if (init && init.method === "POST") {
      window.fetch = send;
      await new Promise((resolve) => { window.assayRelease = resolve; window.assayHeld = true; });
    }
    return send(url, init);
  };
}"""


def progress(page: Page, key: str, words: dict[str, str] = EN, **params: str) -> None:
    """Wait until the panel's progress line says the catalogue's words for key."""
    text = words[key]
    for name, value in params.items():
        text = text.replace(f"{{{name}}}", value)
    try:
        page.wait_for_function(
            "(text) => document.getElementById('owner-progress').textContent === text",
            arg=text,
            timeout=60000,
        )
    except Exception:
        assert page.inner_text("#owner-progress") == text
        raise


def refused_once(errors: list[str]) -> None:
    """The page logged one refused request (the endpoint's 409): expected, taken out."""
    assert errors == [REFUSED_LOAD], errors
    errors.clear()


def confirm(page: Page, button: str) -> None:
    page.click(button)
    page.wait_for_selector("#owner-confirm", state="visible")
    page.click("#owner-confirm-yes")


def claim_in_page(page: Page, site: Site, base: str, item: str, code: str) -> None:
    open_page(page, base, item)
    assert owner_panel(page)["who"] == "open"
    page.fill("#claim-code", code)
    page.click("#claim")
    site.until(lambda: site.state(item).ownership.owner_key is not None, "the claim")
    page.wait_for_selector("#owner-actions", state="visible", timeout=60000)
    assert owner_panel(page)["who"] == "you"


def test_the_owner_reports_withdraws_and_transfers_from_the_page(
    kafka_bootstrap: str, tmp_path: Path, page: Page, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], page_errors: list[str],
) -> None:  # fmt: skip
    site = Site(tmp_path, kafka_bootstrap)
    scan = site.scanners
    scan["brand"].commission(BAG, tag_uid="NFC-4001", brand="B", model="Lune 30", serial="4001")
    scan["lab"].inspect(BAG, verdict="genuine", certificate="CERT-4001")
    scan["brand"].ship(BAG, to="ginza")
    scan["ginza"].receive(BAG, **GINZA)
    first_code = site.sell(BAG, "Ms Aiko Tanaka")
    scan["lab"].publish(scan["lab"].event(
        Kind.INTAKE, SCARF, tag_uid="NFC-S-9", brand="B", model="Carré", verdict="genuine",
        certificate="CERT-S-9"))  # fmt: skip
    scan["lab"].ship(SCARF, to="ginza")
    scan["ginza"].receive(SCARF, **GINZA)
    scarf_code = site.sell(SCARF, "Mr Kenji Mori")
    site.settle()

    with owner_serving(site.env, tmp_path) as owners:
        monkeypatch.setenv("ASSAY_PAGE_OWNER_ENDPOINT", owners)
        with serving(site.data_dir, tmp_path) as base:
            # A mistyped code: the endpoint refuses it at once and the page says why.
            open_page(page, base, BAG)
            page.fill("#claim-code", new_claim_code())
            page.click("#claim")
            said = EN["owner.refused"].replace("{reason}", EN["owner_refusal.wrong_claim_code"])
            page.wait_for_function(
                "(t) => document.getElementById('owner-status').textContent === t", arg=said
            )
            assert site.state(BAG).ownership.owner_key is None
            refused_once(page_errors)

            claim_in_page(page, site, base, BAG, first_code)
            assert verdict(page)["state"] == "genuine", verdict(page)
            browser_key: str = page.evaluate("AssayOwner.ownKey(false).then((k) => k.publicKeyHex)")
            assert page.is_hidden("#withdraw-report")
            assert serious_violations(page) == []

            # The page reads a typed code and makes a new one as domain/privacy.py does.
            typed = [t for t, _ in TYPED_CODES]
            assert page.evaluate("(ts) => ts.map(AssayOwner.typedClaimCode)", typed) == [
                m for _, m in TYPED_CODES
            ]
            fresh: list[str] = page.evaluate("[1, 2, 3].map(() => AssayOwner.newClaimCode())")
            assert all(PRINTED_CODE.fullmatch(c) for c in fresh) and len(set(fresh)) == 3, fresh

            # Reported stolen from the page, after a confirmation.
            page.click("#report-stolen")
            page.wait_for_selector("#owner-confirm", state="visible")
            assert page.inner_text("#owner-confirm-text") == EN["owner.confirm_stolen"]
            assert serious_violations(page) == []
            page.click("#owner-confirm-yes")
            site.until(lambda: site.state(BAG).ownership.missing is not None, "the report")
            assert site.state(BAG).ownership.missing.value == "stolen"
            assert site.state(BAG).ownership.owner_key == browser_key
            progress(page, "owner.done.report_stolen")
            assert EN["reason.stolen"] in owner_panel(page)["text"]
            assert page.is_visible("#withdraw-report") and page.is_hidden("#transfer")

            # Withdrawn from the page.
            page.click("#withdraw-report")
            site.until(lambda: site.state(BAG).ownership.missing is None, "the withdrawal")
            progress(page, "owner.done.withdraw_report")
            assert page.is_visible("#transfer") and page.is_hidden("#withdraw-report")

            # A second tab of this browser, left open on the owner's view (of a sealed proof).
            site.store.anchor()
            stale = page.context.new_page()
            open_page(stale, base, BAG)
            stale.wait_for_selector("#owner-actions", state="visible", timeout=60000)

            # A cancelled transfer sends nothing.
            version = site.store.world.ledger.get_item(BAG).version
            page.click("#transfer")
            page.click("#owner-confirm-no")
            progress(page, "owner.cancelled")
            site.flush_and_ingest()
            assert site.store.world.ledger.get_item(BAG).version == version

            # Transferred from the page: the new code is shown once, with its warning.
            confirm(page, "#transfer")
            page.wait_for_selector("#owner-new-code", state="visible", timeout=60000)
            new_code = page.input_value("#new-code")
            assert PRINTED_CODE.fullmatch(new_code), new_code
            assert page.inner_text("#owner-new-code").startswith(EN["owner.code_once"])
            site.until(lambda: site.state(BAG).ownership.owner_key is None, "the transfer")
            assert site.state(BAG).ownership.open_claim is not None
            progress(page, "owner.done.transfer")
            assert owner_panel(page)["who"] == "open" and page.is_hidden("#owner-actions")
            assert serious_violations(page) == []

            # The next owner claims with that code, from the command line.
            bob_file = tmp_path / "bob.owner.key"
            assert main(["owner", "keygen", "--out", str(bob_file)]) == 0
            bob = OwnerKey.load(bob_file)
            typed = new_code.replace("-", "").lower()  # as a buyer might type it
            assert main(["owner", "claim", BAG, "--code", typed, "--key", str(bob_file),
                         "--endpoint", owners]) == 0  # fmt: skip
            capsys.readouterr()
            site.until(lambda: site.state(BAG).ownership.owner_key == bob.public_key_hex, "claim 2")

            # The stale tab, in Japanese: its key no longer speaks for the bag; nothing sent.
            stale.select_option("#lang", "ja")
            version = site.store.world.ledger.get_item(BAG).version
            confirm(stale, "#report-stolen")
            progress(stale, "owner_refusal.not_owner", JA)
            assert owner_panel(stale)["who"] == "other" and stale.is_hidden("#owner-actions")
            site.flush_and_ingest()
            assert site.store.world.ledger.get_item(BAG).version == version
            stale.select_option("#lang", "en")  # the choice is kept for the next page
            stale.close()

            # The first browser no longer says "you are the owner" once the proof says so.
            site.store.anchor()
            open_page(page, base, BAG)
            panel = owner_panel(page)
            assert panel["who"] == "other" and bob.fingerprint in panel["text"]
            assert page.is_hidden("#owner-actions")

            # A second item, claimed in this browser, consigned to the lab from the panel.
            # (typed as a buyer might: lower case, spaces for dashes)
            claim_in_page(page, site, base, SCARF, scarf_code.lower().replace("-", " "))
            page.click("#consign")
            progress(page, "owner.need_consignee")
            page.fill("#consignee", "lab")

            # A scan lands after the page read the version and before its statement: the
            # endpoint refuses the stale consignment (409, nothing published), and the page
            # says so in plain words.
            # The page's POST is held (not answered: sent later, unchanged) while the scan
            # is ingested. page.route cannot do it: the service worker carries the request.
            page.evaluate(HOLD_NEXT_POST)
            version = site.store.world.ledger.get_item(SCARF).version
            confirm(page, "#consign")
            page.wait_for_function("() => window.assayHeld === true", timeout=60000)
            scan["osaka"].observe(SCARF, **OSAKA)
            site.until(lambda: site.store.world.ledger.get_item(SCARF).version > version, "scan")
            after_scan = site.store.world.ledger.get_item(SCARF).version
            page.evaluate("() => window.assayRelease()")
            stale = EN["owner.failed"].replace("{reason}", EN["owner_refusal.stale_statement"])
            page.wait_for_function(
                "(t) => document.getElementById('owner-progress').textContent === t", arg=stale
            )
            refused_once(page_errors)
            site.flush_and_ingest()  # nothing the endpoint refused reaches the ledger
            assert site.store.world.ledger.get_item(SCARF).version == after_scan
            assert site.state(SCARF).consignee is None
            assert owner_panel(page)["who"] == "you"

            confirm(page, "#consign")
            site.until(lambda: site.state(SCARF).consignee == "lab", "the consignment")
            progress(page, "owner.done.consign", consignee="lab")
    site.close()
