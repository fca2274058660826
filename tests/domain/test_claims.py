"""A sale's commitment to the buyer's one-time claim code (docs/custody-rules.md,
"Ownership"): only its salt and digest are in the event; a code is committed to once."""

from __future__ import annotations

from typing import Any

import pytest

from domain.custody import CustodyEvent, Kind
from domain.items import Result, Status
from domain.privacy import claim_commitment, digest_of, new_claim_code
from tests.domain.factory import Bench


def on_sale() -> Bench:
    return Bench().commissioned().authenticated().moved("ginza")


def sale(bench: Bench, code: str, **details: Any) -> CustodyEvent:
    salt, digest = claim_commitment(code)
    return bench.event(Kind.RETAIL_SELLING, "ginza", buyer_ref="b-1", claim_salt=salt,
                       claim_digest=digest, **details)  # fmt: skip


def test_a_sale_commits_to_the_claim_code() -> None:
    bench = on_sale()
    code = new_claim_code()
    event = sale(bench, code)
    assert bench.apply(event).result is Result.ACCEPTED
    assert bench.state.claim_digest == event.claim_digest
    assert event.claim_salt is not None and event.claim_digest is not None
    assert digest_of(bytes.fromhex(event.claim_salt), code) == event.claim_digest
    assert code not in str(event.to_primitive())
    assert CustodyEvent.from_primitive(event.to_primitive()) == event


def test_a_claim_code_is_committed_to_once() -> None:
    bench = on_sale()
    code = new_claim_code()
    first = sale(bench, code)
    bench.apply(first)
    bench.do(Kind.RETURNING, "ginza")
    assert bench.state.claim_digest is None  # a returned item has no open claim
    reused = bench.event(Kind.RETAIL_SELLING, "ginza", buyer_ref="b-2",
                         claim_salt=first.claim_salt, claim_digest=first.claim_digest)  # fmt: skip
    assert bench.refuse_event(reused).rule == "claim_code_reused"
    assert bench.apply(sale(bench, new_claim_code())).result is Result.ACCEPTED
    assert bench.state.status is Status.SOLD


def test_codes_are_128_bit_and_commitments_salted() -> None:
    code = new_claim_code()
    assert len(code) >= 22 and code != new_claim_code()
    assert claim_commitment(code) != claim_commitment(code)


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"claim_salt": "00" * 16}, "claim_digest"),
        ({"claim_digest": "0" * 64}, "claim_salt"),
        ({"claim_salt": "00" * 15, "claim_digest": "0" * 64}, "claim_salt"),
        ({"claim_salt": "00" * 16, "claim_digest": "A" * 64}, "claim_digest"),
    ],
)
def test_a_commitment_is_salt_and_digest_in_hex(details: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Bench().event(Kind.RETAIL_SELLING, "ginza", buyer_ref="b", **details)


def test_only_a_sale_commits_to_a_claim_code() -> None:
    with pytest.raises(ValueError, match="belongs to a retail_selling"):
        Bench().event(Kind.OBSERVING, "ginza", claim_salt="00" * 16, claim_digest="0" * 64)
