"""Shared by the ownership tests: an item sold with a claim code and claimed by a new key."""

from __future__ import annotations

from domain.ownership import OwnerReport
from domain.privacy import claim_commitment, new_claim_code
from ledger.application import Report
from streams.envelope import seal
from streams.owner_envelope import new_statement, seal_statement
from streams.owner_keys import OwnerKey
from tests.support import World, custody, story_events

ITEM = "urn:item:owned"


def sold_and_claimed(world: World, item: str = ITEM) -> tuple[OwnerKey, bytes]:
    """An item sold with a claim code (versions 1..7) and claimed by a new key (8)."""
    code = new_claim_code()
    salt, digest = claim_commitment(code)
    events = story_events(item, f"TAG-{item}")
    events[-1] = custody(7, "retail_selling", "ginza", item, buyer_ref="b-1",
                         claim_salt=salt, claim_digest=digest)  # fmt: skip
    for event in events:
        (decision,) = world.ledger.process(
            [Report(event, seal(event, world.keys[event.party_id]))], None
        )
        assert decision.accepted, decision.refusal
    owner = OwnerKey.generate()
    statement = new_statement(owner, "claim", item, 7, claim_code=code)
    envelope = seal_statement(statement, owner)
    (decision,) = world.ledger.process([OwnerReport(statement, envelope)], None)
    assert decision.accepted, decision.refusal
    return owner, envelope
