"""Every state of the result contract, rendered by the page (docs/verifier.md, "What the page
renders").

The verifier of bundle v2 and witness policies is being extended: these tests take a real
verified outcome of a real bundle and add the contract's v2 fields (complete history,
checkpoint time, proven party names, absence, witnesses, owner), so the page's words for
each are fixed now; each also checks that what is not proven is never shown as fact. The
states the current verifier produces end to end are in test_passport.py; a pinned witness
policy the served bundle does not meet is tested end to end here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assay import runtime
from tests.server.conftest import ROOT, STATIC, serving
from tests.server.pages import buyer, catalogue, open_everything, open_item, says, verdict
from tests.server.passports import FLAGGED, GENUINE, UNKNOWN
from witness.cosignature import WitnessSigner

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.server.stores import Store

EN = catalogue("en")


def _ago(**delta: float) -> str:
    """An ISO 8601 UTC time that long before now (taken when the test runs)."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def page(chromium: Browser) -> Any:
    with buyer(chromium, locale="en-US") as page:
        page.goto((STATIC / "verifier.html").as_uri())
        yield page


def _show(page: Page, store: Store, item: str, result: dict[str, Any], **ctx: Any) -> Any:
    """Verify the item's real bundle in the page, merge ``result`` into the result (a key
    set to None is removed), render it; returns the verdict."""
    page.evaluate(
        """async ([text, key, extra, ctx]) => {
            const o = await AssayVerifier.verifyText(text, key, "");
            if (!o.ok) throw new Error(o.step);
            for (const [k, v] of Object.entries(extra)) {
                if (v === null) delete o.result[k]; else o.result[k] = v;
            }
            AssayPage.show(o, ctx, { itemId: o.result.item_id });
        }""",
        [json.dumps(store.bundle(item)), store.key_text, result, ctx],
    )
    return verdict(page)


def _failure(page: Page, step: str, version: int | None = None) -> Any:
    page.evaluate(
        """([step, version]) => AssayPage.show({ ok: false, step, version, message: "technical",
            ms: 1, progress: { events: [] } }, {})""",
        [step, version],
    )
    return verdict(page)


def test_complete_history_with_proven_names(page: Page, passports: Store) -> None:
    v = _show(page, passports, GENUINE, {
        "bundle_version": 2, "completeness": "complete", "checkpoint_time": _ago(minutes=2),
        "parties": {"lab": {"name": "Certa Lab", "role": "appraiser", "proven": True},
                    "ginza": {"name": "Maison Aurel Ginza", "role": "store", "proven": True}},
    })  # fmt: skip
    assert (v["state"], v["tone"]) == ("genuine", "ok")
    assert says("en", "line.authenticated", v["lines"][0], who="Certa Lab")
    assert says("en", "line.complete", v["lines"][1], age="2 minutes ago")
    facts = page.inner_text("#facts")
    assert "Sold by Maison Aurel Ginza on" in facts and "Proven as of" in facts
    open_everything(page)
    assert "Certa Lab inspected it: genuine" in page.inner_text("#timeline")
    assert EN["how.complete"] in page.inner_text("#checks")
    assert EN["tech.format_v2"] in page.inner_text("#technical")
    assert EN["how.names_unproven"] not in page.inner_text("#checks")


def test_an_unproven_name_is_never_shown(page: Page, passports: Store) -> None:
    lab = {"name": "Official Authenticator", "role": "appraiser", "proven": False}
    v = _show(page, passports, GENUINE, {"parties": {"lab": lab}})
    assert says("en", "line.authenticated", v["lines"][0], who="lab")
    open_everything(page)
    assert "Official Authenticator" not in page.content()


def test_not_registered_by_an_absence_proof(page: Page, passports: Store) -> None:
    v = _show(page, passports, GENUINE, {
        "item_id": UNKNOWN, "absent": True, "story": [], "events": 0, "bundle_version": 2,
        "completeness": "complete", "checkpoint_time": _ago(minutes=2),
    })  # fmt: skip
    assert (v["state"], v["tone"], v["title"]) == ("absent", "bad", EN["verdict.absent"])
    assert len(v["lines"]) == 1 and says("en", "line.absent", v["lines"][0])
    facts = page.inner_text("#facts")
    assert UNKNOWN in facts and EN["fact.status"] not in facts and EN["fact.product"] not in facts
    open_everything(page)
    assert EN["how.absent"] in page.inner_text("#checks")


