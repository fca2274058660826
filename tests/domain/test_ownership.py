"""Ownership after the sale (docs/custody-rules.md, "Ownership"): the buyer's claim with the
code and a key of their own, transfers, stolen or lost reports, consignment for resale, and
the refusals that guard them."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from domain.custody import Kind
from domain.errors import DomainError
from domain.items import Result, Status
from domain.owner_statement import OwnerKind, OwnerStatement, fingerprint
from domain.ownership import decide_owner
from domain.privacy import claim_commitment, new_claim_code
from domain.signals import Outcome, Signal
from tests.domain.factory import Bench, _World

ALICE = "a1" * 32
BOB = "b0" * 32
MALLORY = "cc" * 32


class Owners:
    """A bench with a sold item and helpers to send owner statements the ledger's way."""

    def __init__(self) -> None:
        self.bench = Bench().commissioned().authenticated().moved("ginza")
        self.count = 0
        self.code = self.sell("ginza")

    def sell(self, store: str) -> str:
        code = new_claim_code()
        salt, digest = claim_commitment(code)
        outcome = self.bench.do(
            Kind.RETAIL_SELLING, store, buyer_ref="b", claim_salt=salt, claim_digest=digest
        )
        assert outcome.result is Result.ACCEPTED, outcome
        return code

    def statement(self, kind: OwnerKind, key: str, **fields: Any) -> OwnerStatement:
        self.count += 1
        item = self.bench.item
        assert item is not None
        fields.setdefault("after_version", item.version)
        return OwnerStatement(
            statement_id=fields.pop("statement_id", f"s{self.count}"),
            item_id=self.bench.item_id,
            kind=kind,
            owner_key=key,
            occurred_at=self.bench.clock + timedelta(minutes=self.count),
            **fields,
        )

    def send(self, statement: OwnerStatement) -> Outcome:
        world = _World(self.bench)
        outcome = decide_owner(statement, b"envelope:" + statement.statement_id.encode(), world)
        for aggregate in world.kept:
            self.bench.stored.extend(aggregate.collect_events())
        return outcome

    def do(self, kind: OwnerKind, key: str, **fields: Any) -> Outcome:
        outcome = self.send(self.statement(kind, key, **fields))
        assert outcome.result is Result.ACCEPTED, outcome
        return outcome

    def refuse(self, kind: OwnerKind, key: str, **fields: Any) -> str:
        item = self.bench.item
        assert item is not None
        before, version = copy.deepcopy(item.state), item.version
        with pytest.raises(DomainError) as refused:
            self.send(self.statement(kind, key, **fields))
        assert item.state == before and item.version == version, "a refusal changed the item"
        assert not item.pending_events
        return refused.value.rule

    def transfer(self, key: str, **fields: Any) -> str:
        code = new_claim_code()
        salt, digest = claim_commitment(code)
        self.do(OwnerKind.TRANSFER, key, claim_salt=salt, claim_digest=digest, **fields)
        return code

    def transfer_refused(self, key: str) -> str:
        salt, digest = claim_commitment(new_claim_code())
        return self.refuse(OwnerKind.TRANSFER, key, claim_salt=salt, claim_digest=digest)

    @property
    def owner(self) -> str | None:
        return self.bench.state.ownership.owner_key


def test_the_buyer_claims_with_the_code_and_a_key_of_their_own() -> None:
    o = Owners()
    assert o.bench.state.ownership.open_claim is not None
    assert o.refuse(OwnerKind.CLAIM, ALICE, claim_code="not-the-code") == "wrong_claim_code"
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    assert o.owner == ALICE
    assert o.bench.state.ownership.owner == fingerprint(ALICE)
    assert o.bench.state.ownership.open_claim is None
    # Accepted once: the same code again, by anyone, is a reused code; another finds
    # nothing to claim.
    assert o.refuse(OwnerKind.CLAIM, MALLORY, claim_code=o.code) == "claim_code_reused"
    assert o.refuse(OwnerKind.CLAIM, MALLORY, claim_code="guess") == "no_open_claim"
    assert isinstance(o.bench.stored[-1], o.bench.item.OwnerStated)


