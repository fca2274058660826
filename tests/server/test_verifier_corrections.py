"""A bundle with a correction: both verifiers show the original, the declaration and which
event is declared in error, alike (docs/proof-bundle.md §4.9)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.checkpoint import Verifier
from anchoring.verify import verify_bundle
from tests.server.conftest import STATIC
from tests.server.stores import CORRECTED_ITEM, Store, build_corrected_store

if TYPE_CHECKING:
    from playwright.sync_api import Page

ITEM = CORRECTED_ITEM


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())
    page.wait_for_load_state("load")
    return page


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_corrected_store(tmp_path_factory.mktemp("corrected") / "assay-data")


def test_the_python_verifier_reports_what_is_declared_in_error(corrected: Store) -> None:
    bundle = corrected.bundle()
    result = verify_bundle(bundle, Verifier.from_text(corrected.key_text))
    kinds = [s.get("kind") or s["flag"] for s in result.summaries]
    assert kinds == [
        "commissioning", "shipping", "receiving", "error_declaration", "rests_on_declared",
    ]  # fmt: skip
    declaration = result.summaries[3]
    assert (declaration["declared_event_id"], declaration["error_reason"]) == (
        f"{ITEM}#e2", "incorrect_data",
    )  # fmt: skip
    assert declaration["corrective_event_ids"] == [f"{ITEM}#e5"]
    assert "corrective_event_ids" not in result.summaries[1]  # empty: not shown
    assert result.declared_in_error == [
        {
            "version": 2,
            "event_id": f"{ITEM}#e2",
            "kind": "shipping",
            "by": "brand",
            "at": declaration["occurred_at"],
            "reason": "incorrect_data",
            "corrective_event_ids": [f"{ITEM}#e5"],
            "declaration_version": 4,
        }
    ]
    flag = result.summaries[4]
    assert flag["detail"].endswith("receiving urn:epc:id:sgtin:0614141.107346.2018#e3 by osaka "
                                   "(location_conflict)")  # fmt: skip


_RUN = """async ([text, key]) => {
  const o = await AssayVerifier.verifyText(text, key, "", {});
  return {ok: o.ok, step: o.step, message: o.message,
          story: o.ok ? o.result.story.map((e) => e.summary) : null,
          declared: o.ok ? o.result.declared_in_error : null};
}"""


def test_the_page_verifier_reports_the_same(offline_page: Page, corrected: Store) -> None:
    bundle = corrected.bundle()
    python = verify_bundle(bundle, Verifier.from_text(corrected.key_text))
    page: dict[str, Any] = offline_page.evaluate(_RUN, [json.dumps(bundle), corrected.key_text])
    assert page["ok"], page
    assert page["story"] == python.summaries
    assert page["declared"] == python.declared_in_error
    assert page["declared"][0]["event_id"] == f"{ITEM}#e2"


def test_a_tampered_declaration_fails_in_both(offline_page: Page, corrected: Store) -> None:
    bundle = corrected.bundle()
    bundle["events"][3]["summary"]["declared_event_id"] = f"{ITEM}#e1"
    with pytest.raises(Exception, match="summary"):
        verify_bundle(bundle, Verifier.from_text(corrected.key_text))
    page: dict[str, Any] = offline_page.evaluate(_RUN, [json.dumps(bundle), corrected.key_text])
    assert (page["ok"], page["step"]) == (False, "summary_mismatch")