def test_a_stale_checkpoint_is_a_warning(page: Page, passports: Store) -> None:
    old = {"completeness": "complete", "checkpoint_time": _ago(days=3)}
    v = _show(page, passports, GENUINE, old)
    assert (v["state"], v["tone"], v["title"]) == ("stale", "warn", EN["verdict.stale"])
    assert says("en", "line.stale", v["lines"][0], age="3 days ago")
    assert not any(says("en", "line.complete", line) for line in v["lines"])
    # The page's default (24 h) is an option: a deployment may accept older checkpoints.
    v = _show(page, passports, GENUINE, old, maxAgeSeconds=7 * 86400)
    assert v["state"] == "genuine" and says("en", "line.complete", v["lines"][1], age="3 days ago")


def test_witnesses_with_and_without_quorum(page: Page, passports: Store) -> None:
    cosigned = [{"name": "aurel.example/witness", "time": _ago(minutes=1)},
                {"name": "lumen.example/witness", "time": _ago(minutes=1)}]  # fmt: skip
    v = _show(
        page,
        passports,
        GENUINE,
        {"witnesses": {"required": 2, "total": 3, "quorum_met": True, "cosigned": cosigned}},
    )
    assert v["state"] == "genuine"
    assert says("en", "line.witnessed", v["lines"][2], count=2, total=3,
                names="aurel.example/witness, lumen.example/witness")  # fmt: skip
    open_everything(page)
    assert says("en", "how.witnesses", page.inner_text("#checks > li:nth-child(5)"),
                count=2, total=3, required=2)  # fmt: skip
    v = _show(
        page,
        passports,
        GENUINE,
        {"witnesses": {"required": 2, "total": 3, "quorum_met": False, "cosigned": cosigned[:1]}},
    )
    assert (v["state"], v["tone"]) == ("unwitnessed", "warn")
    assert says("en", "line.unwitnessed", v["lines"][0], count=1, required=2)


def test_a_flag_outranks_everything_but_is_told_with_the_rest(page: Page, passports: Store) -> None:
    v = _show(
        page,
        passports,
        FLAGGED,
        {
            "completeness": "complete",
            "checkpoint_time": _ago(minutes=2),
            "witnesses": {"required": 1, "total": 1, "quorum_met": False, "cosigned": []},
        },
    )
    assert v["state"] == "flagged"
    assert v["lines"][0] == EN["flag.scan_after_sale"]
    assert says("en", "line.unwitnessed", v["lines"][1], count=0, required=1)


def test_a_policy_from_the_server_is_labelled_and_a_changed_one_said(
    page: Page, passports: Store
) -> None:
    witnesses = {"required": 1, "total": 1, "quorum_met": True,
                 "cosigned": [{"name": "aurel", "time": _ago(minutes=1)}]}  # fmt: skip
    v = _show(page, passports, GENUINE, {"witnesses": witnesses}, policySource="tofu")
    assert EN["line.witness_policy_tofu"] in v["lines"]
    v = _show(page, passports, GENUINE, {"witnesses": witnesses},
              policySource="remembered", policyChanged=True)  # fmt: skip
    assert EN["line.witness_policy_changed"] in v["lines"]
    assert EN["line.witness_policy_tofu"] not in v["lines"]
    v = _show(page, passports, GENUINE, {"witnesses": witnesses}, policySource="deployment")
    assert not {EN["line.witness_policy_tofu"], EN["line.witness_policy_changed"]} & set(v["lines"])


def test_the_owner_is_a_fingerprint(page: Page, passports: Store) -> None:
    fingerprint = "SHA256:8f1b2c3d4e5f60718293a4b5c6d7e8f9" * 2
    _show(page, passports, GENUINE, {"owner": {"fingerprint": fingerprint, "since": _ago(days=1)}})
    facts = page.inner_text("#facts")
    assert EN["fact.owner"] in facts and fingerprint in facts
    assert page.locator("#facts button.copy").count() == 2  # the owner's and the item's


