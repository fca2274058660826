"""Proof bundles with owner-signed events: the verifier checks each against the owner key
the item's own history establishes (a claim opens the sale's claim commitment; only the
claimed key signs what follows), and shows owners by fingerprint."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from anchoring.keyfiles import write_verifier_key
from anchoring.verify import BundleError, verify_bundle
from anchoring.verify_owner import current_owner
from assay.cli import main
from domain.privacy import claim_commitment, new_claim_code
from ledger.application import Report
from streams.envelope import open_envelope, seal
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from tests.owners import ITEM, SIGNER, inject, prove, resold, sold_and_claimed
from tests.support import World, make_world, story_events


@pytest.fixture
def resold_world(tmp_path: Path) -> tuple[World, OwnerKey, OwnerKey]:
    world = make_world(tmp_path)
    alice, bob = resold(world)
    return world, alice, bob


def test_a_bundle_proves_the_ownership_chain(
    resold_world: tuple[World, OwnerKey, OwnerKey], tmp_path: Path
) -> None:
    world, alice, bob = resold_world
    bundle = prove(world, tmp_path)
    verified = verify_bundle(bundle, SIGNER.verifier())
    assert verified.events == 11
    owners = [s for s in verified.summaries if s.get("owner_statement")]
    assert [s["kind"] for s in owners] == ["claim", "transfer", "claim", "report_missing"]
    assert [s["signer"] for s in owners] == [alice.fingerprint] * 2 + [bob.fingerprint] * 2
    claimed = owners[2]["occurred_at"]
    assert current_owner(verified.summaries) == {
        "owner_key": bob.public_key_hex,
        "owner": bob.fingerprint,
        "since": claimed,
        "missing": "stolen",
        "claim_open": False,
    }
    assert "buyer-1" not in str(bundle)  # no name anywhere: the sale commits to it


def test_an_edited_owner_summary_is_found(
    resold_world: tuple[World, OwnerKey, OwnerKey], tmp_path: Path
) -> None:
    bundle = prove(resold_world[0], tmp_path)
    edited = copy.deepcopy(bundle)
    edited["events"][9]["summary"]["signer"] = resold_world[1].fingerprint
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
    inject(world, statement, seal_statement(statement, mallory))
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
    inject(world, statement, forged)
    with pytest.raises(BundleError) as failed:
        verify_bundle(prove(world, tmp_path), SIGNER.verifier())
    assert (failed.value.step, failed.value.version) == ("owner_signature", 9)


def test_assay_verify_says_who_owns_the_item_by_fingerprint(
    resold_world: tuple[World, OwnerKey, OwnerKey],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, _, bob = resold_world
    bundle_file, key_file = tmp_path / "bundle.json", tmp_path / "platform.pub"
    bundle_file.write_text(json.dumps(prove(world, tmp_path)))
    write_verifier_key(key_file, SIGNER.verifier())
    assert main(["verify", str(bundle_file), "--key", str(key_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    owner = [line for line in lines if line.startswith("OWNER:")]
    assert owner == [f"OWNER: key {bob.fingerprint} since {owner[0].split(' since ')[1]}"]
    assert owner[0].endswith("; reported stolen by the owner")
    assert main(["verify", str(bundle_file), "--key", str(key_file), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["owner"]["owner"] == bob.fingerprint
    assert (printed["owner"]["missing"], printed["owner"]["claim_open"]) == ("stolen", False)


def test_assay_verify_prints_no_owner_for_a_history_without_owner_statements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    for event in story_events(ITEM, "TAG-plain"):
        (decision,) = world.ledger.process(
            [Report(event, seal(event, world.keys[event.party_id]))], None
        )
        assert decision.accepted, decision.refusal
    bundle_file, key_file = tmp_path / "bundle.json", tmp_path / "platform.pub"
    bundle_file.write_text(json.dumps(prove(world, tmp_path)))
    write_verifier_key(key_file, SIGNER.verifier())
    assert main(["verify", str(bundle_file), "--key", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "OWNER" not in out
    assert main(["verify", str(bundle_file), "--key", str(key_file), "--json"]) == 0
    assert "owner" not in json.loads(capsys.readouterr().out)
