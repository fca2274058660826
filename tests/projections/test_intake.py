"""Use case: a pre-owned bag enters by an appraiser's intake and is sold; the analysts see
who put each item on the ledger and how (the ``provenance`` view), and the intake as a
hand-over and an appraiser's work."""

from __future__ import annotations

from pathlib import Path

from domain.items import Result
from projections.projector import Projector
from tests.projections.support import make_store, rows
from tests.support import custody


def test_provenance_and_the_intake_in_the_views(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    new, used = "urn:bag:new", "urn:bag:preowned"
    decisions = store.record(
        [
            custody(1, "commissioning", "brand", new, tag_uid="T1", brand="B", model="M",
                    serial="S1"),
            custody(1, "intake", "lab", used, tag_uid="T2", brand="Hermès", model="Kelly",
                    verdict="genuine", certificate="C-PO"),
        ]
    )  # fmt: skip
    decisions += store.record([custody(2, "shipping", "lab", used, counterparty="ginza")])
    decisions += store.record([custody(3, "receiving", "ginza", used)])
    decisions += store.record([custody(4, "retail_selling", "ginza", used, buyer_ref="b-9")])
    # The brand commissioning the intake item's id later: flagged, the intake stands.
    decisions += store.record(
        [custody(5, "commissioning", "brand", used, tag_uid="T9", brand="B", model="M",
                 serial="S9")]
    )  # fmt: skip
    assert [d.outcome.result if d.outcome else d.refusal for d in decisions] == [
        Result.ACCEPTED
    ] * 5 + [Result.FLAGGED]
    projector = Projector(store.ledger, store.chain, tmp_path / "projections.duckdb")
    projector.catch_up()
    assert rows(
        projector.con,
        "SELECT item_id, registered_by_kind, registered_by, registered_by_role, provenance "
        "FROM provenance ORDER BY item_id",
    ) == [
        (new, "commissioning", "brand", "brand", "commissioned by Brand"),
        (used, "intake", "lab", "appraiser", "authenticated at intake by Lab"),
    ]
    assert rows(
        projector.con, "SELECT brand, verdict, status FROM items WHERE item_id = ?", used
    ) == [("Hermès", "genuine", "sold")]
    assert rows(
        projector.con, "SELECT step, kind, party_id FROM chain_of_custody WHERE item_id = ?", used
    ) == [(1, "intake", "lab"), (2, "shipping", "lab"), (3, "receiving", "ginza"),
          (4, "retail_selling", "ginza")]  # fmt: skip
    assert rows(projector.con, "SELECT appraiser_id, certificate FROM appraiser_activity") == [
        ("lab", "C-PO")
    ]
    assert rows(projector.con, "SELECT signals FROM suspected_clones WHERE item_id = ?", used) == [
        (["duplicate_commissioning"],)
    ]
    assert store.ledger.get_item(used).state.provenance == "authenticated at intake by lab"