@pytest.mark.parametrize(
    ("step", "family"),
    [("history_incomplete", "incomplete"), ("witness_quorum", "witness"),
     ("absence_claimed_for_present_item", "absence"), ("map_sibling", "tampered"),
     ("cosignature_future", "witness"), ("device_signature", "device"),
     ("checkpoint_signature", "platform_key"), ("bundle_format", "format"),
     ("key_file", "key"), ("witness_policy", "policy"), ("something_new", "other"),
     ("checkpoint_inclusion", "tampered"), ("checkpoint_version", "format")],
)  # fmt: skip
def test_each_failure_in_plain_words(page: Page, step: str, family: str) -> None:
    v = _failure(page, step, 3)
    assert (v["state"], v["tone"], v["step"]) == ("failed", "bad", step)
    assert v["lines"] == [EN[f"failure.{family}"], "The check failed at event 3."]
    assert step not in page.inner_text("#verdict")


def test_a_stale_proof_refused_by_the_verifier_is_a_warning(page: Page) -> None:
    v = _failure(page, "checkpoint_stale")
    assert (v["state"], v["tone"], v["lines"]) == ("stale", "warn", [EN["failure.stale"]])


def _codes(text: str) -> set[str]:
    """Step codes a verifier script can fail with: fail("…") and new BundleError("…")."""
    return set(
        re.findall(r"""(?:fail|BundleError|cosignError)\(\s*["']([a-z][a-z0-9_]+)["']""", text)
    )


def test_every_step_code_of_the_verifier_has_plain_words(page: Page) -> None:
    codes: set[str] = set()
    for script in sorted((ROOT / "server" / "static").glob("verifier*.js")):
        codes |= _codes(script.read_text(encoding="utf-8"))
    assert {"leaf_hash", "checkpoint_signature", "device_signature", "key_file"} <= codes
    families = page.evaluate("codes => codes.map((c) => [c, AssayPassport.family(c)])",
                             sorted(codes))  # fmt: skip
    assert [c for c, f in families if f == "other"] == []
    for lang in ("en", "zh-Hans", "ja"):
        for family in [*page.evaluate("Object.keys(AssayPassport.FAMILIES)"), "other"]:
            assert f"failure.{family}" in catalogue(lang)


def test_a_pinned_policy_without_quorum_is_shown_as_such(
    chromium: Browser, passports: Store, tmp_path: Path
) -> None:
    """End to end: `assay serve --witness-policy` pins a 2-of-3 policy; the page evaluates it
    on the served bundle's checkpoint, which no partner cosigned: 0 of the 2 required."""
    key = runtime.platform_verifier_path(passports.settings)
    witnesses = [
        WitnessSigner.generate(f"{n}.example/witness") for n in ("aurel", "lumen", "vireo")
    ]
    policy = tmp_path / "policy.txt"
    policy.write_text("\n".join([
        f"log {key.read_text().strip()}",
        *(f"witness w{i} {w.verifier().to_text()}" for i, w in enumerate(witnesses)),
        "group partners 2 w0 w1 w2", "quorum partners", ""]))  # fmt: skip
    flags = ("--pinned-key", str(key), "--witness-policy", str(policy))
    with (
        serving(passports.settings.data_dir, tmp_path, *flags) as base,
        buyer(chromium, service_workers="block") as page,
    ):
        open_item(page, base, GENUINE)
        v = verdict(page)
        assert (v["state"], v["tone"]) == ("unwitnessed", "warn")
        assert any(says("en", "line.unwitnessed", line, count=0, required=2) for line in v["lines"])
        pinned = page.evaluate("document.querySelector('meta[name=assay-witness-policy]').content")
        assert pinned == policy.read_text()
        open_everything(page)
        checks = page.inner_text("#checks")
        assert EN["how.witness_unchecked"] not in checks
        assert any(says("en", "how.witnesses", li, count=0, total=3, required=2)
                   for li in checks.split("\n"))  # fmt: skip
        assert EN["tech.policy_pinned"] in page.inner_text("#technical")
