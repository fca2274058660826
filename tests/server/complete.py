"""Version 2 bundles, absence bundles and `newer` objects of a store, as `anchoring.prove`
writes them at the store's current checkpoint (docs/proof-bundle.md §10), and running them
through the page's verifier and the reference."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anchoring.checkpoint import Checkpoint, Verifier, sign_checkpoint
from anchoring.errors import VerificationError
from anchoring.keyfiles import read_signer_key
from anchoring.prove import Prover
from anchoring.verify import read_bundle, verify_bundle
from assay import runtime
from tests.server.stores import ITEM, Store, build_store, event
from tests.support import story_events

if TYPE_CHECKING:
    from playwright.sync_api import Page

Bundle = dict[str, Any]


def _prover(store: Store, checkpoint_version: int = 1) -> Prover:
    """A prover at the store's checkpoint: as the anchor signed it (version 2 on version 2
    blocks), or as an anchor before checkpoint version 2 signed the same head (version 1),
    which version 2 bundles carry."""
    chain = runtime.open_chain(store.settings)
    text = store.settings.checkpoint_path.read_text()
    if checkpoint_version == 1:
        checkpoint = Checkpoint.parse_body(text[: text.index("\n\n") + 1])
        head = chain.headers()[checkpoint.size - 1]
        signer = read_signer_key(store.settings.platform_key_path)
        text = sign_checkpoint(
            Checkpoint(checkpoint.origin, checkpoint.size, head.block_hash()), signer
        )
    return Prover(store.world.ledger, chain, text)


def v2_bundle(store: Store, item_id: str | None = None) -> Bundle:
    """The item's version 2 bundle (the store must seal version 2 headers)."""
    bundle = _prover(store).prove(item_id or store.item_id, 2)
    return bundle


def v3_bundle(store: Store, item_id: str | None = None) -> Bundle:
    """The item's version 3 bundle, at the anchor's own (version 2) checkpoint."""
    return _prover(store, 2).prove(item_id or store.item_id, 3)


def absence_bundle(store: Store, item_id: str) -> Bundle:
    """The absence bundle of an id the ledger never recorded."""
    return _prover(store).prove_absence(item_id)


def newer_of(store: Store, item_id: str, height: int) -> Bundle:
    """The `newer` object (§10.4) of a bundle whose head is block ``height``."""
    return _prover(store).newer(item_id, height)


@dataclass(frozen=True)
class Chains:
    """One store seen at three checkpoints: N, then M (another item moved), then M2 (the
    bundle's item moved too)."""

    key: str
    at_n: Bundle  # ITEM's version 2 bundle at N
    absent_at_n: Bundle  # an unknown id's absence bundle at N
    newer_same: Bundle  # N again: the same head
    newer_unchanged: Bundle  # M: ITEM's entry unchanged
    newer_changed: Bundle  # M2: ITEM has a newer event
    at_m2: Bundle  # ITEM's version 2 bundle at M2
    at_n_v3: Bundle  # ITEM's version 3 bundle at N, under the anchor's own checkpoint


def build_chains(data_dir: Path, unknown: str) -> Chains:
    store = build_store(data_dir, 2)
    at_n = v2_bundle(store)
    at_n_v3 = v3_bundle(store)
    absent = absence_bundle(store, unknown)
    n = at_n["head"]["height"]
    same = newer_of(store, ITEM, n)
    store.record(*story_events("urn:item:third", "TAG-3")[:2])
    store.anchor()
    unchanged = newer_of(store, ITEM, n)
    store.record(event(11, "observing", "ginza"))
    store.anchor()
    changed = newer_of(store, ITEM, n)
    return Chains(store.key_text, at_n, absent, same, unchanged, changed, v2_bundle(store), at_n_v3)


@dataclass(frozen=True)
class Case:
    name: str
    bundle: Any
    key: str
    want: str | None = None  # the step, None: verified
    absent: bool = False
    completeness: str | None = None  # when verified
    options: dict[str, Any] = field(default_factory=dict)  # maxAgeSeconds, now (ms)
    size: int | None = None  # the checkpoint_size a verified result reports


_RUN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    const o = await AssayVerifier.verifyText(c.text, c.key, "", c.options);
    const r = o.result || {};
    out.push({ok: o.ok, step: o.step, message: o.message, absent: r.absent,
              completeness: r.completeness, bundle_version: r.bundle_version,
              checkpoint_time: r.checkpoint_time, checkpoint_size: r.checkpoint_size});
  }
  return out;
}"""


def run_in_page(page: Page, cases: list[Case]) -> list[dict[str, Any]]:
    payload = [
        {"text": json.dumps(c.bundle, ensure_ascii=False), "key": c.key, "options": c.options}
        for c in cases
    ]
    results: list[dict[str, Any]] = page.evaluate(_RUN, payload)
    return results


def reference_step(case: Case) -> str | None:
    """What anchoring/verify.py decides (the same maximum age and time)."""
    now = case.options.get("now")
    try:
        verify_bundle(
            read_bundle(json.dumps(case.bundle, ensure_ascii=False)),
            Verifier.from_text(case.key),
            max_age=case.options.get("maxAgeSeconds"),
            now=None if now is None else datetime.fromtimestamp(now / 1000, UTC),
        )
    except VerificationError as e:
        return e.step
    return None
