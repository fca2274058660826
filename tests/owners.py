"""Shared by the ownership tests: an item sold with a claim code and claimed by a new key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.prove import Prover
from anchoring.sealer import SealPolicy
from domain.owner_statement import OwnerStatement
from domain.ownership import OwnerReport
from domain.privacy import claim_commitment, new_claim_code
from ledger.application import Report
from ledger.config import store_env
from streams.envelope import seal
from streams.owner_envelope import new_statement, seal_statement
from streams.owner_keys import OwnerKey
from tests.anchoring.stores import new_anchor
from tests.support import World, custody, story_events

ITEM = "urn:item:owned"
ORIGIN = "assay.test/custody-log"
SIGNER = Signer.from_seed(ORIGIN, bytes(range(32)))


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


def state(world: World, key: OwnerKey, kind: str, version: int, **fields: Any) -> bytes:
    """An owner statement decided by the ledger (it must be accepted); its envelope."""
    statement = new_statement(key, kind, ITEM, version, **fields)
    envelope = seal_statement(statement, key)
    (decision,) = world.ledger.process([OwnerReport(statement, envelope)], None)
    assert decision.accepted, decision.refusal
    return envelope


def inject(world: World, statement: OwnerStatement, envelope: bytes) -> None:
    """Record a statement as a lying platform would: past the gate and the rules."""
    item = world.ledger.get_item(statement.item_id)
    item.trigger_event(item.OwnerStated, statement=statement, envelope=envelope)
    world.ledger.save(item)


def prove(world: World, root: Path) -> dict[str, Any]:
    """Seal everything (three events a block) and prove the item."""
    chain = Chain(store_env("", root / "chain.sqlite"))
    policy = SealPolicy(max_events=3, max_seconds=1e9)
    new_anchor(world.ledger, chain, SIGNER, root, origin=ORIGIN, policy=policy).catch_up()
    return Prover(world.ledger, chain, (root / "checkpoint").read_text()).prove(ITEM)


def resold(world: World) -> tuple[OwnerKey, OwnerKey]:
    """Sold and claimed by Alice (v8), transferred (v9), claimed by Bob (v10), reported
    stolen by Bob (v11)."""
    alice, _ = sold_and_claimed(world)
    bob = OwnerKey.generate()
    code = new_claim_code()
    salt, digest = claim_commitment(code)
    state(world, alice, "transfer", 8, claim_salt=salt, claim_digest=digest)
    state(world, bob, "claim", 9, claim_code=code)
    state(world, bob, "report_missing", 10, reason="stolen")
    return alice, bob
