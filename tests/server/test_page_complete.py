"""The buyer's page on format version 2, end to end: `assay serve --pinned-key` on the real
passports store, in headless Chromium, opened from QR links with no click.

A complete history says so, with its time; an unknown id answered with an absence proof is
"not registered"; a history cut short, a refuted absence, another item's proof and a stale
checkpoint are each refused in plain words, in every language of the page.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.headmap import item_key
from tests.server.complete import Chains, absence_bundle, build_chains, v2_bundle
from tests.server.conftest import STATIC
from tests.server.pages import LANGUAGES, buyer, catalogue, open_everything, open_item, says
from tests.server.pages import verdict as verdict_of
from tests.server.passports import FLAGGED, GENUINE, UNKNOWN

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page, Route

    from tests.server.stores import Store


def _serve(page: Page, status: int, body: Any) -> None:
    """Answer the page's proof request with ``body``, as a server that writes it would."""
    text = json.dumps(body)

    def answer(route: Route) -> None:
        route.fulfill(status=status, content_type="application/json", body=text)

    page.route("**/items/*/proof", answer)


def _unknown(bundle: Any) -> dict[str, Any]:
    return {"error": "unknown_item", "item_id": UNKNOWN, "absence_proof": bundle}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_demo_bag_has_a_complete_history(chromium: Browser, pinned: str, lang: str) -> None:
    """The QR link, as the server answers it (it writes bundle v4), with no click."""
    words = catalogue(lang)
    with buyer(chromium, locale=LANGUAGES[lang]) as page:
        open_item(page, pinned, FLAGGED)
        v = verdict_of(page)
        assert (v["state"], v["tone"]) == ("flagged", "bad")  # the flag still comes first
        complete = [line for line in v["lines"] if says(lang, "line.complete", line)]
        assert len(complete) == 1, v["lines"]
        assert words["line.inclusion_only"] not in v["lines"]
        # "as of" a real time: the head's sealed_at read as a date, not "Invalid Date".
        assert re.search(r"[0-9]", complete[0]) and "Invalid" not in complete[0]
        open_everything(page)
        assert words["how.complete"] in page.inner_text("#checks")
        assert words["tech.format_v5"] in page.inner_text("#technical")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_unknown_id_with_an_absence_proof_is_not_registered(
    chromium: Browser, pinned: str, lang: str
) -> None:
    """The QR link of an id the ledger never recorded, as the server answers it: 404
    unknown_item with the id's absence proof, which the page verifies."""
    words = catalogue(lang)
    with buyer(chromium, locale=LANGUAGES[lang], expect_404=True) as page:
        open_item(page, pinned, UNKNOWN)
        v = verdict_of(page)
        assert (v["state"], v["tone"], v["title"]) == ("absent", "bad", words["verdict.absent"])
        assert says(lang, "line.absent", v["lines"][0])
        open_everything(page)
        assert words["how.absent"] in page.inner_text("#checks")
        assert UNKNOWN in page.inner_text("#facts")


def test_an_absence_proof_of_another_id_says_nothing_about_this_one(
    chromium: Browser, pinned: str, passports: Store
) -> None:
    """A dishonest server answers a real bag's id with a valid absence proof of another id."""
    words = catalogue("en")
    with buyer(chromium, expect_404=True, service_workers="block") as page:
        _serve(page, 404, _unknown(absence_bundle(passports, UNKNOWN)))
        open_item(page, pinned, GENUINE)
        v = verdict_of(page)
        assert (v["state"], v["step"]) == ("failed", "wrong_item")
        assert v["lines"] == [words["failure.wrong_item"]]
        assert words["verdict.absent"] not in page.inner_text("body")