def test_a_sale_without_a_claim_commitment_has_nothing_to_claim() -> None:
    bench = Bench().commissioned().authenticated().sold()
    o = Owners.__new__(Owners)
    o.bench, o.count = bench, 0
    assert o.refuse(OwnerKind.CLAIM, ALICE, claim_code="x") == "no_open_claim"


def test_only_the_owner_transfers_and_the_next_owner_claims() -> None:
    o = Owners()
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    salt, digest = claim_commitment(new_claim_code())
    commitment = {"claim_salt": salt, "claim_digest": digest}
    assert o.refuse(OwnerKind.TRANSFER, MALLORY, **commitment) == "not_owner"
    item = o.bench.item
    assert item is not None
    stale = {**commitment, "after_version": item.version - 1}
    assert o.refuse(OwnerKind.TRANSFER, ALICE, **stale) == "stale_statement"
    ahead = {**commitment, "after_version": item.version + 1}
    assert o.refuse(OwnerKind.TRANSFER, ALICE, **ahead) == "stale_statement"
    sale = next(c for c in o.bench.state.recorded if c.claim_digest)
    reused = {"claim_salt": sale.claim_salt, "claim_digest": sale.claim_digest}
    assert o.refuse(OwnerKind.TRANSFER, ALICE, **reused) == "claim_code_reused"
    code = o.transfer(ALICE)
    assert o.owner is None and o.bench.state.status is Status.SOLD
    assert o.refuse(OwnerKind.REPORT_MISSING, ALICE, reason="stolen") == "not_owner"
    assert o.refuse(OwnerKind.CLAIM, BOB, claim_code=o.code) == "claim_code_reused"
    o.do(OwnerKind.CLAIM, BOB, claim_code=code)
    assert o.owner == BOB


def test_a_report_flags_later_scans_until_it_is_withdrawn() -> None:
    o = Owners()
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    assert o.refuse(OwnerKind.WITHDRAW_REPORT, ALICE) == "not_reported"
    assert o.refuse(OwnerKind.REPORT_MISSING, BOB, reason="stolen") == "not_owner"
    o.do(OwnerKind.REPORT_MISSING, ALICE, reason="stolen")
    assert o.bench.state.ownership.missing == "stolen"
    scan = o.bench.do(Kind.OBSERVING, "osaka", latitude=34.7, longitude=135.5)
    assert scan.result is Result.FLAGGED and scan.signals == (Signal.REPORTED_MISSING,)
    assert "reported stolen" in o.bench.state.flags[-1].detail
    assert o.refuse(OwnerKind.REPORT_MISSING, ALICE, reason="lost") == "reported_missing"
    assert o.transfer_refused(ALICE) == "reported_missing"
    o.do(OwnerKind.WITHDRAW_REPORT, ALICE)
    again = o.bench.do(Kind.OBSERVING, "osaka")
    assert again.signals == (Signal.SCAN_AFTER_SALE,)


def test_the_brand_still_writes_off_an_item_reported_stolen() -> None:
    o = Owners()
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    o.do(OwnerKind.REPORT_MISSING, ALICE, reason="stolen")
    assert o.bench.do(Kind.DECOMMISSIONING, "brand", reason="stolen").result is Result.ACCEPTED
    assert o.bench.state.status is Status.RETIRED and o.owner is None


