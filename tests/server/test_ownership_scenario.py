"""The item's life after the shop, told once end to end (docs/custody-rules.md, "Ownership").

Everything travels the real way: scanners and owners sign, Kafka carries, the ingest
judges, the anchor seals, ``assay serve`` and ``assay owner serve`` run as processes on
loopback, and the buyer's page runs in headless Chromium with its key made by WebCrypto.

Use case 1: Maison Aurel commissions a bag; the lab authenticates it; it is sold at Ginza
            with a claim code on the receipt.
Use case 2: the buyer opens the bag's page and claims it with the code: the key stays in
            the browser; the page then says "you are the owner", by fingerprint.
Use case 3: the buyer consigns it for resale; the lab receives and re-inspects it; Ginza
            sells it again with a new code; a second buyer claims it (``assay owner claim``).
Use case 4: the second owner reports it stolen; a scan in Osaka is flagged.
Use case 5: a second, pre-owned bag enters by the lab's intake and is sold.
Use case 6: what the ledger refuses: a transfer by a non-owner, a stale transfer, a reused
            claim code, a forged owner signature — each in custody.rejected with its code.
Use case 7: the proofs hold every step; the page shows owner fingerprints, never names.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.verify import read_bundle, verify_bundle
from anchoring.verify_owner import current_owner
from assay import runtime
from assay.cli import main
from domain.custody import Kind
from domain.privacy import claim_commitment, new_claim_code
from ledger.disclosures import DisclosureStore
from streams.envelope import open_envelope
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from streams.producer import Producer
from streams.scanner import Scanner
from tests.server.conftest import serving
from tests.server.pages import catalogue, verdict
from tests.server.stores import Store, store_settings
from tests.server.test_owner_endpoint import call, owner_serving
from tests.streams.test_ingest import Topics, dead_letters, ingest_once
from tests.support import make_world

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.kafka

BAG = "urn:epc:id:sgtin:0614141.107346.3001"
PREOWNED = "urn:assay:item:preowned-7"
EN = catalogue("en")
OSAKA = {"latitude": 34.7025, "longitude": 135.4959}
GINZA = {"latitude": 35.6717, "longitude": 139.7650}


class Site:
    """The deployment of this story: stores, broker topics, scanners and the ingest."""

    def __init__(self, root: Path, bootstrap: str) -> None:
        self.data_dir = root / "assay-data"
        self.store = Store(store_settings(self.data_dir, 2), make_world(self.data_dir))
        self.bootstrap = bootstrap
        self.topics = Topics(bootstrap, partitions=1)
        self.producer = Producer(bootstrap)
        self.scanners = {
            party: Scanner(key, self.producer, topic=self.topics.events, location=f"loc-{party}")
            for party, key in self.store.world.keys.items()
        }
        self.disclosures = DisclosureStore(self.data_dir / "disclosures.sqlite")
        self.env = {**os.environ, **self.topics.env(bootstrap, self.data_dir)}

    def flush_and_ingest(self) -> None:
        self.producer.flush()
        ingest_once(self.store.world, self.bootstrap, self.topics, idle=1.0)

    def settle(self) -> None:
        """Ingest what is on the topic, then seal it into a signed checkpoint."""
        self.flush_and_ingest()
        self.store.anchor()

    def state(self, item: str) -> Any:
        return self.store.world.ledger.get_item(item).state

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what}")
            self.flush_and_ingest()

    def sell(self, item: str, buyer: str) -> str:
        code = new_claim_code()
        self.scanners["ginza"].sell_privately(
            item, buyer_ref=buyer, disclosures=self.disclosures, claim_code=code
        )
        return code

    def close(self) -> None:
        self.producer.close()
        self.disclosures.close()


def owner_panel(page: Page) -> dict[str, str]:
    """The owner panel once it has rendered (it reads this browser's key first)."""
    page.wait_for_function(
        "() => !!document.getElementById('owner-status').dataset.owner", timeout=60000
    )
    out: dict[str, str] = page.evaluate(
        """() => ({ text: document.getElementById("owner-status").textContent,
                    who: document.getElementById("owner-status").dataset.owner || "" })"""
    )
    return out


def open_page(page: Page, base: str, item: str) -> None:
    page.goto(f"{base}/verify?item={item}")
    page.wait_for_function(
        "() => !['idle', 'checking'].includes(document.getElementById('verdict').dataset.verdict)",
        timeout=60000,
    )


def test_a_bag_from_the_brand_to_its_third_owner_and_a_theft(
    kafka_bootstrap: str, tmp_path: Path, page: Page, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    site = Site(tmp_path, kafka_bootstrap)
    scan = site.scanners

    # Use case 1: commissioned by its brand, authenticated, sold with a claim code.
    scan["brand"].commission(BAG, tag_uid="NFC-3001", brand="B", model="Lune 28", serial="3001")
    scan["lab"].inspect(BAG, verdict="genuine", certificate="CERT-3001")
    scan["brand"].ship(BAG, to="ginza")
    scan["ginza"].receive(BAG, **GINZA)
    first_code = site.sell(BAG, "Ms Aiko Tanaka")
    site.settle()
    assert site.state(BAG).ownership.open_claim is not None

    with owner_serving(site.env, tmp_path) as owners:
        monkeypatch.setenv("ASSAY_PAGE_OWNER_ENDPOINT", owners)
        with serving(site.data_dir, tmp_path) as base:
            # Use case 2: the buyer claims the bag in the page, with a key kept in the browser.
            open_page(page, base, BAG)
            assert verdict(page)["state"] == "genuine", verdict(page)
            assert owner_panel(page)["who"] == "open"
            page.fill("#claim-code", first_code)
            page.click("#claim")
            site.until(lambda: site.state(BAG).ownership.owner_key is not None, "the claim")
            page.wait_for_function(
                "() => document.getElementById('owner-status').dataset.owner === 'you'",
                timeout=60000,
            )
            browser_key: str = page.evaluate("AssayOwner.ownKey(false).then((k) => k.publicKeyHex)")
            assert site.state(BAG).ownership.owner_key == browser_key
            extractable = page.evaluate(
                "AssayOwner.ownKey(false).then((k) => k.privateKey.extractable)"
            )
            assert extractable is False
            site.store.anchor()
            open_page(page, base, BAG)
            first_owner = site.state(BAG).ownership.owner
            panel = owner_panel(page)
            assert panel["who"] == "you" and first_owner in panel["text"]
            assert first_owner in page.inner_text("#facts")

            # Use case 3: consigned from the browser, re-inspected, sold again, claimed by a
            # second buyer with `assay owner claim`.
            page.evaluate("(item) => AssayOwner.state(item, 'consign', {consignee: 'lab'})", BAG)
            site.until(lambda: site.state(BAG).consignee == "lab", "the consignment")
            assert site.state(BAG).verdict is None  # to be inspected again
            scan["lab"].receive(BAG)
            scan["lab"].inspect(BAG, verdict="genuine", certificate="CERT-3001-R")
            scan["lab"].ship(BAG, to="ginza")
            scan["ginza"].receive(BAG, **GINZA)
            second_code = site.sell(BAG, "Mr Kenji Mori")
            site.settle()
            bob_file = tmp_path / "bob.owner.key"
            assert main(["owner", "keygen", "--out", str(bob_file)]) == 0
            bob = OwnerKey.load(bob_file)

            def owner(*args: str) -> str:
                assert main(["owner", *args, "--endpoint", owners]) == 0
                return capsys.readouterr().out

            owner("claim", BAG, "--code", second_code, "--key", str(bob_file))
            site.until(lambda: site.state(BAG).ownership.owner_key == bob.public_key_hex, "claim 2")

            # Use case 4: reported stolen by the second owner; scanned in another city.
            owner("report-stolen", BAG, "--key", str(bob_file))
            site.until(lambda: site.state(BAG).ownership.missing is not None, "the report")
            scan["osaka"].observe(BAG, **OSAKA)
            site.flush_and_ingest()
            flags = [f.signal.value for f in site.state(BAG).flags]
            assert flags[-1] == "reported_missing", flags

            # Use case 5: a pre-owned bag by the lab's intake, then sold.
            scan["lab"].publish(scan["lab"].event(
                Kind.INTAKE, PREOWNED, tag_uid="NFC-PO-7", brand="Hermès", model="Kelly 28",
                verdict="genuine", certificate="CERT-PO-7"))  # fmt: skip
            scan["lab"].ship(PREOWNED, to="ginza")
            scan["ginza"].receive(PREOWNED, **GINZA)
            site.sell(PREOWNED, "Ms Li Wen")

            # Use case 6: the refusals.
            eve_file = tmp_path / "eve.owner.key"
            assert main(["owner", "keygen", "--out", str(eve_file)]) == 0
            # The endpoint refuses at once what the ledger's rules refuse as it stands (409,
            # the rule's code, nothing published); sent past it, straight to the broker, the
            # same statements are refused by the ingest, to custody.rejected.
            eve = OwnerKey.load(eve_file)
            salt, digest = claim_commitment(new_claim_code())
            now = site.store.world.ledger.get_item(BAG).version
            by_eve = new_statement(eve, "transfer", BAG, now, claim_salt=salt, claim_digest=digest)
            stale = new_statement(bob, "transfer", BAG, 3, claim_salt=salt, claim_digest=digest)
            for statement, key, rule in (
                (by_eve, eve, "not_owner"),
                (stale, bob, "stale_statement"),
            ):
                envelope = seal_statement(statement, key)
                body = json.dumps({"envelope_b64": base64.b64encode(envelope).decode()}).encode()
                status, answer = call(owners, "/owner/statements", body)
                assert (status, answer["error"]) == (409, rule), answer
                site.producer.send(site.topics.events, envelope, key=BAG.encode())
            thief = OwnerKey.generate()
            reused = new_statement(thief, "claim", BAG, 0, claim_code=first_code)
            site.producer.send(site.topics.events, seal_statement(reused, thief), key=BAG.encode())
            # A forger with access to the broker: Bob's key named, Eve's signature.
            body = open_envelope(
                seal_statement(new_statement(bob, "withdraw_report", BAG, 0), bob)
            ).body
            forged = wrap(bob.public_key_hex, body, eve.sign(body))
            site.producer.send(site.topics.events, forged, key=BAG.encode())
            site.settle()
            letters = dead_letters(kafka_bootstrap, site.topics.rejected, 4)
            assert sorted(letter.code for letter in letters) == [
                "bad_signature",
                "claim_code_reused",
                "not_owner",
                "stale_statement",
            ]
            assert forged in [letter.value for letter in letters]  # the original bytes

            # Use case 7: the proofs hold every step; the page shows fingerprints only.
            bundle = site.store.bundle(BAG)
            verified = verify_bundle(
                read_bundle(json.dumps(bundle)), runtime.platform_verifier(site.store.settings)
            )
            statements = [s for s in verified.summaries if s.get("owner_statement")]
            assert [s["kind"] for s in statements] == [
                "claim",
                "consign",
                "claim",
                "report_missing",
            ]
            ownership = current_owner(verified.summaries)
            assert (ownership["owner"], ownership["missing"]) == (bob.fingerprint, "stolen")
            assert "reported_missing" in [s.get("flag") for s in verified.summaries]
            assert [s["signer"] for s in statements] == [first_owner] * 2 + [bob.fingerprint] * 2
            verify_bundle(
                site.store.bundle(PREOWNED), runtime.platform_verifier(site.store.settings)
            )
            assert site.state(PREOWNED).status.value == "sold"

            status, item = call(base, f"/items/{BAG}")
            stated = [e for e in item["history"] if e["record"] == "owner_stated"]
            assert status == 200 and len(stated) == 4
            assert stated[-1]["details"]["owner"] == bob.fingerprint
            assert f"owner key {bob.fingerprint} reported it stolen" in stated[-1]["sentence"]

            open_page(page, base, BAG)
            assert verdict(page)["state"] != "failed", verdict(page)
            panel = owner_panel(page)
            assert panel["who"] == "other" and bob.fingerprint in panel["text"]
            assert EN["reason.stolen"] in panel["text"]
            text = page.inner_text("body")
            for name in ("Aiko", "Tanaka", "Kenji", "Mori", "Li Wen"):
                assert name not in text and name not in json.dumps([bundle, item])
    site.close()
