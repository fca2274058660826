"""The page's owner checks (verifier-owner.js) against the reference
(anchoring/verify_owner.py), in headless Chromium: bundles with owner-signed events (the
ownership chain, a key the history never made owner, a forged owner signature, an edited
summary), the ownership each ends with, and the owner-statement envelope vectors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from anchoring.verify import read_bundle, verify_bundle
from anchoring.verify_owner import current_owner, open_owner
from domain.privacy import claim_commitment, new_claim_code
from streams.envelope import open_envelope
from streams.errors import SerializationError
from streams.owner_envelope import new_statement, seal_statement, wrap
from streams.owner_keys import OwnerKey
from tests.anchoring.vectorkit import read
from tests.owners import ITEM, SIGNER, inject, prove, resold, sold_and_claimed
from tests.server.conftest import STATIC
from tests.server.parity import Case
from tests.server.test_parity import _compare
from tests.support import make_world

if TYPE_CHECKING:
    from playwright.sync_api import Page

VECTORS = Path(__file__).parents[1] / "streams" / "vectors" / "owner_statement"
BUNDLE_VECTORS = Path(__file__).parents[1] / "anchoring" / "vectors" / "owner"


@pytest.fixture
def offline_page(page: Page) -> Page:
    page.goto((STATIC / "verifier.html").as_uri())  # file://, no server at all
    page.wait_for_load_state("load")
    return page


def owner_bundles(tmp: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    world = make_world(tmp / "resold")
    alice, _ = resold(world)
    out["resold"] = prove(world, tmp / "resold")
    edited = copy.deepcopy(out["resold"])
    edited["events"][9]["summary"]["signer"] = alice.fingerprint
    out["edited-signer"] = edited
    later = copy.deepcopy(out["resold"])
    later["events"][8]["summary"]["after_version"] = 7
    out["edited-version"] = later

    world = make_world(tmp / "mallory")
    sold_and_claimed(world)
    mallory = OwnerKey.generate()
    salt, digest = claim_commitment(new_claim_code())
    statement = new_statement(mallory, "transfer", ITEM, 8, claim_salt=salt, claim_digest=digest)
    inject(world, statement, seal_statement(statement, mallory))
    out["not-the-owner"] = prove(world, tmp / "mallory")

    world = make_world(tmp / "forged")
    alice, _ = sold_and_claimed(world)
    statement = new_statement(alice, "report_missing", ITEM, 8, reason="lost")
    body = open_envelope(seal_statement(statement, alice)).body
    inject(world, statement, wrap(alice.public_key_hex, body, mallory.sign(body)))
    out["forged-signature"] = prove(world, tmp / "forged")

    world = make_world(tmp / "wrong-code")
    sold_and_claimed(world)
    thief = OwnerKey.generate()
    statement = new_statement(thief, "claim", ITEM, 8, claim_code="guessed")
    inject(world, statement, seal_statement(statement, thief))
    out["wrong-claim-code"] = prove(world, tmp / "wrong-code")
    return out


def test_owner_bundles_verify_alike(offline_page: Page, tmp_path: Path) -> None:
    key = SIGNER.verifier().to_text()
    bundles = owner_bundles(tmp_path)
    wants = {"resold": None, "edited-signer": "summary_mismatch",
             "edited-version": "summary_mismatch", "not-the-owner": "owner_chain",
             "forged-signature": "owner_signature", "wrong-claim-code": "owner_chain"}  # fmt: skip
    cases = [Case.of(name, bundle, key, want=wants[name]) for name, bundle in bundles.items()]
    _compare(offline_page, cases)

    # The ownership both verifiers say the resold history ends with.
    text = json.dumps(bundles["resold"])
    python = current_owner(verify_bundle(read_bundle(text), SIGNER.verifier()).summaries)
    page = offline_page.evaluate(
        """async ([text, key]) => {
          const o = await AssayVerifier.verifyText(text, key, "", {});
          return o.result.ownership;
        }""",
        [text, key],
    )
    assert page == python
    assert python["owner"] is not None and python["missing"] == "stolen"


def test_owner_bundle_vectors_verify_alike(offline_page: Page) -> None:
    """tests/anchoring/vectors/owner: the same step, and the same ownership at the end."""
    vectors = read(BUNDLE_VECTORS)
    cases = [Case.of(name, v["bundle"], v["platform_key"], want=v["want_err"])
             for name, v in vectors.items()]  # fmt: skip
    _compare(offline_page, cases)
    chain = vectors["owner-chain"]
    page = offline_page.evaluate(
        """async ([text, key]) => {
          const o = await AssayVerifier.verifyText(text, key, "", {});
          return o.result.ownership;
        }""",
        [json.dumps(chain["bundle"]), chain["platform_key"]],
    )
    assert page == chain["want_ownership"]


def test_owner_statement_vectors_read_alike(offline_page: Page) -> None:
    vectors = {p.stem: json.loads(p.read_text()) for p in sorted(VECTORS.glob("*.json"))}
    page = offline_page.evaluate(
        """async (vectors) => {
          const parts = globalThis.AssayVerifierParts;
          const out = {};
          for (const [name, v] of Object.entries(vectors)) {
            const raw = Uint8Array.from(v.match(/../g).map((h) => parseInt(h, 16)));
            try {
              const s = await parts.openOwnerStatement(raw);
              out[name] = {statement: s, fingerprint: await parts.ownerFingerprint(s.owner_key)};
            } catch (e) {
              if (!(e instanceof parts.OwnerEnvelopeError)) throw e;
              out[name] = {error: e.code};
            }
          }
          return out;
        }""",
        {name: v["envelope_hex"] for name, v in vectors.items()},
    )
    for name, vector in vectors.items():
        try:
            statement = open_owner(bytes.fromhex(vector["envelope_hex"]))
            python: dict[str, Any] = {
                "statement": statement.to_primitive(),
                "fingerprint": statement.fingerprint,
            }
        except SerializationError as e:
            python = {"error": e.code}
        assert page[name] == python, name
        want = vector["want_err"]
        assert python == ({"error": want} if want else {
            "statement": vector["want_statement"], "fingerprint": vector["want_fingerprint"]
        }), name  # fmt: skip


def test_the_page_loads_the_owner_checks() -> None:
    html = (STATIC / "verifier.html").read_text()
    assert html.index("verifier-owner.js") < html.index('src="verifier.js"')
