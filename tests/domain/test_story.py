"""An item's stored events read as plain sentences."""

from __future__ import annotations

from typing import Any

import pytest

from domain.custody import Kind
from domain.story import describe, sentence, tell
from tests.domain.factory import Bench


def test_each_kind_has_a_sentence() -> None:
    bench = Bench()
    details: dict[Kind, dict[str, Any]] = {
        Kind.INSPECTING: {"verdict": "counterfeit", "certificate": "C-9"},
        Kind.SHIPPING: {"counterparty": "dc"},
        Kind.RETAIL_SELLING: {"buyer_ref": "b-1"},
        Kind.DECOMMISSIONING: {"reason": "stolen"},
        Kind.ERROR_DECLARATION: {"declared_event_id": "e0", "error_reason": "did_not_occur"},
        Kind.INTAKE: {"tag_uid": "T-9", "brand": "Hermès", "model": "Kelly", "verdict": "genuine",
                      "certificate": "C-7"},
    }  # fmt: skip
    lines = {k: describe(bench.event(k, "brand", **details.get(k, {}))) for k in Kind}
    assert lines == {
        Kind.COMMISSIONING: "brand commissioned Maison Aurel Lune 28 serial 2017 "
        "(tag E280-1160-6000-2017) at loc-brand",
        Kind.INSPECTING: "brand inspected it: counterfeit (certificate C-9)",
        Kind.SHIPPING: "brand shipped it to dc from loc-brand",
        Kind.VOID_SHIPPING: "brand recalled the shipment at loc-brand",
        Kind.RECEIVING: "brand received it at loc-brand",
        Kind.OBSERVING: "brand scanned it at loc-brand",
        Kind.REPAIRING: "brand serviced it at loc-brand",
        Kind.RETAIL_SELLING: "brand sold it to buyer b-1",
        Kind.RETURNING: "brand took it back at loc-brand",
        Kind.DECOMMISSIONING: "brand decommissioned it (stolen)",
        Kind.ERROR_DECLARATION: "brand declared event e0 in error (did_not_occur)",
        Kind.INTAKE: "brand authenticated it at intake: Hermès Kelly (tag T-9), genuine "
        "(certificate C-7) at loc-brand",
    }


def test_the_history_reads_in_order_with_flags() -> None:
    bench = Bench()
    bench.do(Kind.OBSERVING, "osaka")
    bench.commissioned().moved("ginza")
    bench.do(Kind.OBSERVING, "dc")
    assert tell(bench.stored) == [
        "2026-01-01 01:00Z  FLAG unknown_item: osaka scanned it at loc-osaka, never commissioned.",
        "2026-01-01 02:00Z  brand commissioned Maison Aurel Lune 28 serial 2017 "
        "(tag E280-1160-6000-2017) at loc-brand.",
        "2026-01-01 03:00Z  brand shipped it to ginza from loc-brand.",
        "2026-01-01 04:00Z  ginza received it at loc-ginza.",
        "2026-01-01 05:00Z  FLAG location_conflict: observing by dc at loc-dc; "
        "it is held by ginza at loc-ginza.",
    ]


def test_only_item_events_have_sentences() -> None:
    with pytest.raises(TypeError, match="not an Item event"):
        sentence(object())


def test_an_event_declared_in_error_keeps_its_line_marked() -> None:
    bench = Bench().commissioned()
    bench.do(Kind.OBSERVING, "brand", location="shelf-9")
    bench.do(Kind.ERROR_DECLARATION, "brand", declared_event_id="e2")
    assert tell(bench.stored)[1:] == [
        "2026-01-01 02:00Z  brand scanned it at shelf-9 "
        "[declared in error by brand at 2026-01-01T03:00:00+00:00].",
        "2026-01-01 03:00Z  brand declared event e2 in error (?).",
    ]
