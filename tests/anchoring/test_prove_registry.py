"""The prover and the registry switch (docs/proof-bundle.md §12.3): a head before the switch
gives version 3 (version 4 refused), a head after it version 4 with every signing device
and its party proven, and the verifier reports the parties' names as the ledger holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from anchoring.chain import Chain
from anchoring.checkpoint import Signer
from anchoring.prove import ProveError, Prover
from anchoring.sealer import SealPolicy
from anchoring.verify import verify_bundle
from ledger.config import store_env
from tests.anchoring.stores import new_anchor, record_items
from tests.support import make_world

ORIGIN = "assay.test/prove-registry"
POLICY = SealPolicy(max_events=5, max_seconds=60)
SIGNER = Signer.from_seed(ORIGIN, bytes(32))


def test_version_5_from_the_switch_on(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    chain = Chain(store_env("", tmp_path / "chain.sqlite"))
    before = new_anchor(world.ledger, chain, SIGNER, tmp_path, origin=ORIGIN,
                        policy=POLICY)  # fmt: skip
    record_items(world, 0, 1)
    before.catch_up()
    old = Prover(world.ledger, chain, (tmp_path / "checkpoint").read_text())
    assert old.prove("urn:item:0")["version"] == 3
    with pytest.raises(ProveError, match="before the chain's registry switch"):
        old.prove("urn:item:0", 4)

    after = new_anchor(world.ledger, chain, SIGNER, tmp_path, origin=ORIGIN,
                       policy=POLICY, registry=True)  # fmt: skip
    record_items(world, 1, 1)
    after.catch_up()
    prover = Prover(world.ledger, chain, (tmp_path / "checkpoint").read_text())
    bundle = prover.prove("urn:item:0")  # sealed before the switch, proven after it
    assert bundle["version"] == 5  # version 4 with the map proofs in base64url
    signers = set(bundle["devices"])
    assert set(bundle["registry"]["devices"]) == signers
    assert {name.split("/")[0] for name in signers} <= set(bundle["registry"]["parties"])
    result = verify_bundle(bundle, SIGNER.verifier())
    assert result.bundle_version == 5 and result.parties is not None
    hex_spelt = verify_bundle(prover.prove("urn:item:0", 4), SIGNER.verifier())
    assert (hex_spelt.bundle_version, hex_spelt.parties) == (4, result.parties)  # on request
    for party_id, party in result.parties.items():
        registered = world.ledger.get_party(party_id)
        assert party == {"name": registered.name, "role": registered.role.value, "proven": True}
    assert prover.prove("urn:item:0", 3)["version"] == 3  # still on request