def test_consigned_for_resale_it_is_inspected_again_and_sold_with_a_new_claim() -> None:
    o = Owners()
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    assert o.refuse(OwnerKind.CONSIGN, ALICE, consignee="nobody") == "unknown_consignee"
    assert o.refuse(OwnerKind.CONSIGN, BOB, consignee="lab") == "not_owner"
    o.do(OwnerKind.CONSIGN, ALICE, consignee="lab")
    s = o.bench.state
    assert (s.status, s.consignee, s.verdict, o.owner) == (Status.IN_TRANSIT, "lab", None, None)
    assert o.bench.do(Kind.RECEIVING, "lab").result is Result.ACCEPTED
    o.bench.moved("ginza")
    refused = o.bench.refuse(Kind.RETAIL_SELLING, "ginza", buyer_ref="b2")
    assert refused.rule == "not_authenticated"  # consigned: inspected again before a sale
    o.bench.moved("lab")
    o.bench.authenticated()
    o.bench.moved("ginza")
    reused = next(c for c in o.bench.state.recorded if c.claim_digest)
    again = o.bench.refuse(
        Kind.RETAIL_SELLING, "ginza", buyer_ref="b2",
        claim_salt=reused.claim_salt, claim_digest=reused.claim_digest,
    )  # fmt: skip
    assert again.rule == "claim_code_reused"
    second = o.sell("ginza")
    assert o.refuse(OwnerKind.CLAIM, BOB, claim_code=o.code) == "claim_code_reused"
    o.do(OwnerKind.CLAIM, BOB, claim_code=second)
    assert o.owner == BOB


def test_a_statement_is_applied_once() -> None:
    o = Owners()
    claim = o.statement(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    assert o.send(claim).result is Result.ACCEPTED
    assert o.send(claim).result is Result.DUPLICATE
    other = o.statement(OwnerKind.REPORT_MISSING, ALICE, reason="lost", statement_id="s1")
    with pytest.raises(DomainError) as refused:
        o.send(other)
    assert refused.value.rule == "statement_id_reused"


def test_a_declaration_in_error_keeps_the_ownership_where_it_was() -> None:
    o = Owners()
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    first = o.bench.state.recorded[0]
    assert o.bench.do(Kind.OBSERVING, "osaka").signals == (Signal.SCAN_AFTER_SALE,)
    declared = o.bench.do(
        Kind.ERROR_DECLARATION, "brand", declared_event_id=first.event_id,
        error_reason="incorrect_data",
    )  # fmt: skip
    assert declared.result is Result.ACCEPTED
    assert o.owner == ALICE
    assert o.bench.state.as_recorded().ownership.owner_key == ALICE


def test_a_custody_status_change_ends_the_ownership() -> None:
    o = Owners()
    o.do(OwnerKind.CLAIM, ALICE, claim_code=o.code)
    assert o.bench.do(Kind.RETURNING, "ginza").result is Result.ACCEPTED
    assert o.owner is None and o.bench.state.ownership.open_claim is None
    assert o.refuse(OwnerKind.REPORT_MISSING, ALICE, reason="lost") == "not_owner"


def test_an_unknown_item_has_nothing_to_claim() -> None:
    o = Owners()
    statement = o.statement(OwnerKind.CLAIM, ALICE, claim_code="x")
    ghost = OwnerStatement(**{**vars(statement), "item_id": "urn:ghost"})
    with pytest.raises(DomainError) as refused:
        o.send(ghost)
    assert refused.value.rule == "no_open_claim"


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        (OwnerKind.CLAIM, {}, "needs claim_code"),
        (OwnerKind.CLAIM, {"claim_code": "c", "reason": "lost"}, "reason does not belong"),
        (OwnerKind.TRANSFER, {"claim_salt": "00", "claim_digest": "11" * 32}, "claim_salt"),
        (OwnerKind.REPORT_MISSING, {"reason": "misplaced"}, "misplaced"),
        (OwnerKind.CONSIGN, {}, "needs consignee"),
    ],
)
def test_a_statement_carries_what_its_kind_needs(
    kind: OwnerKind, fields: dict[str, Any], message: str
) -> None:
    o = Owners()
    with pytest.raises(ValueError, match=message):
        o.statement(kind, ALICE, **fields)


def test_a_statement_names_a_usable_key_shape_and_round_trips() -> None:
    o = Owners()
    with pytest.raises(ValueError, match="64 lowercase hex"):
        o.statement(OwnerKind.WITHDRAW_REPORT, ALICE.upper())
    statement = o.statement(OwnerKind.CONSIGN, ALICE, consignee="lab")
    assert OwnerStatement.from_primitive(statement.to_primitive()) == statement
    assert len(fingerprint(ALICE).replace(" ", "")) == 16
