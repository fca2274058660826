"""Proof bundles with owner-signed events: the verifier checks each against the owner key
the item's own history establishes (a claim opens the sale's claim commitment; only the
claimed key signs what follows), and shows owners by fingerprint."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.prove import Prover
from anchoring.sealer import SealPolicy
from anchoring.verify import BundleError, verify_bundle
from anchoring.verify_owner import current_owner
from domain.ownership import OwnerReport
from domain.privacy import claim_commitment, new_claim_code
from ledger.config import store_env
from streams.envelope import open_envelope
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from tests.anchoring.stores import new_anchor
from tests.owners import ITEM, sold_and_claimed
from tests.support import World, make_world

ORIGIN = "assay.test/custody-log"
SIGNER = Signer.from_seed(ORIGIN, bytes(range(32)))


def state(world: World, key: OwnerKey, kind: str, version: int, **fields: Any) -> bytes:
    statement = new_statement(key, kind, ITEM, version, **fields)
    envelope = seal_statement(statement, key)
    (decision,) = world.ledger.process([OwnerReport(statement, envelope)], None)
    assert decision.accepted, decision.refusal
    return envelope


def prove(world: World, root: Path) -> dict[str, Any]:
    chain = Chain(store_env("", root / "chain.sqlite"))
    policy = SealPolicy(max_events=3, max_seconds=1e9)
    new_anchor(world.ledger, chain, SIGNER, root, origin=ORIGIN, policy=policy).catch_up()
    return Prover(world.ledger, chain, (root / "checkpoint").read_text()).prove(ITEM)


@pytest.fixture
def resold(tmp_path: Path) -> tuple[World, OwnerKey, OwnerKey]:
    """Sold and claimed by Alice (v8), transferred (v9), claimed by Bob (v10), reported
    stolen by Bob (v11)."""
    world = make_world(tmp_path)
    alice, _ = sold_and_claimed(world)
    bob = OwnerKey.generate()
    code = new_claim_code()
    salt, digest = claim_commitment(code)
    state(world, alice, "transfer", 8, claim_salt=salt, claim_digest=digest)
    state(world, bob, "claim", 9, claim_code=code)
    state(world, bob, "report_missing", 10, reason="stolen")
    return world, alice, bob


def test_a_bundle_proves_the_ownership_chain(
    resold: tuple[World, OwnerKey, OwnerKey], tmp_path: Path
) -> None:
    world, alice, bob = resold
    bundle = prove(world, tmp_path)
    verified = verify_bundle(bundle, SIGNER.verifier())
    assert verified.events == 11
    owners = [s for s in verified.summaries if s.get("owner_statement")]
    assert [s["kind"] for s in owners] == ["claim", "transfer", "claim", "report_missing"]
    assert [s["signer"] for s in owners] == [alice.fingerprint] * 2 + [bob.fingerprint] * 2
    assert current_owner(verified.summaries) == {
        "owner_key": bob.public_key_hex,
        "owner": bob.fingerprint,
        "missing": "stolen",
        "claim_open": False,
    }
    assert "buyer-1" not in str(bundle)  # no name anywhere: the sale commits to it


def test_an_edited_owner_summary_is_found(
    resold: tuple[World, OwnerKey, OwnerKey], tmp_path: Path
) -> None:
    bundle = prove(resold[0], tmp_path)
    edited = copy.deepcopy(bundle)
    edited["events"][9]["summary"]["signer"] = resold[1].fingerprint
    with pytest.raises(BundleError) as failed:
        verify_bundle(edited, SIGNER.verifier())
    assert (failed.value.step, failed.value.version) == ("summary_mismatch", 10)


def test_a_statement_by_a_key_the_history_never_made_owner_fails(tmp_path: Path) -> None:
    """A lying platform anchors a transfer the rules would refuse: signed by a key that
    never claimed the item. Its signature is valid; the chain is not."""
    world = make_world(tmp_path)
    sold_and_claimed(world)
    mallory = OwnerKey.generate()
    salt, digest = claim_commitment(new_claim_code())
    statement = new_statement(mallory, "transfer", ITEM, 8, claim_salt=salt, claim_digest=digest)
    item = world.ledger.get_item(ITEM)
    item.trigger_event(item.OwnerStated, statement=statement,
                       envelope=seal_statement(statement, mallory))  # fmt: skip
    world.ledger.save(item)
    with pytest.raises(BundleError) as failed:
        verify_bundle(prove(world, tmp_path), SIGNER.verifier())
    assert (failed.value.step, failed.value.version) == ("owner_chain", 9)
    assert mallory.fingerprint in failed.value.message


def test_an_anchored_forged_owner_signature_fails(tmp_path: Path) -> None:
    """A lying platform anchors a statement naming the owner's key with a signature the key
    never made."""
    world = make_world(tmp_path)
    alice, _ = sold_and_claimed(world)
    statement = new_statement(alice, "report_missing", ITEM, 8, reason="lost")
    body = open_envelope(seal_statement(statement, alice)).body
    forged = wrap(alice.public_key_hex, body, OwnerKey.generate().sign(body))
    item = world.ledger.get_item(ITEM)
    item.trigger_event(item.OwnerStated, statement=statement, envelope=forged)
    world.ledger.save(item)
    with pytest.raises(BundleError) as failed:
        verify_bundle(prove(world, tmp_path), SIGNER.verifier())
    assert (failed.value.step, failed.value.version) == ("owner_signature", 9)