def test_an_absence_proof_for_a_registered_bag_is_refused(
    chromium: Browser, pinned: str, passports: Store
) -> None:
    """The absence proof names the bag's own entry in the head map: absence_refuted."""
    words = catalogue("en")
    own = v2_bundle(passports, GENUINE)
    forged = absence_bundle(passports, UNKNOWN)
    e = own["map_entry"]
    value = b"".join(
        (
            e["version"].to_bytes(8, "big"),
            bytes.fromhex(e["leaf"]),
            e["height"].to_bytes(8, "big"),
            e["leaf_index"].to_bytes(8, "big"),
        )
    )
    forged.update(item_id=GENUINE, map_proof=copy.deepcopy(own["map_proof"]))
    forged["map_proof"]["other"] = {"key": item_key(GENUINE).hex(), "value": value.hex()}
    with buyer(chromium, expect_404=True, service_workers="block") as page:
        _serve(page, 404, _unknown(forged))
        open_item(page, pinned, GENUINE)
        v = verdict_of(page)
        assert (v["state"], v["step"]) == ("failed", "absence_refuted")
        assert v["lines"] == [words["failure.absence"]]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_history_cut_short_is_refused_in_plain_words(
    chromium: Browser, pinned: str, passports: Store, lang: str
) -> None:
    """Someone between the server and the buyer drops the bag's last two events."""
    words = catalogue(lang)
    bundle = v2_bundle(passports, GENUINE)
    del bundle["events"][-2:]
    with buyer(chromium, locale=LANGUAGES[lang], service_workers="block") as page:
        _serve(page, 200, bundle)
        open_item(page, pinned, GENUINE)
        v = verdict_of(page)
        assert (v["state"], v["tone"], v["step"]) == ("failed", "bad", "history_incomplete")
        assert v["title"] == words["verdict.failed"]
        assert v["lines"] == [words["failure.incomplete"]]
        assert "history_incomplete" not in page.inner_text("#verdict")
        assert page.locator("#passport").is_hidden()
        open_everything(page)
        assert "history_incomplete" in page.inner_text("#technical")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_proof_older_than_a_day_is_stale(
    chromium: Browser, pinned: str, passports: Store, lang: str
) -> None:
    """The buyer's clock is two days past the checkpoint: the verifier refuses it as stale
    (the page's maximum age is a day), an amber warning rather than a red failure."""
    words = catalogue(lang)
    with buyer(chromium, locale=LANGUAGES[lang], service_workers="block") as page:
        _serve(page, 200, v2_bundle(passports, GENUINE))
        page.clock.set_fixed_time(datetime.now(UTC) + timedelta(days=2))
        open_item(page, pinned, GENUINE)
        v = verdict_of(page)
        assert (v["state"], v["tone"], v["step"]) == ("stale", "warn", "checkpoint_stale")
        assert v["lines"] == [words["failure.stale"]]


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Chains:
    return build_chains(tmp_path_factory.mktemp("chains") / "assay-data", UNKNOWN)


def _check_file(page: Page, tmp_path: Path, bundle: Any, key: str) -> dict[str, Any]:
    """Check a proof file by hand on the page opened from disk (nothing pinned)."""
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(bundle))
    page.goto((STATIC / "verifier.html").as_uri())
    page.set_input_files("#bundle-file", str(path))
    page.locator("#bundle-status", has_text="proof.json").wait_for()
    page.fill("#key-text", key)
    page.click("#verify")
    page.wait_for_selector("#verdict:is([data-tone=ok], [data-tone=bad], [data-tone=warn])")
    return verdict_of(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_proof_file_with_a_newer_checkpoint(
    chromium: Browser, chains: Chains, tmp_path: Path, lang: str
) -> None:
    """An older proof file carrying a newer checkpoint (§10.4): complete as of the newer
    one while the item's entry is unchanged; refused in plain words once it changed."""
    words = catalogue(lang)
    unchanged = dict(chains.at_n, newer=chains.newer_unchanged)
    changed = dict(chains.at_n, newer=chains.newer_changed)
    with buyer(chromium, locale=LANGUAGES[lang]) as page:
        v = _check_file(page, tmp_path, unchanged, chains.key)
        assert v["state"] in ("flagged", "genuine", "registered"), v
        assert any(says(lang, "line.complete", line) for line in v["lines"]), v["lines"]
        size = int(chains.newer_unchanged["checkpoint"].split("\n")[1])
        open_everything(page)
        checks = page.inner_text("#checks").split("\n")
        assert any(says(lang, "how.checkpoint", line, size=size) for line in checks), checks
        v = _check_file(page, tmp_path, changed, chains.key)
        assert (v["state"], v["tone"], v["step"]) == ("failed", "bad", "newer_events")
        assert v["lines"] == [words["failure.outdated"]]


def test_an_absence_older_than_the_ledger_says_the_id_may_be_registered_since(
    chromium: Browser, chains: Chains
) -> None:
    """The server's latest checkpoint is larger than the absence proof's: the page does not
    say "newer events" (there are none to show) but that the id may be registered since."""
    words = catalogue("en")
    with buyer(chromium) as page:
        page.goto((STATIC / "verifier.html").as_uri())
        page.evaluate(
            """async ([text, key]) => {
                const o = await AssayVerifier.verifyText(text, key, "");
                if (!o.ok) throw new Error(o.step);
                AssayPage.show(o, { newerCheckpoint: o.result.checkpoint_size + 2 },
                               { itemId: o.result.item_id });
            }""",
            [json.dumps(chains.absent_at_n), chains.key],
        )
        v = verdict_of(page)
        assert v["state"] == "absent"
        assert words["line.newer_checkpoint_absent"] in v["lines"]
        assert words["line.newer_checkpoint"] not in v["lines"]
